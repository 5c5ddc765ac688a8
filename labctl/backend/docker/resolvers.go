package docker

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"strings"
)

// Docker's embedded DNS (127.0.0.11 in each node) answers the lab's names
// itself and forwards every other name to the upstream servers of the
// engine's host: the nameservers of its resolv.conf that are not loopback
// (systemd-resolved's real file when /etc/resolv.conf names only its
// stub), else Google's public servers. It forwards from within the node's
// network namespace, so a sealed node must be let to send name queries
// there, or a lookup of a name outside the lab would get no answer at all
// and wait out the resolver's timeout instead of failing at once.

// defaultResolvers are the upstream servers Docker falls back on.
var defaultResolvers = []netip.Addr{
	netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("8.8.4.4"),
	netip.MustParseAddr("2001:4860:4860::8888"), netip.MustParseAddr("2001:4860:4860::8844"),
}

// hostResolvers reads the upstream servers of the engine's host, this
// machine; nil when its resolv.conf cannot be read.
func hostResolvers() []netip.Addr {
	conf, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	if stub := nameservers(conf); len(stub) == 1 && stub[0] == netip.MustParseAddr("127.0.0.53") {
		if real, err := os.ReadFile("/run/systemd/resolve/resolv.conf"); err == nil {
			conf = real
		}
	}
	return upstreams(conf)
}

// upstreams are the servers of a resolv.conf that Docker forwards to: its
// nameservers but loopback ones, or the defaults when none is left.
func upstreams(conf []byte) []netip.Addr {
	var ups []netip.Addr
	for _, a := range nameservers(conf) {
		if !a.IsLoopback() {
			ups = append(ups, a)
		}
	}
	if len(ups) == 0 {
		return defaultResolvers
	}
	return ups
}

// nameservers are the addresses of a resolv.conf's nameserver lines.
func nameservers(conf []byte) []netip.Addr {
	var as []netip.Addr
	sc := bufio.NewScanner(bytes.NewReader(conf))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil {
				as = append(as, a.WithZone(""))
			}
		}
	}
	return as
}
