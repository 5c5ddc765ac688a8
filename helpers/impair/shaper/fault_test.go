package shaper

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"socketlab/helpers/impair/shape"
)

// udpPacket is a bare IPv4 or IPv6 datagram from src to dst, as NFQUEUE
// hands one over.
func udpPacket(t testing.TB, src, dst string, payload string) []byte {
	t.Helper()
	s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
	udp := &layers.UDP{SrcPort: layers.UDPPort(s.Port()), DstPort: layers.UDPPort(d.Port())}
	return ipPacket(t, s.Addr(), d.Addr(), layers.IPProtocolUDP, udp, udp, payload)
}

// tcpPacket is a bare TCP segment with flags (SYN, ACK, FIN, PSH).
func tcpPacket(t testing.TB, src, dst string, syn, ack, fin bool, payload string) []byte {
	t.Helper()
	s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
	tcp := &layers.TCP{SrcPort: layers.TCPPort(s.Port()), DstPort: layers.TCPPort(d.Port()), SYN: syn, ACK: ack, FIN: fin, PSH: payload != "", Window: 64240}
	return ipPacket(t, s.Addr(), d.Addr(), layers.IPProtocolTCP, tcp, tcp, payload)
}

func ipPacket(t testing.TB, src, dst netip.Addr, proto layers.IPProtocol, tl gopacket.SerializableLayer,
	cs interface {
		SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
	}, payload string) []byte {
	t.Helper()
	var ipl gopacket.SerializableLayer
	if src.Is4() {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		_ = cs.SetNetworkLayerForChecksum(ip)
		ipl = ip
	} else {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		_ = cs.SetNetworkLayerForChecksum(ip)
		ipl = ip
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ipl, tl, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(buf.Bytes())
}

// faultLine is a running delay line with faults and no impairment.
func faultLine(t *testing.T, args ...string) (*delayLine, *recorder) {
	t.Helper()
	fs, rest, err := shape.ParseFaults(args)
	if err != nil || len(rest) > 0 {
		t.Fatalf("ParseFaults(%q) = %v, rest %q", args, err, rest)
	}
	rec := newRecorder()
	l := newDelayLine(shape.Settings{}, rec)
	l.AddFaults(fs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return l, rec
}

// verdicts is what the recorder did to packets 1..n: "a" accepted, "d"
// dropped, "m" accepted with a new mark, "c" accepted modified, "-" held.
func verdicts(rec *recorder, n int) string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	b := make([]byte, n)
	for i := range n {
		id := uint32(i + 1)
		_, acc := rec.at[id]
		_, marked := rec.marks[id]
		_, mod := rec.mod[id]
		switch {
		case rec.dropped[id]:
			b[i] = 'd'
		case marked:
			b[i] = 'm'
		case mod:
			b[i] = 'c'
		case acc:
			b[i] = 'a'
		default:
			b[i] = '-'
		}
	}
	return string(b)
}

func TestFaultWhich(t *testing.T) {
	for _, fam := range []struct{ name, src, dst string }{{"v4", "10.1.0.3:7", "10.1.0.2:40000"}, {"v6", "[fd00::3]:7", "[fd00::2]:40000"}} {
		data := udpPacket(t, fam.src, fam.dst, "ping")
		empty := udpPacket(t, fam.src, fam.dst, "")
		for _, tc := range []struct {
			args  []string
			want  string // verdicts of 10 datagrams with data
			fired uint64
		}{
			{[]string{"--drop"}, "daaaaaaaaa", 1},
			{[]string{"--drop", "--nth", "3"}, "aadaaaaaaa", 1},
			{[]string{"--drop", "--first", "2"}, "ddaaaaaaaa", 2},
			{[]string{"--drop", "--every", "3"}, "aadaadaada", 3},
			{[]string{"--drop", "--every", "3", "--count", "2"}, "aadaadaaaa", 2},
			{[]string{"--duplicate", "--nth", "2"}, "amaaaaaaaa", 1},
			{[]string{"--corrupt", "--nth", "4"}, "aaacaaaaaa", 1},
		} {
			t.Run(fam.name+" "+strings.Join(tc.args, " "), func(t *testing.T) {
				l, rec := faultLine(t, append([]string{"--match", "udp and data"}, tc.args...)...)
				// Empty datagrams in between: the filter does not match them, so they do not count.
				id := uint32(100)
				for i := 1; i <= 10; i++ {
					l.Add(uint32(i), data)
					id++
					l.Add(id, empty)
				}
				if got := verdicts(rec, 10); got != tc.want {
					t.Errorf("verdicts %s, want %s", got, tc.want)
				}
				for i := uint32(101); i <= id; i++ {
					if _, ok := rec.at[i]; !ok || rec.dropped[i] {
						t.Errorf("empty datagram %d: not accepted", i)
					}
				}
				st := l.Faults()[0]
				if st.Matched != 10 || st.Fired != tc.fired {
					t.Errorf("matched %d fired %d, want 10 and %d", st.Matched, st.Fired, tc.fired)
				}
			})
		}
	}
}

func TestFaultOrderAndDirection(t *testing.T) {
	synAck := tcpPacket(t, "[fd00::3]:9999", "[fd00::2]:43122", true, true, false, "")
	ack := tcpPacket(t, "[fd00::3]:9999", "[fd00::2]:43122", false, true, false, "")
	// Both rules match the SYN-ACK: the first picks it, the second never sees it.
	l, rec := faultLine(t,
		"--match", "tcp and syn and ack", "--drop",
		"--match", "tcp and ack", "--drop", "--nth", "2",
		"--match", "tcp", "--drop", "--ingress")
	l.AddMeta(1, synAck, meta{})
	l.AddMeta(2, ack, meta{})
	l.AddMeta(3, ack, meta{}) // the second ACK the second rule sees: dropped
	l.AddMeta(4, ack, meta{ingress: true})
	l.AddMeta(5, ack, meta{ingress: true}) // the ingress rule fired once already
	if got := verdicts(rec, 5); got != "dadda" {
		t.Errorf("verdicts %s, want dadda", got)
	}
	st := l.Faults()
	if st[0].Fired != 1 || st[1].Matched != 2 || st[1].Fired != 1 || st[2].Matched != 2 || st[2].Fired != 1 {
		t.Errorf("states %+v: want SYN-ACK rule fired once, ACK rule matched 2 fired 1, ingress rule matched 2 fired 1", st)
	}
	if !st[0].Done() || st[0].Summary != `drop nth 1 of "tcp and syn and ack"` || st[2].Summary != `drop nth 1 of "tcp" (ingress)` {
		t.Errorf("states %+v", st)
	}
}

func TestFaultDelayLetsTheNextOnePass(t *testing.T) {
	d := udpPacket(t, "10.1.0.3:7", "10.1.0.2:40000", "x")
	l, rec := faultLine(t, "--match", "udp", "--delay", "40ms", "--nth", "1")
	start := time.Now()
	l.Add(1, d)
	l.Add(2, d)
	if got := verdicts(rec, 2); got != "-a" {
		t.Fatalf("right after: verdicts %s, want -a (the first held)", got)
	}
	if st := l.Faults()[0]; st.Held != 1 {
		t.Errorf("held %d, want 1", st.Held)
	}
	waitFor(t, rec, 1)
	rec.mu.Lock()
	took := rec.at[1].Sub(start)
	order := slices.Clone(rec.order)
	rec.mu.Unlock()
	if took < 40*time.Millisecond || took > 500*time.Millisecond {
		t.Errorf("packet 1 released after %v, want 40ms", took)
	}
	if !slices.Equal(order, []uint32{2, 1}) {
		t.Errorf("release order %v, want [2 1]", order)
	}
	if st := l.Faults()[0]; st.Held != 0 {
		t.Errorf("held %d after release, want 0", st.Held)
	}
}

func TestFaultReorderWaitsForTheNextMatch(t *testing.T) {
	seg := func(p string) []byte { return tcpPacket(t, "10.1.0.2:43122", "10.1.0.3:7", false, true, false, p) }
	bare := tcpPacket(t, "10.1.0.2:43122", "10.1.0.3:7", false, true, false, "")
	l, rec := faultLine(t, "--match", "tcp and data", "--reorder", "--nth", "2")
	l.Add(1, seg("a"))
	l.Add(2, seg("b")) // held
	l.Add(3, bare)     // no data: does not release it
	if got := verdicts(rec, 3); got != "a-a" {
		t.Fatalf("verdicts %s, want a-a", got)
	}
	l.Add(4, seg("c")) // the next match: goes, then 2
	rec.mu.Lock()
	order := slices.Clone(rec.order)
	rec.mu.Unlock()
	if !slices.Equal(order, []uint32{1, 3, 4, 2}) {
		t.Errorf("release order %v, want [1 3 4 2]", order)
	}
}

func waitFor(t *testing.T, rec *recorder, id uint32) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		rec.mu.Lock()
		_, ok := rec.at[id]
		rec.mu.Unlock()
		if ok {
			return
		}
	}
	t.Fatalf("packet %d never released", id)
}

func TestFaultDuplicateKeepsTheMark(t *testing.T) {
	l, rec := faultLine(t, "--match", "udp", "--duplicate")
	l.AddMeta(1, udpPacket(t, "10.1.0.3:7", "10.1.0.2:1", "x"), meta{mark: 0x5})
	if got := rec.marks[1]; got != 0x5|faultDupMark {
		t.Errorf("mark %#x, want %#x", got, 0x5|faultDupMark)
	}
}
