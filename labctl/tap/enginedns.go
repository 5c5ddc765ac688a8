package tap

import (
	"net/netip"

	"socketlab/internal/packet"
	"socketlab/labctl/capture"
	"socketlab/labctl/lab"
)

// The engine's own DNS. Docker answers a node's lookups at 127.0.0.11, on
// the node's loopback, out of the capture's sight; Podman's aardvark-dns
// answers at the network's gateway, so a step that names a node sends a
// query and gets an answer on the wire before its own packets. A step's
// wire checks judge the step's flows: DNS with an address that is no
// node's (the gateway) is the engine's, and left out of what they judge.
// The capture file keeps it.

// nodeAddrs are the addresses of the lab's nodes in st.
func nodeAddrs(st lab.Status) map[netip.Addr]bool {
	m := map[netip.Addr]bool{}
	for _, n := range st.Nodes {
		for _, a := range n.Addresses {
			for _, s := range []string{a.IPv4, a.IPv6} {
				if addr, err := netip.ParseAddr(s); err == nil {
					m[addr] = true
				}
			}
		}
	}
	return m
}

// withoutEngineDNS drops from pkts the DNS packets (port 53) exchanged
// with an address that is none of nodes'.
func withoutEngineDNS(pkts []capture.Packet, nodes map[netip.Addr]bool) []capture.Packet {
	out := pkts[:0:0]
	for _, p := range pkts {
		d := packet.Decode(p.Data)
		if d.Proto == packet.ProtoUDP || d.Proto == packet.ProtoTCP {
			if d.Dst.Port() == 53 && !nodes[d.Dst.Addr()] || d.Src.Port() == 53 && !nodes[d.Src.Addr()] {
				continue
			}
		}
		out = append(out, p)
	}
	return out
}
