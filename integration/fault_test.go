package integration

import (
	"context"
	"encoding/binary"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"socketlab/helpers/impair/shape"
	"socketlab/internal/images"
	"socketlab/internal/labtest"
	"socketlab/labctl/lab"
)

// Faults aimed at single packets, judged on the wire: capture on both ends
// of the link (labctl capture -w, read with tshark), over IPv4 and IPv6.

// families are sock's family flags and tshark's display filter of each.
var faultFamilies = []struct{ flag, tshark, match string }{
	{"-4", "ip", "ip"},
	{"-6", "ipv6", "ip6"},
}

// addFault puts one fault (as labctl fault's flags) on node's links.
func addFault(t *testing.T, l *lab.Lab, node string, args ...string) {
	t.Helper()
	fs, rest, err := shape.ParseFaults(args)
	if err != nil || len(rest) > 0 {
		t.Fatalf("fault %q: %v (rest %q)", args, err, rest)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := l.AddFaults(ctx, node, "", fs); err != nil {
		t.Fatalf("fault %s %q: %v", node, args, err)
	}
}

// fired is how often each fault in force on node fired, in order.
func fired(t *testing.T, l *lab.Lab, node string) []uint64 {
	t.Helper()
	var out []uint64
	for _, fl := range status(t, l).Faults {
		if fl.Node != node {
			continue
		}
		if fl.Error != "" {
			t.Fatalf("status of the faults on %s: %s", node, fl.Error)
		}
		for _, s := range fl.Faults {
			out = append(out, s.Fired)
		}
	}
	return out
}

// captureBoth captures every node of l's pair (client and server) into one
// file until stop.
func captureBoth(t *testing.T, l *lab.Lab, server string) (file string, stop func()) {
	t.Helper()
	file = filepath.Join(t.TempDir(), "fault.pcapng")
	end := startCapture(t, "--lab", l.Name(), "-w", file, "client", server)
	return file, func() {
		time.Sleep(500 * time.Millisecond) // the helpers hand packets over within 60 ms
		if code, _, stderr := end(); code != 0 {
			t.Fatalf("labctl capture exited %d: %s", code, stderr)
		}
	}
}

// rows is tsharkFields split into fields.
func rows(t *testing.T, file, filter string, fields ...string) [][]string {
	t.Helper()
	var out [][]string
	for _, line := range tsharkFields(t, file, filter, fields...) {
		out = append(out, strings.Split(line, "\t"))
	}
	return out
}

func flag(s string) bool { return s == "1" || s == "True" }

// TestFaultThirdDatagram: drop --nth 3 of the datagrams echo sends: sock
// echo --udp --count 10 gets 9 of 10, the missing one the third; the next
// run, the fault spent, gets 10 of 10. On the client's wire the third
// request has no answer; on echo's, 20 requests came in and 19 answers left.
func TestFaultThirdDatagram(t *testing.T) {
	t.Parallel()
	needImpair(t)
	labtest.NeedImages(t, images.Capture)
	l := labtest.Up(t, pair("echo"))
	file, stop := captureBoth(t, l, "echo")
	for _, fam := range faultFamilies {
		addFault(t, l, "echo", "--match", "udp and data", "--drop", "--nth", "3")
		for run1, want := range []float64{1, 0} {
			p, code := run(t, l, "client", "sock", "echo", "--json", fam.flag, "--udp", "--count", "10", "--wait", "200ms", "echo", "ping")
			lost, _ := p.Details["lost"].(float64)
			if code != 0 && want == 0 || lost != want {
				t.Errorf("%s run %d: exit %d, lost %v, want %v (%s)", fam.flag, run1+1, code, lost, want, p.Error)
			}
		}
		if got := fired(t, l, "echo"); !slices.Equal(got, []uint64{1}) {
			t.Errorf("%s: status says the fault fired %v, want [1]", fam.flag, got)
		}
		if _, err := l.ClearFaults(context.Background(), "echo", ""); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	for _, fam := range faultFamilies {
		// Q: a request the client sent, R: an answer it got.
		var client, atEcho strings.Builder
		for _, r := range rows(t, file, fam.tshark+" and udp.port == 7 and udp.length > 8", "frame.interface_name", "udp.srcport") {
			c := "Q"
			if r[1] == "7" {
				c = "R"
			}
			if r[0] == "client:net" {
				client.WriteString(c)
			} else {
				atEcho.WriteString(c)
			}
		}
		want := "QRQRQ" + strings.Repeat("QR", 7) + strings.Repeat("QR", 10)
		if client.String() != want {
			t.Errorf("%s on the client's wire: %s, want %s (the third request unanswered)", fam.flag, client.String(), want)
		}
		if got := atEcho.String(); strings.Count(got, "Q") != 20 || strings.Count(got, "R") != 19 {
			t.Errorf("%s on echo's wire: %s, want 20 requests in and 19 answers out", fam.flag, got)
		}
	}
}

// TestFaultLostSYNACK: drop the first SYN-ACK welcome sends: the
// connection still succeeds, after at least a second, with the client's
// SYN sent twice on the wire; the next connection takes milliseconds.
func TestFaultLostSYNACK(t *testing.T) {
	t.Parallel()
	needImpair(t)
	labtest.NeedImages(t, "welcome", images.Capture)
	l := labtest.Up(t, pair("welcome"))
	file, stop := captureBoth(t, l, "welcome")
	ports := map[string][2]string{}
	for _, fam := range faultFamilies {
		addFault(t, l, "welcome", "--match", "tcp and syn and ack", "--drop")
		var got [2]string
		for i, slow := range []bool{true, false} {
			p, code := run(t, l, "client", "sock", "welcome", "--json", fam.flag, "welcome")
			if code != 0 || !p.OK {
				t.Fatalf("%s connection %d: exit %d: %s", fam.flag, i+1, code, p.Error)
			}
			total := p.Timings.Total
			if slow && total < 1000 || !slow && total > 500 {
				t.Errorf("%s connection %d took %.0f ms; want >= 1000 with the SYN-ACK lost, < 500 after", fam.flag, i+1, total)
			}
			_, port, _ := net.SplitHostPort(p.Local)
			got[i] = port
		}
		ports[fam.flag] = got
	}
	stop()
	for _, fam := range faultFamilies {
		for i, want := range []int{2, 1} {
			port := ports[fam.flag][i]
			syns := rows(t, file, fam.tshark+" and tcp.srcport == "+port+" and tcp.flags.syn == 1", "frame.interface_name", "frame.time_relative")
			var atClient []float64
			for _, r := range syns {
				if r[0] == "client:net" {
					ts, _ := strconv.ParseFloat(r[1], 64)
					atClient = append(atClient, ts)
				}
			}
			if len(atClient) != want {
				t.Errorf("%s connection %d: the client sent %d SYNs, want %d", fam.flag, i+1, len(atClient), want)
				continue
			}
			if want == 2 && atClient[1]-atClient[0] < 0.9 {
				t.Errorf("%s: the SYN was sent again %.3fs after the first, want about 1s", fam.flag, atClient[1]-atClient[0])
			}
		}
	}
}

// TestFaultLostFIN: drop the server's FIN: it is sent again and both sides
// close cleanly. Dropped as welcome sends it (egress, IPv4), it never
// reaches the wire and the one FIN seen comes late; dropped as the client
// receives it (--ingress, IPv6), both ends' captures show it twice.
func TestFaultLostFIN(t *testing.T) {
	t.Parallel()
	needImpair(t)
	labtest.NeedImages(t, "welcome", images.Capture)
	l := labtest.Up(t, pair("welcome"))
	file, stop := captureBoth(t, l, "welcome")
	addFault(t, l, "welcome", "--match", "tcp and fin and ip", "--drop")
	addFault(t, l, "client", "--match", "tcp and fin and ip6 and src port 9999", "--drop", "--ingress")
	ports := map[string]string{}
	for _, fam := range faultFamilies {
		p, code := run(t, l, "client", "sock", "welcome", "--json", fam.flag, "welcome")
		if code != 0 || !p.OK || !strings.HasPrefix(p.Received, "Welcome") {
			t.Fatalf("%s: exit %d, received %q: %s", fam.flag, code, p.Received, p.Error)
		}
		_, ports[fam.flag], _ = net.SplitHostPort(p.Local)
	}
	if a, b := fired(t, l, "welcome"), fired(t, l, "client"); !slices.Equal(a, []uint64{1}) || !slices.Equal(b, []uint64{1}) {
		t.Errorf("fired: welcome %v, client %v; want [1] each", a, b)
	}
	stop()
	for _, fam := range faultFamilies {
		port := ports[fam.flag]
		fins := map[string]int{}
		var dataAt, finAt float64
		for _, r := range rows(t, file, fam.tshark+" and tcp.port == "+port, "frame.interface_name", "tcp.srcport", "tcp.flags.fin", "tcp.flags.reset", "tcp.len", "frame.time_relative") {
			ts, _ := strconv.ParseFloat(r[5], 64)
			if flag(r[3]) {
				t.Errorf("%s: a RST on %s", fam.flag, r[0])
			}
			if r[1] != "9999" {
				if flag(r[2]) {
					fins[r[0]+" client"]++
				}
				continue
			}
			if r[0] == "client:net" && r[4] != "0" && dataAt == 0 {
				dataAt = ts
			}
			if flag(r[2]) {
				fins[r[0]+" server"]++
				if r[0] == "client:net" && finAt == 0 {
					finAt = ts
				}
			}
		}
		wantServer := map[string]int{"-4": 1, "-6": 2}[fam.flag]
		if fins["client:net server"] != wantServer || fins["welcome:net server"] != wantServer ||
			fins["client:net client"] != 1 || fins["welcome:net client"] != 1 {
			t.Errorf("%s: FINs seen %v, want the server's %d times on each end and the client's once", fam.flag, fins, wantServer)
		}
		if fam.flag == "-4" && finAt-dataAt < 0.01 {
			t.Errorf("%s: the server's FIN reached the client %.3fs after its greeting: not a resent one", fam.flag, finAt-dataAt)
		}
	}
}

// TestFaultDuplicateSegment: the first segment with data echo sends goes
// twice: the client's wire shows it twice, and the stream arrives whole.
func TestFaultDuplicateSegment(t *testing.T) {
	t.Parallel()
	needImpair(t)
	labtest.NeedImages(t, images.Capture)
	l := labtest.Up(t, pair("echo"))
	file, stop := captureBoth(t, l, "echo")
	for _, fam := range faultFamilies {
		addFault(t, l, "echo", "--match", "tcp and data and "+fam.match, "--duplicate")
		p, code := run(t, l, "client", "sock", "echo", "--json", fam.flag, "echo", "once only")
		if code != 0 || !p.OK || p.Received != "once only" {
			t.Errorf("%s: exit %d, received %q, want the stream whole: %s", fam.flag, code, p.Received, p.Error)
		}
	}
	stop()
	for _, fam := range faultFamilies {
		seen := map[string]int{}
		for _, r := range rows(t, file, fam.tshark+" and tcp.srcport == 7 and tcp.len > 0", "frame.interface_name", "tcp.seq") {
			seen[r[0]+" seq "+r[1]]++
		}
		if seen["client:net seq 1"] != 2 || seen["echo:net seq 1"] != 2 {
			t.Errorf("%s: echo's data segments on the wire %v, want seq 1 twice on each end", fam.flag, seen)
		}
	}
}

// TestFaultDelayDatagram: the second datagram echo sends is held 300 ms:
// it arrives after the next ones, late by the delay, on both ends.
func TestFaultDelayDatagram(t *testing.T) {
	t.Parallel()
	needImpair(t)
	labtest.NeedImages(t, images.Capture)
	l := labtest.Up(t, pair("echo"))
	echo := node(t, status(t, l), "echo")
	file, stop := captureBoth(t, l, "echo")
	for _, fam := range []string{"IPv4", "IPv6"} {
		addFault(t, l, "echo", "--match", "udp and data", "--delay", "300ms", "--nth", "2")
		order, late := numberedEchoes(t, address(t, echo, "net", fam), 4, 50*time.Millisecond)
		if !slices.Equal(order, []uint32{0, 2, 1, 3}) && !slices.Equal(order, []uint32{0, 2, 3, 1}) {
			t.Errorf("%s: echoes came back in the order %v, want 1 after 2", fam, order)
		}
		if late < 250*time.Millisecond {
			t.Errorf("%s: the held echo came back %v after it was sent, want about 300ms", fam, late)
		}
		if _, err := l.ClearFaults(context.Background(), "echo", ""); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	// On echo's wire the answer to request 1 leaves after the answer to request 2.
	for _, fam := range faultFamilies {
		var seqs []string
		for _, r := range rows(t, file, fam.tshark+" and udp.srcport == 7 and frame.interface_name == \"echo:net\"", "udp.payload") {
			seqs = append(seqs, r[0])
		}
		if len(seqs) != 4 || seqs[1] != seqField(2) {
			t.Errorf("%s: echo's answers left in the order %v, want the answer to 2 second", fam.flag, seqs)
		}
	}
}

// seqField is how tshark prints the payload of numberedEchoes' datagram i.
func seqField(i uint32) string {
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b, i)
	copy(b[4:], "seq!")
	var s strings.Builder
	for _, c := range b {
		s.WriteString(strconv.FormatUint(uint64(c)>>4, 16) + strconv.FormatUint(uint64(c)&15, 16))
	}
	return s.String()
}

// numberedEchoes sends n numbered datagrams from the host to echo at addr,
// gap apart, and returns the numbers in the order they came back and how
// long the latest one took.
func numberedEchoes(t *testing.T, addr string, n int, gap time.Duration) (order []uint32, slowest time.Duration) {
	t.Helper()
	labtest.NeedHostRoute(t)
	c, err := net.Dial("udp", net.JoinHostPort(addr, "7"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Room for every reply: on a loaded machine the reader may not run for a
	// while, and a full socket buffer would count as the link's loss
	// (seen: 526 of 1000 back at 30% loss in a busy rig).
	if err := c.(*net.UDPConn).SetReadBuffer(4 << 20); err != nil {
		t.Fatal(err)
	}
	sent := make([]time.Time, n)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64)
		for {
			m, err := c.Read(buf)
			if err != nil {
				return
			}
			if m == 8 && string(buf[4:8]) == "seq!" {
				i := binary.BigEndian.Uint32(buf)
				order = append(order, i)
				if int(i) < n {
					slowest = max(slowest, time.Since(sent[i]))
				}
			}
		}
	}()
	msg := make([]byte, 8)
	copy(msg[4:], "seq!")
	for i := range n {
		binary.BigEndian.PutUint32(msg, uint32(i))
		sent[i] = time.Now()
		if _, err := c.Write(msg); err != nil {
			t.Fatalf("send datagram %d: %v", i, err)
		}
		time.Sleep(gap)
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	<-done
	return order, slowest
}

// TestFaultHelperKilled: with a fault holding every datagram, SIGKILL of
// its helper leaves the link passing traffic (fail-open); status shows the
// helper dead; down leaves nothing.
func TestFaultHelperKilled(t *testing.T) {
	t.Parallel()
	needImpair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, echo := impairLab(t)
	addFault(t, l, "echo", "--match", "udp and data", "--drop", "--every", "1")
	addr := address(t, echo, "net", "IPv4")
	if got := echoes(t, addr, 20); got != 0 {
		t.Fatalf("with every datagram dropped, %d of 20 came back", got)
	}
	st := status(t, l)
	if len(st.Faults) != 1 || len(st.Faults[0].Faults) != 1 || st.Faults[0].Faults[0].Fired != 20 {
		t.Fatalf("status faults = %+v, want one fired 20 times", st.Faults)
	}
	if err := labtest.Engine().Backend().Kill(ctx, st.Faults[0].Helper); err != nil {
		t.Fatalf("kill the helper: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if st := status(t, l); len(st.Faults) == 1 && !st.Faults[0].Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("status 10s after the kill still shows the fault helper running")
		}
	}
	for _, fam := range []string{"IPv4", "IPv6"} {
		a := address(t, echo, "net", fam)
		began := time.Now()
		for echoes(t, a, 5) == 0 && time.Since(began) < 10*time.Second {
		}
		if got := echoes(t, a, 100); got != 100 {
			t.Errorf("%s after SIGKILL of the fault helper: %d of 100 came back, want all", fam, got)
		}
	}
	if err := labtest.Engine().Down(ctx, l.Name()); err != nil {
		t.Fatalf("down: %v", err)
	}
	if left := helpersLeft(t, l.Name()); len(left) > 0 {
		t.Errorf("helpers left after down: %v", left)
	}
}

// TestFaultGoesWithRestart: a node that stops and starts again has a new
// network namespace: its faults (which counted the old one's packets) are
// gone, and status says none is in force; every datagram comes back.
func TestFaultGoesWithRestart(t *testing.T) {
	t.Parallel()
	needImpair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, _ := impairLab(t)
	addFault(t, l, "echo", "--match", "udp and data", "--drop", "--every", "1")
	if err := l.Stop(ctx, "echo"); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(ctx, "echo"); err != nil {
		t.Fatal(err)
	}
	if st := status(t, l); len(st.Faults) != 0 {
		t.Errorf("status after a restart lists faults %+v, want none", st.Faults)
	}
	if left := helpersLeft(t, l.Name()); len(left) > 0 {
		t.Errorf("helpers left after the restart: %v", left)
	}
	echo := node(t, status(t, l), "echo")
	if got := echoes(t, address(t, echo, "net", "IPv4"), 20); got != 20 {
		t.Errorf("after the restart %d of 20 came back, want all", got)
	}
}
