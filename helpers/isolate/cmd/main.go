// Command isolate is the isolation helper (socketlab/isolate): run in a
// node's network namespace with NET_ADMIN, it installs the node's IPv6
// input filter and exits.
//
//	isolate fd5c:1ab:0:12::/64 fd5c:1ab:0:13::/64   # accept IPv6 from these only
//	isolate --clear
package main

import (
	"fmt"
	"net/netip"
	"os"

	"socketlab/helpers/isolate"
)

func main() {
	args := os.Args[1:]
	if len(args) == 1 && args[0] == "--clear" {
		if err := isolate.Clear(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	var allow []netip.Prefix
	for _, a := range args {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			fmt.Fprintf(os.Stderr, "isolate: %q: want an IPv6 prefix such as fd5c:1ab:0:12::/64, or --clear\n", a)
			os.Exit(2)
		}
		allow = append(allow, p)
	}
	if err := isolate.Apply(allow); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("isolated: IPv6 accepted from %v, link-local and loopback only\n", allow)
}
