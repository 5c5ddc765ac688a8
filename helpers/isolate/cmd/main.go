// Command isolate is the isolation helper (socketlab/isolate): run in a
// node's network namespace with NET_ADMIN, it installs the node's IPv6
// input filter and exits.
//
//	isolate fd5c:1ab:0:12::/64 fd5c:1ab:0:13::/64   # accept IPv6 from these only
//	isolate 10.200.12.0/24 fd5c:1ab:0:12::/64       # and IPv4 from these only
//	isolate --ipv4 fd5c:1ab:0:12::/64               # and no IPv4 (rootless Podman, IPv6-only network)
//	isolate --ipv4 --gateway 10.200.12.1 10.200.12.0/24  # from the gateway only DNS answers
//	isolate --clear
//
// Run in the engine host's network namespace instead, it keeps the lab's
// bridges apart from every other bridge (the forward guard; see package
// isolate):
//
//	isolate --guard br-0123456789ab br-ba9876543210
//	isolate --unguard br-0123456789ab
package main

import (
	"fmt"
	"net/netip"
	"os"

	"socketlab/helpers/isolate"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && (args[0] == "--guard" || args[0] == "--unguard") {
		do, done := isolate.Guard, "guarded"
		if args[0] == "--unguard" {
			do, done = isolate.Unguard, "unguarded"
		}
		if err := do(args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%s: %v\n", done, args[1:])
		return
	}
	if len(args) == 1 && args[0] == "--clear" {
		if err := isolate.Clear(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	both := len(args) > 0 && args[0] == "--ipv4" // filter IPv4 even with no IPv4 prefix
	if both {
		args = args[1:]
	}
	var gateways []netip.Addr
	for len(args) > 1 && args[0] == "--gateway" { // only DNS answers from it
		g, err := netip.ParseAddr(args[1])
		if err != nil {
			fmt.Fprintf(os.Stderr, "isolate: --gateway %q: want an address\n", args[1])
			os.Exit(2)
		}
		gateways, args = append(gateways, g), args[2:]
	}
	apply := func(allow []netip.Prefix) error { return isolate.Apply(allow) }
	if both {
		apply = func(allow []netip.Prefix) error { return isolate.ApplyBoth(allow, gateways) }
	}
	var allow []netip.Prefix
	for _, a := range args {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			fmt.Fprintf(os.Stderr, "isolate: %q: want an IPv6 prefix such as fd5c:1ab:0:12::/64 (or IPv4, 10.200.12.0/24, to filter IPv4 too), or --clear\n", a)
			os.Exit(2)
		}
		allow = append(allow, p)
	}
	if err := apply(allow); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("isolated: accepted from %v, IPv6 link-local and loopback only\n", allow)
}
