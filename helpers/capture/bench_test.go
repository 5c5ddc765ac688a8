package capture_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"socketlab/helpers/capture/capturetest"
)

// The benchmark's echo server and stream client are this test binary run
// again in a namespace with CAPBENCH_ROLE set (see TestMain).

func TestMain(m *testing.M) {
	switch os.Getenv("CAPBENCH_ROLE") {
	case "echo":
		os.Exit(echoServer(os.Getenv("CAPBENCH_ADDR")))
	case "stream":
		os.Exit(streamClient(os.Getenv("CAPBENCH_ADDR")))
	}
	os.Exit(m.Run())
}

func echoServer(addr string) int {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	for {
		c, err := l.Accept()
		if err != nil {
			return 1
		}
		go func() { _, _ = io.Copy(c, c); c.Close() }()
	}
}

// streamClient sends CAPBENCH_CHUNK-byte writes for CAPBENCH_SECONDS while
// reading the echo back, and prints the bytes echoed per second.
func streamClient(addr string) int {
	chunk, _ := strconv.Atoi(os.Getenv("CAPBENCH_CHUNK"))
	secs, _ := strconv.ParseFloat(os.Getenv("CAPBENCH_SECONDS"), 64)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	buf := make([]byte, chunk)
	done := time.Now().Add(time.Duration(secs * float64(time.Second)))
	got := make(chan int64)
	go func() { n, _ := io.Copy(io.Discard, c); got <- n }()
	start := time.Now()
	for time.Now().Before(done) {
		if _, err := c.Write(buf); err != nil {
			return 1
		}
	}
	c.(*net.TCPConn).CloseWrite()
	n := <-got
	_ = json.NewEncoder(os.Stdout).Encode(map[string]float64{"bytes_per_s": float64(n) / time.Since(start).Seconds()})
	return 0
}

// self runs this test binary in namespace ns with a role.
func self(ctx context.Context, ns string, env ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// BenchmarkCaptureEchoStream streams TCP through an echo server across two
// namespaces for a few seconds without capture, then with the helper
// capturing the client's side, and reports: packets captured per second,
// kernel drops, the helper's CPU (share of one core), and the stream's
// throughput with capture over without (the median of three rounds, each
// without then with). Needs root.
//
//	go test -run '^$' -bench CaptureEchoStream -benchtime 1x ./helpers/capture/
func BenchmarkCaptureEchoStream(b *testing.B) {
	for _, bc := range []struct {
		name    string
		chunk   int
		snaplen int
	}{
		{"writes64KiB", 64 << 10, 262144},
		// labctl's default snaplen (tap.DefaultSnaplen): what labctl capture and test use.
		{"writes64KiB/snaplen2048", 64 << 10, 2048},
		{"writes64KiB/snaplen256", 64 << 10, 256},
		{"writes100B", 100, 262144},
		{"writes100B/snaplen2048", 100, 2048},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := capturetest.NewPair(b)
			srv := self(context.Background(), p.B, "CAPBENCH_ROLE=echo", "CAPBENCH_ADDR="+p.B4+":7")
			out, _ := srv.StdoutPipe()
			if err := srv.Start(); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
			if _, err := out.Read(make([]byte, 6)); err != nil {
				b.Fatal("echo server did not start")
			}
			const secs, rounds = 2, 3
			stream := func() float64 {
				cmd := self(context.Background(), p.A, "CAPBENCH_ROLE=stream", "CAPBENCH_ADDR="+p.B4+":7",
					"CAPBENCH_CHUNK="+strconv.Itoa(bc.chunk), fmt.Sprintf("CAPBENCH_SECONDS=%d", secs))
				o, err := cmd.Output()
				if err != nil {
					b.Fatalf("stream client: %v", err)
				}
				var r map[string]float64
				if err := json.Unmarshal(o, &r); err != nil {
					b.Fatalf("stream client said %q", o)
				}
				return r["bytes_per_s"]
			}
			for range b.N {
				// Without and with capture alternate, so that a host whose
				// load changes during the run weighs on both alike; the
				// ratio is the median of the rounds'.
				var ratios, withs, withouts []float64
				var drops, written uint64
				var wall, cpu time.Duration
				for range rounds {
					without := stream()
					h := p.StartCapture(b, p.A, "--snaplen", strconv.Itoa(bc.snaplen))
					go func() { _, _ = io.Copy(io.Discard, h.Stdout) }()
					time.Sleep(200 * time.Millisecond)
					start := time.Now()
					with := stream()
					res := h.Stop(b)
					wall += time.Since(start)
					cpu += h.Cmd.ProcessState.UserTime() + h.Cmd.ProcessState.SystemTime()
					drops += res.Dropped
					written += res.Written
					ratios, withs, withouts = append(ratios, with/without), append(withs, with), append(withouts, without)
				}
				b.ReportMetric(float64(written)/wall.Seconds(), "pkts/s")
				b.ReportMetric(float64(drops), "drops")
				b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "helper-cpu-%")
				b.ReportMetric(median(withouts)/1e6, "MB/s-without")
				b.ReportMetric(median(withs)/1e6, "MB/s-with")
				b.ReportMetric(median(ratios), "ratio")
			}
		})
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
