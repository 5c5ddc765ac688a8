package capture_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"socketlab/helpers/capture/capturetest"
	"socketlab/internal/packet"
	"socketlab/labctl/capture"
)

// TestCaptureAcrossNamespaces runs the capture helper binary in a network
// namespace joined to another by a veth, real servers and clients crossing
// it, and reads its stream as labctl does: the stream's packets and
// statistics, the wire's verdicts, and the file as tshark reads it. It
// needs root and iproute2 (capturetest.NewPair).
func TestCaptureAcrossNamespaces(t *testing.T) {
	p := capturetest.NewPair(t)
	p.Serve(t, p.B, "welcome")
	p.Serve(t, p.B, "responder")

	h := p.StartCapture(t, p.A)
	raw := &bytes.Buffer{}
	// NewStream returns once the helper wrote its header: from then on it captures.
	s, err := capture.NewStream(io.TeeReader(h.Stdout, raw), "alice", map[string]string{p.IfA: "front"})
	if err != nil {
		t.Fatalf("%v\nstderr: %s", err, h.Stderr.String())
	}
	pkts := make(chan []capture.Packet)
	go func() {
		var all []capture.Packet
		for {
			pk, err := s.Next()
			if err != nil {
				pkts <- all
				return
			}
			all = append(all, pk)
		}
	}()

	ctx := context.Background()
	sockOut := func(args ...string) string {
		b, _ := p.In(ctx, p.A, "sock", args...).CombinedOutput()
		return string(b)
	}
	// The client speaks first: welcome must still close with FIN, not RST.
	if out := sockOut("welcome", "--send", "hi", p.B4+":9999"); !strings.Contains(out, "Welcome") {
		t.Fatalf("sock welcome: %s", out)
	}
	if out := sockOut("responder", "["+p.B6+"]:9999", "hello"); !strings.Contains(out, "you are") {
		t.Fatalf("sock responder: %s", out)
	}
	out := sockOut("responder", "--timeout", "2s", p.B4+":9", "closed")
	time.Sleep(100 * time.Millisecond) // the ring hands packets over within 10 ms
	res := h.Stop(t)
	all := <-pkts
	t.Logf("sock responder to a closed port: %s", strings.TrimSpace(out))
	t.Logf("helper: %+v", res)

	if res.Dropped != 0 || res.Written != uint64(len(all)) || res.Reason != "signal" {
		t.Errorf("helper end %+v; want 0 dropped, %d written, reason signal", res, len(all))
	}
	if st := s.Stats(); len(st) != 1 || st[0].Where != (capture.Where{Node: "alice", Network: "front"}) || st[0].Received < uint64(len(all)) {
		t.Errorf("statistics blocks %+v; want one for alice:front with at least %d received", st, len(all))
	}
	var f capture.Formatter
	for _, pk := range all {
		t.Log(f.Line(pk))
	}

	tcp, _ := packet.ParseFilter("tcp port 9999")
	udp, _ := packet.ParseFilter("udp port 9999")
	var welcome, responder []capture.Packet
	for _, pk := range all {
		d := packet.Decode(pk.Data)
		if tcp.Match(&d) {
			welcome = append(welcome, pk)
		}
		if udp.Match(&d) {
			responder = append(responder, pk)
		}
	}
	w := capture.Analyze(welcome)
	yes := true
	if m := (capture.Expect{Handshake: &yes, Close: packet.CloseFIN, Family: 4}).Check(w); len(m) != 0 {
		t.Errorf("welcome on the wire: %v", m)
	}
	if !w.Close.Both || w.Close.By != packet.SideServer {
		t.Errorf("welcome close %s; want fin by server, both ways", w.Close)
	}
	one := 1
	if m := (capture.Expect{DatagramsSent: &one, DatagramsReceived: &one, Family: 6}).Check(capture.Analyze(responder)); len(m) != 0 {
		t.Errorf("responder on the wire: %v", m)
	}
	if all := capture.Analyze(all); !all.PortUnreachable {
		t.Errorf("no ICMP port unreachable from the closed port; ICMP seen: %v", all.ICMP)
	}

	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark is not installed, so the file was not checked with it (CI installs it: apt-get install tshark)")
		return
	}
	file := filepath.Join(t.TempDir(), "a.pcapng")
	if err := os.WriteFile(file, raw.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	count := func(filter string) int {
		b, err := exec.Command("tshark", "-n", "-r", file, "-Y", filter).Output()
		if err != nil {
			t.Fatalf("tshark -Y %q: %v", filter, err)
		}
		return len(strings.Split(strings.TrimSpace(string(b)), "\n")) - map[bool]int{true: 1}[strings.TrimSpace(string(b)) == ""]
	}
	for filter, want := range map[string]int{
		"tcp.port == 9999 && tcp.flags.syn == 1":    2,
		"tcp.port == 9999 && tcp.flags.fin == 1":    2,
		"tcp.flags.reset == 1":                      0,
		"udp.port == 9999 && ipv6":                  2,
		"icmp.type == 3 && icmp.code == 3":          1,
		"frame.interface_name == \"" + p.IfA + "\"": len(all),
	} {
		if got := count(filter); got != want {
			t.Errorf("tshark -Y %q: %d packets, want %d", filter, got, want)
		}
	}
}
