package load

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"socketlab/services/chat"
	"socketlab/services/echo"
	"socketlab/services/lookup"
	"socketlab/services/lookup/frame"
)

// serve serves f on an ephemeral 127.0.0.1 port until the test ends.
func serve(t testing.TB, f func(net.Listener) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go f(ln)
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// servers are the TCP echo servers the loads are checked against: ours and
// the two naive references.
func servers(t testing.TB) map[string]string {
	t.Helper()
	ours := echo.NewServer(0, time.Minute)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ours.Shutdown(ctx)
	})
	return map[string]string{
		"echo":       serve(t, ours.Serve),
		"naive-copy": serve(t, NaiveEcho),
		"naive-buf":  serve(t, NaiveEchoBuf),
	}
}

func TestTCPLoads(t *testing.T) {
	for name, addr := range servers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			if bps, err := Stream(ctx, addr, 128<<10, 200*time.Millisecond); err != nil || bps <= 0 {
				t.Errorf("Stream = %v, %v; want a positive rate", bps, err)
			}
			if ops, err := PingPong(ctx, addr, 8, 1024, 200*time.Millisecond); err != nil || ops <= 0 {
				t.Errorf("PingPong = %v, %v; want a positive rate", ops, err)
			}
			rtts, err := RoundTrips(ctx, addr, 64, 10, 100)
			if err != nil || len(rtts) != 100 {
				t.Errorf("RoundTrips = %d samples, %v; want 100", len(rtts), err)
			}
			msg := Pattern(100)
			w := Workload{Conns: 4, Duration: 200 * time.Millisecond, Dialer: &Dialer{Sources: 4}, Request: msg,
				Response: func(r io.Reader, buf []byte) error {
					if _, err := io.ReadFull(r, buf[:len(msg)]); err != nil {
						return err
					}
					if string(buf[:len(msg)]) != string(msg) {
						return fmt.Errorf("got %q back", buf[:len(msg)])
					}
					return nil
				}}
			if rps, err := Requests(ctx, addr, w); err != nil || rps <= 0 {
				t.Errorf("Requests, a connection each = %v, %v; want a positive rate", rps, err)
			}
			conns, err := Idle(ctx, &Dialer{Sources: 2}, addr, 50, func(c net.Conn) error {
				_, err := c.Write([]byte("x"))
				if err == nil {
					_, err = io.ReadFull(c, make([]byte, 1))
				}
				return err
			})
			if err != nil || len(conns) != 50 {
				t.Errorf("Idle = %d connections, %v; want 50", len(conns), err)
			}
			CloseAll(conns)
		})
	}
}

func TestRequestsFailsWhenTheServerDoesNotAnswer(t *testing.T) {
	addr := serve(t, func(l net.Listener) error {
		for {
			c, err := l.Accept()
			if err != nil {
				return err
			}
			c.Close() // closes at once: a read gets EOF
		}
	})
	_, err := Requests(context.Background(), addr, Workload{Conns: 2, Duration: time.Second, KeepAlive: true,
		Request: []byte("x"), Response: func(r io.Reader, buf []byte) error { _, err := io.ReadFull(r, buf[:1]); return err }})
	if err == nil || !strings.Contains(err.Error(), "request") {
		t.Errorf("Requests against a server that closes = %v; want a request error", err)
	}
}

func TestDialerSpreadsSourceAddresses(t *testing.T) {
	addr := serve(t, NaiveEcho)
	d := &Dialer{Sources: 3}
	seen := map[string]bool{}
	for range 6 {
		c, err := d.Dial(context.Background(), addr)
		if err != nil {
			t.Fatal(err)
		}
		host, _, _ := net.SplitHostPort(c.LocalAddr().String())
		seen[host] = true
		c.Close()
	}
	if len(seen) != 3 || !seen["127.0.0.2"] || !seen["127.0.0.4"] {
		t.Errorf("source addresses = %v; want 127.0.0.2 to 127.0.0.4", seen)
	}
}

func TestUDPFlood(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go NaiveUDPEcho(pc)
	t.Cleanup(func() { pc.Close() })
	rps, err := UDPFlood(context.Background(), pc.LocalAddr().String(), 2, 8, 64, 200*time.Millisecond)
	if err != nil || rps <= 0 {
		t.Errorf("UDPFlood = %v, %v; want a positive rate", rps, err)
	}
	// Nobody on the port: the flood says so instead of measuring silence.
	dead, _ := net.ListenPacket("udp", "127.0.0.1:0")
	addr := dead.LocalAddr().String()
	dead.Close()
	if _, err := UDPFlood(context.Background(), addr, 1, 4, 64, 200*time.Millisecond); err == nil {
		t.Error("UDPFlood with no server: no error")
	}
}

func TestReadFrame(t *testing.T) {
	srv := lookup.NewServer(lookup.Config{})
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	addr := serve(t, srv.Serve)
	req, err := frame.Append(nil, lookup.NewSearch(lookup.ActionSearch, "TCP"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64<<10)
	for i := range 3 { // keep-alive: the reader leaves the stream at the next response
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		if err := ReadFrame(c, buf); err != nil {
			t.Fatalf("response %d: %v", i+1, err)
		}
	}
	if err := ReadFrame(strings.NewReader("\x00\x05{\"a\":1}"), buf); err == nil {
		t.Error("ReadFrame of a header without content-length: no error")
	}
}

func TestFanout(t *testing.T) {
	srv := &chat.Server{Channels: []string{"#lab"}, SendQ: 8 << 10, SendBuffer: -1}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	addr := serve(t, srv.Serve)
	f := Fanout{Addr: addr, Channel: "#lab", Members: 20, Stalled: 2, StalledBuffer: 4 << 10, StalledMSS: 1460,
		Rate: 2000, Window: 500, Duration: time.Second, Size: 200, Nick: "t"}
	r, err := f.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent == 0 || r.Delivered < r.Sent || r.Delivered > 18*r.Sent {
		t.Errorf("sent %d, delivered %d to 18 readers", r.Sent, r.Delivered)
	}
	if len(r.Latencies) == 0 {
		t.Error("no latency measured")
	}
	// 2000 lines of 200 bytes a second overflow an 8 KiB send queue at once.
	if r.CutOff != 2 {
		t.Errorf("%d of 2 stalled members cut off; want 2", r.CutOff)
	}
}

func TestJoinIRCReportsErrors(t *testing.T) {
	srv := &chat.Server{Channels: []string{"#lab"}}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	addr := serve(t, srv.Serve)
	join := func(nick string) error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return JoinIRC(c, bufio.NewReader(c), nick, "#lab")
	}
	if err := join("ada"); err != nil {
		t.Fatalf("first join: %v", err)
	}
	if err := join("ada"); err == nil || !strings.Contains(err.Error(), " 433 ") {
		t.Errorf("second join with the same nick = %v; want the server's 433", err)
	}
}

func TestSummarizeAndPercentile(t *testing.T) {
	tests := []struct {
		runs          []float64
		med, min, max float64
	}{
		{[]float64{3, 1, 2}, 2, 1, 3},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4},
		{[]float64{7}, 7, 7, 7},
	}
	for _, tt := range tests {
		s := Summarize(tt.runs)
		if s.Median != tt.med || s.Min != tt.min || s.Max != tt.max || len(s.Runs) != len(tt.runs) {
			t.Errorf("Summarize(%v) = %+v; want median %v, min %v, max %v", tt.runs, s, tt.med, tt.min, tt.max)
		}
	}
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration(100-i) * time.Microsecond
	}
	for q, want := range map[float64]time.Duration{0.5: 50 * time.Microsecond, 0.99: 99 * time.Microsecond, 1: 100 * time.Microsecond} {
		if got := Percentile(d, q); got != want {
			t.Errorf("Percentile(1..100 µs, %v) = %v; want %v", q, got, want)
		}
	}
}

// BenchmarkPingPong is the ping-pong metric in one process: 64 connections
// each sending 1 KiB and reading it back, against our echo server and the
// naive ones. With -cpuprofile it shows where the time goes.
func BenchmarkPingPong(b *testing.B) {
	for _, name := range []string{"echo", "naive-copy", "naive-buf"} {
		b.Run(name, func(b *testing.B) {
			addr := servers(b)[name]
			ops, err := PingPong(context.Background(), addr, 64, 1024, time.Duration(b.N)*20*time.Microsecond)
			if err != nil {
				b.Fatal(err)
			}
			// The load runs for a time, not b.N round trips: report its own rate.
			b.ReportMetric(1e9/ops, "ns/op")
			b.ReportMetric(ops, "ops/s")
		})
	}
}

// BenchmarkRoundTrip64 is one connection sending 64 bytes and waiting for
// them, b.N times.
func BenchmarkRoundTrip64(b *testing.B) {
	for _, name := range []string{"echo", "naive-copy"} {
		b.Run(name, func(b *testing.B) {
			addr := servers(b)[name]
			b.ResetTimer()
			d, err := RoundTrips(context.Background(), addr, 64, 0, b.N)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(Micros(Percentile(d, 0.5)), "p50-µs")
			b.ReportMetric(Micros(Percentile(d, 0.99)), "p99-µs")
		})
	}
}
