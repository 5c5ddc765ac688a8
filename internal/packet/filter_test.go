package packet

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// ipPacket serialises a bare IP packet (no Ethernet header, as NFQUEUE
// hands one over) from src to dst carrying transport layer tl and payload.
func ipPacket(t testing.TB, src, dst string, tl interface {
	gopacket.SerializableLayer
	SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
}, payload string) []byte {
	t.Helper()
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	var ipl gopacket.SerializableLayer
	var nl gopacket.NetworkLayer
	proto := layers.IPProtocolUDP
	if _, ok := tl.(*layers.TCP); ok {
		proto = layers.IPProtocolTCP
	}
	if s.Is4() {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: s.AsSlice(), DstIP: d.AsSlice()}
		ipl, nl = ip, ip
	} else {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: s.AsSlice(), DstIP: d.AsSlice()}
		ipl, nl = ip, ip
	}
	if err := tl.SetNetworkLayerForChecksum(nl); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ipl, tl, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// withEthernet puts an Ethernet header before the IP packet pkt.
func withEthernet(pkt []byte) []byte {
	hdr := []byte{2, 0, 0, 0, 0, 0xb, 2, 0, 0, 0, 0, 0xa, 0x08, 0x00}
	if pkt[0]>>4 == 6 {
		hdr[12], hdr[13] = 0x86, 0xdd
	}
	return append(hdr, pkt...)
}

func TestFilterFlagsAndData(t *testing.T) {
	t.Parallel()
	tcp := func(f TCPFlags) *layers.TCP {
		return &layers.TCP{SrcPort: 9999, DstPort: 43122, Window: 64240,
			FIN: f&FIN != 0, SYN: f&SYN != 0, RST: f&RST != 0, PSH: f&PSH != 0, ACK: f&ACK != 0}
	}
	udp := func() *layers.UDP { return &layers.UDP{SrcPort: 7, DstPort: 40000} }
	type pkt struct {
		name string
		b    []byte
	}
	var pkts []pkt
	for _, fam := range []struct{ name, src, dst string }{{"v4", "10.1.0.3", "10.1.0.2"}, {"v6", "fd00::3", "fd00::2"}} {
		pkts = append(pkts,
			pkt{fam.name + " SYN", ipPacket(t, fam.src, fam.dst, tcp(SYN), "")},
			pkt{fam.name + " SYN-ACK", ipPacket(t, fam.src, fam.dst, tcp(SYN|ACK), "")},
			pkt{fam.name + " ACK", ipPacket(t, fam.src, fam.dst, tcp(ACK), "")},
			pkt{fam.name + " PSH-ACK data", ipPacket(t, fam.src, fam.dst, tcp(PSH|ACK), "hello\n")},
			pkt{fam.name + " FIN-ACK", ipPacket(t, fam.src, fam.dst, tcp(FIN|ACK), "")},
			pkt{fam.name + " RST", ipPacket(t, fam.src, fam.dst, tcp(RST), "")},
			pkt{fam.name + " UDP data", ipPacket(t, fam.src, fam.dst, udp(), "ping")},
			pkt{fam.name + " UDP empty", ipPacket(t, fam.src, fam.dst, udp(), "")},
		)
	}
	// want lists, per expression, the packets (by name without the family) it matches.
	cases := []struct {
		expr string
		want []string
	}{
		{"syn", []string{"SYN", "SYN-ACK"}},
		{"tcp and syn and ack", []string{"SYN-ACK"}},
		{"syn and not ack", []string{"SYN"}},
		{"ack", []string{"SYN-ACK", "ACK", "PSH-ACK data", "FIN-ACK"}},
		{"fin", []string{"FIN-ACK"}},
		{"rst", []string{"RST"}},
		{"psh", []string{"PSH-ACK data"}},
		{"data", []string{"PSH-ACK data", "UDP data"}},
		{"udp and data", []string{"UDP data"}},
		{"tcp and data", []string{"PSH-ACK data"}},
		{"udp and not data", []string{"UDP empty"}},
		{"src port 9999 and FIN", []string{"FIN-ACK"}},
		{"ack and not data and not syn and not fin", []string{"ACK"}},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			f, err := ParseFilter(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{}
			for _, w := range tc.want {
				want[w] = true
			}
			for _, p := range pkts {
				fam, name, _ := strings.Cut(p.name, " ")
				// The same answer for the bare IP packet (the delay line) and the frame (capture).
				for how, d := range map[string]Decoded{"ip": DecodeIP(p.b), "frame": Decode(withEthernet(p.b))} {
					if got := f.Match(&d); got != want[name] {
						t.Errorf("%q on %s %s (%s): got %v, want %v", tc.expr, fam, name, how, got, want[name])
					}
				}
			}
		})
	}
}

// TestDataCountsTheWire: a frame cut by the snap length after the TCP
// header still carries data by the IP header's length.
func TestDataCountsTheWire(t *testing.T) {
	t.Parallel()
	full := ipPacket(t, "10.1.0.3", "10.1.0.2", &layers.TCP{SrcPort: 1, DstPort: 2, ACK: true, PSH: true}, "0123456789")
	cut := full[:40] // IPv4 and TCP headers, no payload
	f, err := ParseFilter("data")
	if err != nil {
		t.Fatal(err)
	}
	if d := DecodeIP(cut); !f.Match(&d) {
		t.Errorf("data on a cut segment of 10 bytes: no match (PayloadLen %d)", d.PayloadLen)
	}
}

func TestDecodeIPNotIP(t *testing.T) {
	t.Parallel()
	for _, b := range [][]byte{nil, {0x00}, {0x45, 0, 0}, {0x60}} {
		if d := DecodeIP(b); d.Proto != ProtoOther || d.Family != 0 {
			t.Errorf("DecodeIP(%x) = %+v, want nothing", b, d)
		}
	}
}

func TestFilterUnknownWordListsFlags(t *testing.T) {
	t.Parallel()
	_, err := ParseFilter("tcp and synack")
	if err == nil || !strings.Contains(err.Error(), `column 9: unknown word "synack"`) || !strings.Contains(err.Error(), "syn, ack, fin, rst, psh or data") {
		t.Errorf("error %v: want the column and the list of words", err)
	}
}
