package packet

import (
	"bytes"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// gopacketIP is DecodeIP by gopacket's decoders alone.
func gopacketIP(b []byte) Decoded {
	if len(b) > 0 && b[0]>>4 == 4 {
		return decodeIPv4(b)
	}
	if len(b) > 0 && b[0]>>4 == 6 {
		return decodeIPv6(b)
	}
	return Decoded{}
}

// sameDecoded tells whether the fast decoder's d agrees with gopacket's g.
func sameDecoded(d, g Decoded) bool {
	return d.Family == g.Family && d.Proto == g.Proto && d.Src == g.Src && d.Dst == g.Dst && d.TCP == g.TCP &&
		d.PayloadLen == g.PayloadLen && bytes.Equal(d.Payload, g.Payload) && d.Complete == g.Complete
}

func decodeSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, fam := range [][2]string{{"10.1.0.3", "10.1.0.2"}, {"fd00::3", "fd00::2"}} {
		for _, payload := range []string{"", "x", "hello, world\n"} {
			seeds = append(seeds,
				ipPacket(t, fam[0], fam[1], &layers.TCP{SrcPort: 9999, DstPort: 43122, Seq: 7, Ack: 9, SYN: true, ACK: true, Window: 500}, payload),
				ipPacket(t, fam[0], fam[1], &layers.UDP{SrcPort: 7, DstPort: 40000}, payload))
		}
	}
	return seeds
}

// TestFastDecodeAgrees: on every TCP and UDP packet, whole or cut at any
// length, the allocation-free decoder says what gopacket's does, or leaves
// the packet to it.
func TestFastDecodeAgrees(t *testing.T) {
	t.Parallel()
	for _, p := range decodeSeeds(t) {
		for cut := 0; cut <= len(p); cut++ {
			b := p[:cut]
			d, ok := decodeTransport(b)
			if !ok {
				continue
			}
			if g := gopacketIP(b); !sameDecoded(d, g) {
				t.Errorf("% x (cut at %d):\nfast     %+v\ngopacket %+v", p, cut, d, g)
			}
		}
		if _, ok := decodeTransport(p); !ok {
			t.Errorf("% x: the fast decoder left a whole TCP or UDP packet to gopacket", p)
		}
	}
}

func FuzzDecodeIP(f *testing.F) {
	for _, p := range decodeSeeds(f) {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, ok := decodeTransport(b)
		if ok && !sameDecoded(d, gopacketIP(b)) {
			t.Errorf("% x: fast %+v, gopacket %+v", b, d, gopacketIP(b))
		}
		_ = DecodeIP(b)
	})
}
