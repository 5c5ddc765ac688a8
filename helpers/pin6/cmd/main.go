// Command pin6 is the IPv6 pinning helper (socketlab/pin6): run in a node's
// network namespace with NET_ADMIN, it sets the node's IPv6 addresses and
// neighbours on overlay networks and exits.
//
//	pin6 --link 02:42:0a:c8:12:fe=fd5c:1ab:0:18::254/64 --peer fd5c:1ab:0:18::253=02:42:0a:c8:12:fd
package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"socketlab/helpers/pin6"
)

const usage = "usage: pin6 [--link MAC=ADDRESS/LEN]... [--peer ADDRESS=MAC]..."

func main() {
	var links []pin6.Link
	var peers []pin6.Peer
	args := os.Args[1:]
	for len(args) > 0 {
		if len(args) < 2 {
			fail(2, "pin6: %s needs a value\n%s", args[0], usage)
		}
		k, v, ok := strings.Cut(args[1], "=")
		switch args[0] {
		case "--link":
			mac, err1 := net.ParseMAC(k)
			addr, err2 := netip.ParsePrefix(v)
			if !ok || err1 != nil || err2 != nil || !addr.Addr().Is6() {
				fail(2, "pin6: --link %q: want MAC=IPV6/LEN, e.g. 02:42:0a:c8:12:fe=fd5c:1ab:0:18::254/64", args[1])
			}
			links = append(links, pin6.Link{MAC: mac, Addr: addr})
		case "--peer":
			addr, err1 := netip.ParseAddr(k)
			mac, err2 := net.ParseMAC(v)
			if !ok || err1 != nil || err2 != nil || !addr.Is6() {
				fail(2, "pin6: --peer %q: want IPV6=MAC, e.g. fd5c:1ab:0:18::253=02:42:0a:c8:12:fd", args[1])
			}
			peers = append(peers, pin6.Peer{Addr: addr, MAC: mac})
		default:
			fail(2, "pin6: %q is not known\n%s", args[0], usage)
		}
		args = args[2:]
	}
	if err := pin6.Apply(links, peers); err != nil {
		fail(1, "%v", err)
	}
	fmt.Printf("pinned: %d addresses, %d neighbours\n", len(links), len(peers))
}

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(code)
}
