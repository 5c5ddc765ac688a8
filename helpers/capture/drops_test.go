package capture_test

import (
	"bufio"
	"context"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"socketlab/helpers/capture/capturetest"
)

// The kernel's drops are reported when they happen, not only at the end: a
// reader that stops reading for a while (the helper blocks, its ring fills
// and the kernel drops) gets a statistics block with the drops before the
// final one, so it knows when the capture fell behind. Needs root.
func TestDropsReportedWhileCapturing(t *testing.T) {
	p := capturetest.NewPair(t)
	srv := self(context.Background(), p.B, "CAPBENCH_ROLE=echo", "CAPBENCH_ADDR="+p.B4+":7")
	out, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	if _, err := out.Read(make([]byte, 6)); err != nil {
		t.Fatal("echo server did not start")
	}
	// The smallest ring, whole packets, and nobody reading: it overflows.
	h := p.StartCapture(t, p.A, "--ring", "1", "--snaplen", strconv.Itoa(262144))
	r := bufio.NewReaderSize(h.Stdout, 1<<16)
	if _, err := r.Peek(4); err != nil {
		t.Fatal(err)
	}
	stream := self(context.Background(), p.A, "CAPBENCH_ROLE=stream", "CAPBENCH_ADDR="+p.B4+":7", "CAPBENCH_CHUNK=65536", "CAPBENCH_SECONDS=2")
	if o, err := stream.Output(); err != nil {
		t.Fatalf("stream client: %v %s", err, o)
	}
	type block struct {
		at      time.Time
		dropped uint64
	}
	var blocks []block
	ng, err := pcapgo.NewNgReader(r, pcapgo.NgReaderOptions{StatisticsCallback: func(_ int, st pcapgo.NgInterfaceStatistics) {
		blocks = append(blocks, block{st.LastUpdate, st.PacketsDropped})
	}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, _, err := ng.ReadPacketData(); err != nil {
				return
			}
		}
	}()
	time.Sleep(500 * time.Millisecond) // a flush interval or more with the reader reading
	res := h.Stop(t)
	<-done
	_, _ = io.Copy(io.Discard, r)
	if res.Dropped == 0 {
		t.Skip("the kernel dropped nothing: the host kept up even so; nothing to report")
	}
	if len(blocks) < 2 || blocks[0].dropped == 0 || !blocks[0].at.Before(blocks[len(blocks)-1].at) {
		t.Fatalf("statistics blocks %+v for %d drops: want one with drops before the final one", blocks, res.Dropped)
	}
	if last := blocks[len(blocks)-1]; last.dropped != res.Dropped {
		t.Errorf("final block says %d dropped, the end line %d", last.dropped, res.Dropped)
	}
}
