package isolate

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
)

// Args is f as the isolation helper's command line (after the program's
// name): the input subnets as arguments, as labctl has always given them,
// and the seal and the rest as flags, which an older labctl never gives.
// ParseArgs reads it back.
func (f Filter) Args() []string {
	var args []string
	if f.Input4 {
		args = append(args, "--ipv4")
	}
	if f.NoInput {
		args = append(args, "--no-input")
	}
	for _, a := range f.Gateways {
		args = append(args, "--gateway", a.String())
	}
	if s := f.Seal; s != nil {
		args = append(args, "--seal")
		for _, p := range s.Lab {
			args = append(args, "--lab", p.String())
		}
		for _, a := range s.DNS {
			args = append(args, "--dns", a.String())
		}
	}
	for _, p := range f.Input {
		args = append(args, p.String())
	}
	return args
}

// ParseArgs reads a node's filter from the helper's command line (see
// Args); its usage and errors go to out. clear says the command line was
// --clear: remove every filter.
func ParseArgs(args []string, out io.Writer) (f Filter, clear bool, err error) {
	fs := flag.NewFlagSet("isolate", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, `usage: isolate [--ipv4] [--no-input] [--gateway ADDR]... [--seal [--lab PREFIX]... [--dns ADDR]...] [PREFIX]...
       isolate --clear
       isolate --guard|--unguard BRIDGE...

In a node's network namespace: accept IPv6 from the IPv6 PREFIXes only (and
link-local, loopback, replies), and IPv4 from the IPv4 ones when there are
any or --ipv4 says so (and then from a --gateway only DNS answers); no input
filter with --no-input. With --seal, let the node send only to the --lab
subnets, never to a --gateway, and name queries (port 53) to the --dns
addresses; reject the rest. Without --seal the node's seal is removed.
In the host's namespace: --guard keeps the bridges apart from every other.
`)
		fs.PrintDefaults()
	}
	fs.BoolVar(&clear, "clear", false, "remove the node's filters")
	fs.BoolVar(&f.Input4, "ipv4", false, "filter IPv4 coming in even with no IPv4 prefix")
	fs.BoolVar(&f.NoInput, "no-input", false, "no input filter (the engine keeps its networks apart itself)")
	sealed := fs.Bool("seal", false, "let the node send only to the lab")
	var seal Seal
	fs.Func("lab", "a subnet of the lab (repeat)", list(&seal.Lab, netip.ParsePrefix, "a prefix such as 10.200.12.0/24 or fd5c:1ab:0:12::/64"))
	fs.Func("gateway", "a network's gateway address (repeat): never sent to when sealed; with --ipv4, only DNS answers from it", list(&f.Gateways, netip.ParseAddr, "an address such as 10.200.12.1"))
	fs.Func("dns", "an address the node may send name queries to, port 53 (repeat)", list(&seal.DNS, netip.ParseAddr, "an address such as 10.200.12.1"))
	if err := fs.Parse(args); err != nil {
		return f, false, err
	}
	switch {
	case clear && (fs.NFlag() > 1 || fs.NArg() > 0):
		return f, false, fmt.Errorf("--clear takes nothing else")
	case clear:
		return f, true, nil
	case !*sealed && (len(seal.Lab) > 0 || len(seal.DNS) > 0):
		return f, false, fmt.Errorf("--lab and --dns go with --seal")
	case *sealed:
		f.Seal = &seal
	}
	for _, a := range fs.Args() {
		p, err := netip.ParsePrefix(a)
		if err != nil || p.Addr().Is4In6() {
			return f, false, fmt.Errorf("%q: want a prefix such as fd5c:1ab:0:12::/64 or 10.200.12.0/24, or --clear", a)
		}
		f.Input = append(f.Input, p)
	}
	if f.NoInput && (len(f.Input) > 0 || f.Input4) {
		return f, false, fmt.Errorf("--no-input takes no prefixes and no --ipv4")
	}
	return f, false, nil
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
