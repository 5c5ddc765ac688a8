package ladder

import (
	"socketlab/internal/packet"
	"socketlab/labctl/capture"
)

// FromCapture is a packet of labctl's capture (a live session, a test
// step's packets) as a Frame: seen at node:network, in its direction.
func FromCapture(p capture.Packet) Frame {
	f := Frame{Time: p.Time, Where: p.Where.String(), Link: packet.LinkEthernet, Data: p.Data}
	switch p.Dir {
	case capture.DirIn:
		f.Dir = DirIn
	case capture.DirOut:
		f.Dir = DirOut
	}
	return f
}

// Packets is the ladder of pkts, packets of labctl's capture in time order
// (markers are skipped), with the capture's drops as gaps.
func Packets(pkts []capture.Packet, gaps []Gap, opt Options) *Ladder {
	b := NewBuilder(opt)
	for _, g := range gaps {
		b.AddGap(g)
	}
	for _, p := range pkts {
		if !p.Marker {
			b.Add(FromCapture(p))
		}
	}
	return b.Finish()
}

// Formats are the outputs labctl ladder writes.
var Formats = []string{"text", "svg", "html", "json"}
