package capture_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	helper "socketlab/helpers/capture"
	"socketlab/helpers/capture/capturetest"
	"socketlab/internal/packet"
)

// TestCaptureCountAndFilter runs the helper binary in a network namespace
// (capturetest: root and iproute2) with --filter and --count: its pcapng
// stream holds exactly the packets the filter keeps, and it ends by itself
// after the count. labctl/capture's tests read the same stream end to end.
func TestCaptureCountAndFilter(t *testing.T) {
	p := capturetest.NewPair(t)
	p.Serve(t, p.B, "welcome")
	filter := "tcp and host " + p.B4
	h := p.StartCapture(t, p.A, "--filter", filter, "--count", "3")
	// The reader returns once the helper wrote its header: from then on it captures.
	r, err := pcapgo.NewNgReader(h.Stdout, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatalf("pcapng header: %v\nstderr: %s", err, h.Stderr.String())
	}
	read := make(chan [][]byte)
	go func() {
		var frames [][]byte
		for {
			data, _, err := r.ReadPacketData()
			if err != nil {
				_, _ = io.Copy(io.Discard, h.Stdout)
				read <- frames
				return
			}
			frames = append(frames, data)
		}
	}()
	_ = p.In(context.Background(), p.A, "sock", "welcome", p.B4+":9999").Run()
	done := make(chan helper.Result)
	go func() { done <- h.Wait(t) }()
	select {
	case res := <-done:
		if res.Reason != "count" || res.Written != 3 {
			t.Errorf("end %+v; want reason count, 3 written", res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the helper did not stop after --count 3 packets")
	}
	frames := <-read
	f, _ := packet.ParseFilter(filter)
	if len(frames) != 3 {
		t.Errorf("the stream holds %d packets, want 3", len(frames))
	}
	for i, data := range frames {
		if d := packet.Decode(data); !f.Match(&d) {
			t.Errorf("packet %d (%s → %s %s) does not match %q", i, d.Src, d.Dst, d.Proto, filter)
		}
	}
}
