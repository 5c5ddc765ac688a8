package tap

import (
	"net/netip"

	"socketlab/internal/packet"
	"socketlab/labctl/capture"
)

// The engine's own DNS. Docker answers a node's lookups at 127.0.0.11, on
// the node's loopback, out of the capture's sight; Podman's aardvark-dns
// answers at the network's gateway, so a step that names a node sends a
// query and gets an answer on the wire before its own packets. A step's
// wire checks judge the step's flows: DNS with an address that is no
// node's (the gateway) is the engine's, and left out of what they judge.
// The capture file keeps it.

// withoutEngineDNS drops from pkts the DNS packets (port 53) exchanged
// with an address that is none of the nodes' (names, see Names).
func withoutEngineDNS(pkts []capture.Packet, names map[netip.Addr]string) []capture.Packet {
	out := pkts[:0:0]
	for _, p := range pkts {
		d := packet.Decode(p.Data)
		if d.Proto == packet.ProtoUDP || d.Proto == packet.ProtoTCP {
			_, dstNode := names[d.Dst.Addr()]
			_, srcNode := names[d.Src.Addr()]
			if d.Dst.Port() == 53 && !dstNode || d.Src.Port() == 53 && !srcNode {
				continue
			}
		}
		out = append(out, p)
	}
	return out
}
