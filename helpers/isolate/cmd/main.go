// Command isolate is the isolation helper (socketlab/isolate): run in a
// node's network namespace with NET_ADMIN, it installs the node's IPv6
// input filter and, with --seal, the seal that lets the node send only to
// the lab, and exits.
//
//	isolate fd5c:1ab:0:12::/64 fd5c:1ab:0:13::/64   # accept IPv6 from these only; no seal
//	isolate --seal --lab 10.200.12.0/24 --lab fd5c:1ab:0:12::/64 \
//	        --gateway 10.200.12.1 --gateway fd5c:1ab:0:12::1 fd5c:1ab:0:12::/64
//	isolate --clear                                  # no filter at all
//
// Run in the engine host's network namespace instead, it keeps the lab's
// bridges apart from every other bridge (the forward guard; see package
// isolate):
//
//	isolate --guard br-0123456789ab br-ba9876543210
//	isolate --unguard br-0123456789ab
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"

	"socketlab/helpers/isolate"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) > 0 && (args[0] == "--guard" || args[0] == "--unguard") {
		do, done := isolate.Guard, "guarded"
		if args[0] == "--unguard" {
			do, done = isolate.Unguard, "unguarded"
		}
		if err := do(args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("%s: %v\n", done, args[1:])
		return 0
	}
	fs := flag.NewFlagSet("isolate", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: isolate [--seal [--lab PREFIX]... [--gateway ADDR]... [--dns ADDR]...] [IPV6-PREFIX]...
       isolate --clear
       isolate --guard|--unguard BRIDGE...

In a node's network namespace: accept IPv6 from the IPV6-PREFIXes only (and
link-local, loopback); with --seal, let the node send only to the --lab
subnets, never to a --gateway (but name service to a --dns address), and
reject the rest. Without --seal the node's seal is removed.
`)
		fs.PrintDefaults()
	}
	clear := fs.Bool("clear", false, "remove the node's filters")
	sealed := fs.Bool("seal", false, "let the node send only to the lab")
	var seal isolate.Seal
	fs.Func("lab", "a subnet of the lab (repeat)", list(&seal.Lab, netip.ParsePrefix, "a prefix such as 10.200.12.0/24 or fd5c:1ab:0:12::/64"))
	fs.Func("gateway", "a network's gateway address (repeat)", list(&seal.Gateways, netip.ParseAddr, "an address such as 10.200.12.1"))
	fs.Func("dns", "a gateway address that answers names on port 53 (repeat)", list(&seal.DNS, netip.ParseAddr, "an address such as 10.200.12.1"))
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *clear {
		if fs.NFlag() > 1 || fs.NArg() > 0 {
			fmt.Fprintln(os.Stderr, "isolate: --clear takes nothing else")
			return 2
		}
		if err := isolate.Clear(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	if !*sealed && fs.NFlag() > 0 {
		fmt.Fprintln(os.Stderr, "isolate: --lab, --gateway and --dns go with --seal")
		return 2
	}
	var allow []netip.Prefix
	for _, a := range fs.Args() {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			fmt.Fprintf(os.Stderr, "isolate: %q: want an IPv6 prefix such as fd5c:1ab:0:12::/64, or --clear\n", a)
			return 2
		}
		allow = append(allow, p)
	}
	if err := isolate.Apply(allow); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s := &seal
	if !*sealed {
		s = nil
	}
	if err := isolate.ApplySeal(s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("isolated: IPv6 accepted from %v, link-local and loopback only\n", allow)
	if s != nil {
		fmt.Printf("sealed: the node sends only to %v, never to %v\n", seal.Lab, seal.Gateways)
	}
	return 0
}

// list appends each flag value, parsed, to to; want says what a value
// looks like.
func list[T any](to *[]T, parse func(string) (T, error), want string) func(string) error {
	return func(v string) error {
		x, err := parse(v)
		if err != nil {
			return fmt.Errorf("want %s", want)
		}
		*to = append(*to, x)
		return nil
	}
}
