package echo

import (
	"context"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"socketlab/services/internal/svctest"
)

// dropEveryOther is a UDP echo that answers only every other datagram, as a
// link losing half of them would.
func dropEveryOther(t *testing.T) string { return answerOneIn(t, 2) }

// answerOneIn is a UDP echo that answers one datagram in every n.
func answerOneIn(t *testing.T, n int) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for i := 0; ; i++ {
			got, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if i%n == 0 {
				pc.WriteTo(buf[:got], from)
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

// TestWaitRunSummary: the README's lossy run (sock echo --udp --count N
// --wait W) finishes as written when its losses cost more than the default
// --timeout, and its summary agrees with itself: the round trips are the
// datagrams that came back, out of those sent. A run cut short by an explicit
// --timeout says so, and counts only what it sent.
func TestWaitRunSummary(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		oneIn    int // the server answers one datagram in oneIn
		args     []string
		code     int
		out, err []string // regexps
	}{
		{
			// 45 of 50 lost at 120 ms each: 5.4 s, more than the default 5 s.
			name: "losses longer than the default timeout", oneIn: 10,
			args: []string{"--udp", "--count", "50", "--wait", "120ms"},
			out:  []string{`^5 round trips of 4 bytes with `, `\n5 of 50 datagrams came back, 45 lost \(90%\)\n$`},
		},
		{
			name: "cut short by --timeout", oneIn: 2,
			args: []string{"--udp", "--count", "50", "--wait", "300ms", "--timeout", "3s"},
			code: 1,
			out:  []string{`^(\d+) round trips? of 4 bytes`, `\n(\d+) of (\d+) datagrams came back, (\d+) lost \(\d+%\); (\d+) of 50 not sent: the run ended first\n$`},
			err:  []string{`the run's --timeout of 3s ended it after \d+ of 50 datagrams \(\d+ came back\): give it about --count × --wait, e\.g\. --timeout 18s`},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			target := answerOneIn(t, c.oneIn)
			out, errs, code := runCommand("", append(c.args, target, "ping")...)
			if code != c.code {
				t.Errorf("exit %d, want %d; stdout %q, stderr %q", code, c.code, out, errs)
			}
			for _, re := range c.out {
				if !regexp.MustCompile(re).MatchString(out) {
					t.Errorf("stdout %q does not match %s", out, re)
				}
			}
			for _, re := range c.err {
				if !regexp.MustCompile(re).MatchString(errs) {
					t.Errorf("stderr %q does not match %s", errs, re)
				}
			}
			// Round trips = came back; sent = came back + lost.
			m := regexp.MustCompile(`^(\d+) round trips?.*\n(\d+) of (\d+) datagrams came back, (\d+) lost`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no summary in %q", out)
			}
			if m[1] != m[2] || atoi(m[2])+atoi(m[4]) != atoi(m[3]) {
				t.Errorf("the summary contradicts itself: %q", out)
			}
		})
	}
	t.Run("no message", func(t *testing.T) {
		t.Parallel()
		out, _, code := runCommand("", "--udp", "--count", "3", "--wait", "50ms", answerOneIn(t, 1))
		if code != 0 || !strings.HasPrefix(out, "3 round trips of an empty message (no MESSAGE given, nothing on standard input) with ") {
			t.Errorf("exit %d, stdout %q", code, out)
		}
	})
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

// TestResetVerdictIsStable: a server that closes with the client's bytes
// unread gets the same verdict on every run, a reset that says RST, who
// sent it and the usual cause, whether its kernel sent the RST at once
// (closed with bytes in its queue) or after its FIN (closed before they
// arrived: the client reads the end of the stream first).
func TestResetVerdictIsStable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		serve func(c *net.TCPConn)
	}{
		{"closes with unread bytes", func(c *net.TCPConn) {
			time.Sleep(20 * time.Millisecond) // the bytes arrive, unread
			c.Close()
		}},
		{"FIN first, then RST for the bytes", func(c *net.TCPConn) {
			c.CloseWrite() // FIN before the client's bytes are read
			time.Sleep(10 * time.Millisecond)
			c.Close() // now with unread bytes: RST
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := svctest.FakeTCP(t, func(c net.Conn) { tc.serve(c.(*net.TCPConn)) })
			for i := range 10 {
				r := Run(context.Background(), opts, addr, Load{Payload: []byte("hello you")})
				want := "connection reset by " + addr + " after echoing 0 of 9 bytes of message 1: it sent RST, as a kernel does when its program closes a socket with received bytes it has not read"
				if r.ErrorKind != "reset" || !strings.HasPrefix(r.Error, want) {
					t.Fatalf("run %d: %s: %s; want reset: %s", i+1, r.ErrorKind, r.Error, want)
				}
			}
		})
	}
}
