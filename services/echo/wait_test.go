package echo

import (
	"context"
	"net"
	"testing"
	"time"
)

// dropEveryOther is a UDP echo that answers only every other datagram, as a
// link losing half of them would.
func dropEveryOther(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for i := 0; ; i++ {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if i%2 == 0 {
				pc.WriteTo(buf[:n], from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

// TestWaitCountsLostDatagrams: with Wait, a datagram whose echo does not
// come back is counted as lost and the run goes on; without it, the first
// loss ends the run with a timeout.
func TestWaitCountsLostDatagrams(t *testing.T) {
	target := dropEveryOther(t)
	o := opts
	r := Run(context.Background(), o, target, Load{Payload: []byte("ping"), Count: 20, UDP: true, Wait: 100 * time.Millisecond})
	if r.Error != "" {
		t.Fatalf("failed: %s (%s)", r.Error, r.ErrorKind)
	}
	if r.Details["round_trips"] != 10 || r.Details["lost"] != 10 || r.Details["sent"] != 20 {
		t.Errorf("round trips %v, lost %v, sent %v; want 10, 10, 20", r.Details["round_trips"], r.Details["lost"], r.Details["sent"])
	}

	o.Timeout = 300 * time.Millisecond
	ctx, cancel := o.Context(context.Background())
	defer cancel()
	r = Run(ctx, o, dropEveryOther(t), Load{Payload: []byte("ping"), Count: 20, UDP: true})
	if r.Error == "" || r.ErrorKind != "timeout" || r.Details["round_trips"] != 1 {
		t.Errorf("without wait: error %q, kind %q, round trips %v; want a timeout after 1", r.Error, r.ErrorKind, r.Details["round_trips"])
	}
}
