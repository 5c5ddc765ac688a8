package capture

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"socketlab/internal/packet"
	"socketlab/services/lookup/frame"
)

func TestFormatterLines(t *testing.T) {
	t.Parallel()
	c, s := "10.1.0.2:43122", "10.1.0.3:9999"
	ex := welcomeExchange(t, c, s)
	var f Formatter
	var got []string
	for _, p := range ex {
		got = append(got, f.Line(p))
	}
	want := []string{
		"09:00:00.000000 client:front 10.1.0.2:43122 → 10.1.0.3:9999 TCP [SYN] seq=0 win=64240 len=0 (",
		"09:00:00.001000 client:front 10.1.0.3:9999 → 10.1.0.2:43122 TCP [SYN,ACK] seq=0 ack=1 win=64240 len=0 (",
		"09:00:00.002000 client:front 10.1.0.2:43122 → 10.1.0.3:9999 TCP [ACK] seq=1 ack=1 win=64240 len=0 (",
		`09:00:00.003000 client:front 10.1.0.3:9999 → 10.1.0.2:43122 TCP [PSH,ACK] seq=1 ack=1 win=64240 len=56 welcome "Welcome to socketlab! You are 10.1.0.2:43122 ove"… (110 bytes)`,
		"09:00:00.004000 client:front 10.1.0.3:9999 → 10.1.0.2:43122 TCP [FIN,ACK] seq=57 ack=1 ",
		"09:00:00.005000 client:front 10.1.0.2:43122 → 10.1.0.3:9999 TCP [FIN,ACK] seq=1 ack=58 ",
		"09:00:00.006000 client:front 10.1.0.3:9999 → 10.1.0.2:43122 TCP [ACK] seq=58 ack=2 ",
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("line %d:\n got %s\nwant %s...", i, got[i], want[i])
		}
	}
	if !strings.HasSuffix(got[0], fmt.Sprintf("(%d bytes)", len(ex[0].Data))) {
		t.Errorf("line 0 does not end with the frame length: %s", got[0])
	}
}

// TestFormatterScalesTheWindow: after a handshake in which both SYNs carry
// the window scale option, win is the window in bytes (raw << the sender's
// shift), as Wireshark shows it, not the raw field that looks as if the
// window had collapsed; without the option on both sides, or without the
// SYNs, the raw field.
func TestFormatterScalesTheWindow(t *testing.T) {
	t.Parallel()
	c, s := "10.1.0.2:43122", "10.1.0.3:7"
	type wseg struct {
		seg
		win    uint16
		wscale int // -1: no option
	}
	cases := []struct {
		name       string
		segs       []wseg
		wantWindow []string
	}{
		{"both scale", []wseg{
			{seg{c, s, packet.SYN, 100, 0, ""}, 64240, 7},
			{seg{s, c, packet.SYN | packet.ACK, 500, 101, ""}, 65160, 7},
			{seg{c, s, packet.ACK, 101, 501, ""}, 502, -1},
			{seg{s, c, packet.PSH | packet.ACK, 501, 101, "hi"}, 509, -1},
		}, []string{"win=64240", "win=65160", "win=64256", "win=65152"}},
		{"one side without the option", []wseg{
			{seg{c, s, packet.SYN, 100, 0, ""}, 64240, 7},
			{seg{s, c, packet.SYN | packet.ACK, 500, 101, ""}, 65160, -1},
			{seg{c, s, packet.ACK, 101, 501, ""}, 502, -1},
		}, []string{"win=64240", "win=65160", "win=502"}},
		{"no SYN seen", []wseg{
			{seg{c, s, packet.ACK, 101, 501, ""}, 502, -1},
		}, []string{"win=502"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var f Formatter
			for i, sg := range tc.segs {
				line := f.Line(pkt(i, DirOut, tcpFrameWin(t, sg.seg, sg.win, sg.wscale)))
				if !strings.Contains(line, " "+tc.wantWindow[i]+" ") {
					t.Errorf("segment %d: want %s in %s", i, tc.wantWindow[i], line)
				}
			}
		})
	}
}

func TestFormatterProtocols(t *testing.T) {
	t.Parallel()
	udp := udpFrame(t, "[fd00::2]:40000", "[fd00::3]:9", "hello")
	udp4 := udpFrame(t, "10.1.0.2:40000", "10.1.0.3:9", "ping")
	hdr := frame.Header{ByteOrder: "little", ContentType: "text/json", ContentEncoding: "utf-8"}
	msg, err := frame.Append(nil, frame.Message{Header: hdr, Content: []byte(`{"action": "search", "value": "ring"}`)})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		frame []byte
		want  []string
	}{
		{"udp6", udp, []string{"[fd00::2]:40000 → [fd00::3]:9 UDP len=5 \"hello\""}},
		{"icmp port unreachable", portUnreachable(t, "10.1.0.3", udp4), []string{"10.1.0.3 → 10.1.0.2 ICMP port unreachable (for UDP 10.1.0.2:40000 → 10.1.0.3:9)"}},
		{"icmp6 port unreachable", portUnreachable(t, "fd00::3", udp), []string{"fd00::3 → fd00::2 ICMPv6 port unreachable (for UDP [fd00::2]:40000 → [fd00::3]:9)"}},
		{"neighbour solicitation", neighbourSolicitation(t, "fe80::1", "fd00::3"), []string{"fe80::1 → ff02::1:ff00:3 ICMPv6 neighbour solicitation who has fd00::3?"}},
		{"arp", arpRequest(t, "10.1.0.2", "10.1.0.3"), []string{"ARP who has 10.1.0.3? tell 10.1.0.2 (60 bytes)"}},
		{"lookup frame", tcpFrame(t, seg{"10.1.0.2:5000", "10.1.0.3:65432", packet.PSH | packet.ACK, 1, 1, string(msg)}),
			[]string{`lookup header(`, `"content-length": 37} content 37 bytes "{\"action\": \"search\", \"value\": \"ring\"}"`}},
		{"lookup mid-message", tcpFrame(t, seg{"10.1.0.2:5000", "10.1.0.3:65432", packet.ACK, 1, 1, "abc\x00\x01"}), []string{`len=5 "abc\x00\x01"`}},
		{"binary payload", tcpFrame(t, seg{"10.1.0.2:5000", "10.1.0.3:7", packet.ACK, 1, 1, strings.Repeat("é", 30)}), []string{`len=60 "` + strings.Repeat("é", 24) + `"…`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var f Formatter
			line := f.Line(pkt(0, DirIn, tc.frame))
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("line %q\n does not contain %q", line, w)
				}
			}
		})
	}
}

func TestFilter(t *testing.T) {
	t.Parallel()
	tcp4 := packet.Decode(tcpFrame(t, seg{"10.1.0.2:43122", "10.1.0.3:9999", packet.SYN, 1, 0, ""}))
	udp6 := packet.Decode(udpFrame(t, "[fd00::2]:40000", "[fd00::3]:9", "x"))
	arp := packet.Decode(arpRequest(t, "10.1.0.2", "10.1.0.3"))
	ns := packet.Decode(neighbourSolicitation(t, "fe80::1", "fd00::3"))
	cases := []struct {
		expr                string
		tcp4, udp6, arp, ns bool
	}{
		{"tcp", true, false, false, false},
		{"tcp port 9999", true, false, false, false},
		{"port 9", false, true, false, false},
		{"src port 9", false, false, false, false},
		{"dst port 9 or arp", false, true, true, false},
		{"host 10.1.0.3", true, false, true, false},
		{"src host 10.1.0.3", false, false, false, false},
		{"net fd00::/64 and udp", false, true, false, false},
		{"ip6 and not udp", false, false, false, true},
		{"icmp6 || (ip && !udp)", true, false, false, true},
		{"not (tcp or udp)", false, false, true, true},
		{"TCP and dst port 9999", true, false, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			f, err := packet.ParseFilter(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			for name, c := range map[string]struct {
				d    packet.Decoded
				want bool
			}{"tcp4": {tcp4, tc.tcp4}, "udp6": {udp6, tc.udp6}, "arp": {arp, tc.arp}, "ns": {ns, tc.ns}} {
				if got := f.Match(&c.d); got != c.want {
					t.Errorf("%q on %s: got %v, want %v", tc.expr, name, got, c.want)
				}
			}
		})
	}
}

func TestFilterErrors(t *testing.T) {
	t.Parallel()
	cases := []struct{ expr, want string }{
		{"", `filter "": column 1: the filter is empty`},
		{"tcp port http", `filter "tcp port http": column 10: port needs a number from 0 to 65535, got "http"`},
		{"port 70000", `column 6: port needs a number`},
		{"host 10.1.0.300", `column 6: host needs an IPv4 or IPv6 address, got "10.1.0.300"`},
		{"10.1.0.3", `column 1: an address needs the word host before it: host 10.1.0.3`},
		{"tcp and", `column 8: the filter ends where a primitive`},
		{"(tcp or udp", `column 12: the parenthesis opened at column 1 is not closed`},
		{"tcp)", `column 4: unexpected ")"`},
		{"or tcp", `column 1: "or" needs a primitive before it`},
		{"src tcp", `column 5: "src" must be followed by host, net or port, not "tcp"`},
		{"tpc", `column 1: unknown word "tpc"`},
		{"net 10.1.0.0", `column 5: net needs a prefix`},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := packet.ParseFilter(tc.expr)
			var fe *packet.FilterError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseFilter(%q) = %v, want a *FilterError", tc.expr, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\n does not contain %q", err, tc.want)
			}
		})
	}
}

func TestAnalyzeWelcome(t *testing.T) {
	t.Parallel()
	w := Analyze(welcomeExchange(t, "10.1.0.2:43122", "10.1.0.3:9999"))
	if !w.Handshake || len(w.Conns) != 1 {
		t.Fatalf("handshake %v, %d connections; want true, 1", w.Handshake, len(w.Conns))
	}
	want := Close{Kind: packet.CloseFIN, By: packet.SideServer, ByNode: false, Both: true}
	if w.Close != want {
		t.Errorf("close = %+v (%s), want %+v", w.Close, w.Close, want)
	}
	if w.Retransmissions != 0 || w.Conns[0].ServerBytes != 56 || w.Conns[0].ClientBytes != 0 {
		t.Errorf("retransmissions %d, server bytes %d, client bytes %d; want 0, 56, 0", w.Retransmissions, w.Conns[0].ServerBytes, w.Conns[0].ClientBytes)
	}
	if fmt.Sprint(w.Families) != "[IPv4]" {
		t.Errorf("families %v, want [IPv4]", w.Families)
	}
	yes := true
	if m := (Expect{Handshake: &yes, Close: packet.CloseFIN, CloseBy: packet.SideServer, Family: 4, Retransmissions: &Count{"==", 0}}).Check(w); len(m) != 0 {
		t.Errorf("expectations that hold failed: %v", m)
	}
	// The README's example on the wrong step: an echo client half-closes
	// first, so "fin by server" fails, and the failure says why.
	if m := fmt.Sprint(Expect{Close: packet.CloseFIN, CloseBy: packet.SideClient}.Check(w)); m != "[wire.close: expected fin by client, got fin by server (both ways): the server sent the first FIN and the client's answered it (close: fin holds whoever begins)]" {
		t.Errorf("mismatch %s", m)
	}
	m := Expect{Close: packet.CloseRST, Family: 6, ICMP: "port-unreachable"}.Check(w)
	got := fmt.Sprint(m)
	for _, s := range []string{"wire.close: expected rst, got fin by server (both ways)", "wire.icmp: expected port-unreachable, got none", "wire.family: expected IPv6, got IPv4"} {
		if !strings.Contains(got, s) {
			t.Errorf("mismatches %s\n do not contain %q", got, s)
		}
	}
}

func TestAnalyzeCases(t *testing.T) {
	t.Parallel()
	c, s := "[fd00::2]:5000", "[fd00::3]:7"
	udp := udpFrame(t, "10.1.0.2:40000", "10.1.0.3:9", "x")
	cases := []struct {
		name  string
		pkts  []Packet
		check func(t *testing.T, w Wire)
	}{
		{"rst to a closed port", []Packet{
			pkt(0, DirOut, tcpFrame(t, seg{c, s, packet.SYN, 100, 0, ""})),
			pkt(1, DirIn, tcpFrame(t, seg{s, c, packet.RST | packet.ACK, 0, 101, ""})),
		}, func(t *testing.T, w Wire) {
			if w.Handshake || w.Close != (Close{Kind: packet.CloseRST, By: packet.SideServer}) || fmt.Sprint(w.Families) != "[IPv6]" {
				t.Errorf("got handshake %v close %+v families %v; want false, rst by server, [IPv6]", w.Handshake, w.Close, w.Families)
			}
			if m := fmt.Sprint((Expect{Close: packet.CloseFIN}).Check(w)); m != "[wire.close: expected fin, got rst by server]" {
				t.Errorf("mismatch %s", m)
			}
		}},
		{"retransmitted data", []Packet{
			pkt(0, DirOut, tcpFrame(t, seg{c, s, packet.SYN, 100, 0, ""})),
			pkt(1, DirIn, tcpFrame(t, seg{s, c, packet.SYN | packet.ACK, 900, 101, ""})),
			pkt(2, DirOut, tcpFrame(t, seg{c, s, packet.ACK, 101, 901, ""})),
			pkt(3, DirOut, tcpFrame(t, seg{c, s, packet.PSH | packet.ACK, 101, 901, "hello"})),
			pkt(4, DirOut, tcpFrame(t, seg{c, s, packet.PSH | packet.ACK, 101, 901, "hello"})),
			pkt(5, DirOut, tcpFrame(t, seg{c, s, packet.PSH | packet.ACK, 101, 901, "hello"})),
			pkt(6, DirIn, tcpFrame(t, seg{s, c, packet.ACK, 901, 106, ""})),
		}, func(t *testing.T, w Wire) {
			if !w.Handshake || w.Retransmissions != 2 || w.Close.Kind != packet.CloseNone {
				t.Errorf("got handshake %v retransmissions %d close %s; want true, 2, none", w.Handshake, w.Retransmissions, w.Close)
			}
			if m := (Expect{Retransmissions: &Count{">=", 1}}).Check(w); len(m) != 0 {
				t.Errorf(">= 1 failed: %v", m)
			}
			if m := fmt.Sprint((Expect{Retransmissions: &Count{"==", 0}}).Check(w)); m != "[wire.retransmissions: expected 0, got 2]" {
				t.Errorf("mismatch %s", m)
			}
		}},
		{"segments cut by the snaplen count whole", []Packet{
			pkt(0, DirOut, tcpFrame(t, seg{c, s, packet.SYN, 100, 0, ""})),
			pkt(1, DirIn, tcpFrame(t, seg{s, c, packet.SYN | packet.ACK, 900, 101, ""})),
			pkt(2, DirOut, tcpFrame(t, seg{c, s, packet.ACK, 101, 901, ""})),
			pkt(3, DirOut, tcpFrame(t, seg{c, s, packet.PSH | packet.ACK, 101, 901, strings.Repeat("x", 3000)})[:200]),
			pkt(4, DirOut, tcpFrame(t, seg{c, s, packet.PSH | packet.ACK, 3101, 901, strings.Repeat("y", 3000)})[:200]),
			pkt(5, DirOut, tcpFrame(t, seg{c, s, packet.PSH | packet.ACK, 3101, 901, strings.Repeat("y", 3000)})[:200]),
		}, func(t *testing.T, w Wire) {
			if len(w.Conns) != 1 || w.Conns[0].ClientBytes != 6000 || w.Retransmissions != 1 {
				t.Errorf("got %+v; want one connection, 6000 client bytes, 1 retransmission", w.Conns)
			}
		}},
		{"udp to a closed port", []Packet{
			pkt(0, DirOut, udp),
			pkt(1, DirIn, portUnreachable(t, "10.1.0.3", udp)),
		}, func(t *testing.T, w Wire) {
			if !w.PortUnreachable || w.Datagrams != (Datagrams{Sent: 1}) || len(w.Conns) != 0 {
				t.Errorf("got port unreachable %v datagrams %+v conns %d; want true, sent 1, 0", w.PortUnreachable, w.Datagrams, len(w.Conns))
			}
			if m := (Expect{ICMP: "port-unreachable", DatagramsSent: ptr(1), DatagramsReceived: ptr(0)}).Check(w); len(m) != 0 {
				t.Errorf("expectations that hold failed: %v", m)
			}
			if m := fmt.Sprint((Expect{DatagramsReceived: ptr(1)}).Check(w)); m != "[wire.datagrams: expected received 1, got sent 1, received 0]" {
				t.Errorf("mismatch %s", m)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.check(t, Analyze(tc.pkts))
		})
	}
}

func TestMergeNamesInterfacesAndOrders(t *testing.T) {
	t.Parallel()
	// Two helper streams, as the helper writes them: interface eth0 each.
	a := welcomeExchange(t, "10.1.0.2:43122", "10.1.0.3:9999")
	var streams []*bytes.Buffer
	for i, node := range []string{"client", "server"} {
		var buf bytes.Buffer
		w, err := NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		for j, p := range a {
			if j%2 != i { // each stream has every other packet, so the merge must interleave
				continue
			}
			p.Where = Where{Node: "eth0"}
			p.Where = Where{Node: node, Network: "eth0"}
			if err := w.WritePacket(p); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.WriteStats(Stats{Where: Where{node, "eth0"}, Received: 4, Dropped: uint64(i)}, t0); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		streams = append(streams, &buf)
	}
	var out bytes.Buffer
	var seen []Packet
	m, err := NewMerger(WithOutput(&out), WithPacketFunc(func(p Packet) { seen = append(seen, p) }))
	if err != nil {
		t.Fatal(err)
	}
	for i, node := range []string{"client", "server"} {
		// A merged-file stream names interfaces node:eth0; read them as the helper's would be.
		s, err := NewStream(streams[i], "", nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = node
		m.Add(s)
	}
	m.Annotate(t0.Add(2500*time.Microsecond), "step 1 end: sock welcome")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if m.Dropped() != 1 {
		t.Errorf("dropped %d, want 1 (from the statistics blocks)", m.Dropped())
	}
	pkts, stats, err := ReadAll(&out, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) != len(a)+1 || len(seen) != len(pkts) {
		t.Fatalf("merged %d packets, handed over %d; want %d", len(pkts), len(seen), len(a)+1)
	}
	for i := 1; i < len(pkts); i++ {
		if pkts[i].Time.Before(pkts[i-1].Time) {
			t.Errorf("packet %d at %v is before packet %d at %v", i, pkts[i].Time, i-1, pkts[i-1].Time)
		}
	}
	if !pkts[3].Marker || pkts[3].Comments[0] != "step 1 end: sock welcome" {
		t.Errorf("packet 3 = %+v, want the step marker", pkts[3])
	}
	if pkts[0].Where != (Where{"client", "eth0"}) || pkts[1].Where != (Where{"server", "eth0"}) || pkts[0].Dir != DirOut {
		t.Errorf("first packets at %v (%v) and %v, want client:eth0 (out) then server:eth0", pkts[0].Where, pkts[0].Dir, pkts[1].Where)
	}
	if len(stats) != 2 {
		t.Errorf("stats %+v, want two interfaces", stats)
	}
}

func TestStreamMapsNetworks(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	// The helper's interfaces have kernel names; here "eth1" through Where as a stand-in.
	p := welcomeExchange(t, "10.1.0.2:43122", "10.1.0.3:9999")[0]
	p.Where = Where{Node: "x", Network: "y"}
	if err := w.WritePacket(p); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	pkts, _, err := ReadAll(&buf, "alice", map[string]string{"x:y": "front"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) != 1 || pkts[0].Where != (Where{"alice", "front"}) {
		t.Fatalf("got %+v, want one packet at alice:front", pkts)
	}
}

func TestMergeCount(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range welcomeExchange(t, "10.1.0.2:43122", "10.1.0.3:9999") {
		p.Where = Where{Node: "client", Network: "lab"}
		if err := w.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	full := make(chan struct{})
	var out bytes.Buffer
	m, err := NewMerger(WithOutput(&out), WithCount(3, func() { close(full) }))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(&buf, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Add(s)
	m.Annotate(t0, "step 1 start")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-full:
	case <-time.After(5 * time.Second):
		t.Fatal("the count was reached and full was not called")
	}
	pkts, _, err := ReadAll(&out, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, p := range pkts {
		if !p.Marker {
			n++
		}
	}
	if n != 3 || len(pkts) != 4 {
		t.Errorf("wrote %d packets and %d markers, want 3 and 1", n, len(pkts)-n)
	}
}

func ptr[T any](v T) *T { return &v }

// A helper writes a statistics block each time the kernel dropped more:
// the merger keeps when (a gap from the block before to this one), and
// writes the blocks into the merged file.
func TestMergeGaps(t *testing.T) {
	t.Parallel()
	a := welcomeExchange(t, "10.1.0.2:43122", "10.1.0.3:9999")
	var buf bytes.Buffer
	w, err := NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	where := Where{"client", "eth0"}
	for i, p := range a {
		p.Where = where
		if err := w.WritePacket(p); err != nil {
			t.Fatal(err)
		}
		switch i {
		case 1: // no drops yet
			err = w.WriteStats(Stats{Where: where, Received: 2}, p.Time)
		case 4: // 3 dropped since the block after packet 1
			err = w.WriteStats(Stats{Where: where, Received: 8, Dropped: 3}, p.Time)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteStats(Stats{Where: where, Received: 9, Dropped: 3}, a[len(a)-1].Time); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	m, err := NewMerger(WithOutput(&out), WithWindow(0))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(&buf, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Add(s)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	gaps := m.Gaps()
	want := Gap{Where: where, From: a[1].Time, To: a[4].Time, Dropped: 3}
	if len(gaps) != 1 || gaps[0] != want {
		t.Fatalf("gaps %+v, want %+v", gaps, want)
	}
	if !gaps[0].Overlaps(a[2].Time, a[3].Time) || gaps[0].Overlaps(a[5].Time, a[6].Time) {
		t.Errorf("gap %+v: overlaps packets 2 to 3 and not 5 to 6?", gaps[0])
	}
	// The merged file keeps them: a second reader finds the same gap.
	r, err := NewStream(&out, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var again []Gap
	r.onStats = func(_ Stats, g *Gap) {
		if g != nil {
			again = append(again, *g)
		}
	}
	for {
		if _, err := r.Next(); err != nil {
			break
		}
	}
	if len(again) != 1 || again[0].Dropped != 3 || !again[0].To.Equal(a[4].Time) {
		t.Errorf("gaps read back from the merged file: %+v", again)
	}
}
