package echo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"socketlab/internal/result"
	"socketlab/services/internal/probe"
	"socketlab/services/internal/service"
	"socketlab/services/internal/svctest"
)

// serveTCP serves a TCP echo server on host and returns its address.
func serveTCP(t testing.TB, host string, maxConns int, idle time.Duration) (string, *service.ConnServer) {
	t.Helper()
	s := NewServer(maxConns, idle)
	return svctest.ServeTCP(t, s, host), s
}

// binary returns n bytes holding every byte value, NUL and newlines included.
func binary(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/256)
	}
	return b
}

// roundTrip writes msg and reads exactly len(msg) bytes back, writing from a
// second goroutine so that large messages cannot block both sides.
func roundTrip(c net.Conn, msg []byte) ([]byte, error) {
	werr := make(chan error, 1)
	go func() { _, err := c.Write(msg); werr <- err }()
	got := make([]byte, len(msg))
	_, err := io.ReadFull(c, got)
	return got, errors.Join(err, <-werr)
}

func TestTCPEchoesEveryByte(t *testing.T) {
	msgs := map[string][]byte{
		"one byte":       {'x'},
		"line":           []byte("hello, echo\r\n"),
		"binary 200 KiB": binary(200 << 10),
	}
	for _, fam := range svctest.Families {
		t.Run(fam, func(t *testing.T) {
			t.Parallel()
			addr, _ := serveTCP(t, svctest.Loopbacks[fam], 0, 0)
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			// Several messages on one connection, each back exactly.
			for name, msg := range msgs {
				got, err := roundTrip(c, msg)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !bytes.Equal(got, msg) {
					t.Errorf("%s: echo differs", name)
				}
			}
		})
	}
}

// A client that half-closes gets back exactly what it sent, then end of file.
func TestHalfCloseGetsEverythingThenEOF(t *testing.T) {
	for _, fam := range svctest.Families {
		addr, _ := serveTCP(t, svctest.Loopbacks[fam], 0, time.Minute)
		for _, n := range []int{0, 1, 100, 3 << 20} {
			t.Run(fmt.Sprintf("%s/%d bytes", fam, n), func(t *testing.T) {
				t.Parallel()
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(15 * time.Second))
				msg := binary(n)
				werr := make(chan error, 1)
				go func() {
					_, err := c.Write(msg)
					werr <- errors.Join(err, c.(*net.TCPConn).CloseWrite())
				}()
				got, err := io.ReadAll(c) // nil error: the server ended with FIN, not RST
				if err != nil {
					t.Fatalf("read after half-close: %v (read %d of %d bytes)", err, len(got), n)
				}
				if err := <-werr; err != nil {
					t.Fatalf("write: %v", err)
				}
				if !bytes.Equal(got, msg) {
					t.Errorf("got %d bytes back, sent %d (or they differ)", len(got), n)
				}
			})
		}
	}
}

func TestUDPEchoesEachDatagram(t *testing.T) {
	for _, fam := range svctest.Families {
		t.Run(fam, func(t *testing.T) {
			t.Parallel()
			addr := svctest.ServeUDP(t, NewPacketServer(), svctest.Loopbacks[fam])
			c, err := net.Dial("udp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			buf := make([]byte, 70000)
			for _, n := range []int{0, 1, 1472, 65000} {
				msg := binary(n)
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.Write(msg); err != nil {
					t.Fatalf("%d bytes: write: %v", n, err)
				}
				got, err := c.Read(buf)
				if err != nil {
					t.Fatalf("%d bytes: no echo: %v", n, err)
				}
				if !bytes.Equal(buf[:got], msg) {
					t.Errorf("%d bytes: got a datagram of %d bytes (or different bytes)", n, got)
				}
			}
		})
	}
}

// Datagrams from echo, daytime, chargen and time get no echo: two such
// servers would otherwise answer each other forever.
func TestUDPDropsDatagramsFromLoopPorts(t *testing.T) {
	svctest.CheckLoopPortsDropped(t, svctest.ServeUDP(t, NewPacketServer(), "127.0.0.1"))
}

// raiseFileLimit makes room for n more descriptors in this process.
func raiseFileLimit(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	if lim.Max < n {
		t.Fatalf("RLIMIT_NOFILE hard limit %d is below the %d descriptors this test needs", lim.Max, n)
	}
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("raise RLIMIT_NOFILE to %d: %v", n, err)
	}
}

// 1200 clients, half over IPv4 and half over IPv6 to one dual-stack
// listener, are all connected and echoed at the same time.
func TestThousandsOfConcurrentClients(t *testing.T) {
	const clients = 1200
	raiseFileLimit(t, 2*clients+200)
	ln, err := net.Listen("tcp", "[::]:0")
	if err != nil {
		t.Skipf("no dual-stack listener here: %v", err)
	}
	srv := NewServer(0, time.Minute)
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	var (
		connected, done sync.WaitGroup
		release         = make(chan struct{})
		errs            = make(chan error, clients)
	)
	connected.Add(clients)
	done.Add(clients)
	for i := range clients {
		host := "127.0.0.1"
		if i%2 == 1 {
			host = "::1"
		}
		go func() {
			defer done.Done()
			once := sync.OnceFunc(connected.Done)
			defer once()
			c, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), 10*time.Second)
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			msg := fmt.Appendf(nil, "client %d says hello\n", i)
			for round := range 2 {
				if got, err := roundTrip(c, msg); err != nil || !bytes.Equal(got, msg) {
					errs <- fmt.Errorf("client %d round %d: got %q, %v", i, round, got, err)
					return
				}
				if round == 0 { // all connected and answered before anyone goes on
					once()
					<-release
				}
			}
		}()
	}
	connected.Wait()
	active := srv.Active()
	close(release)
	done.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if active != clients {
		t.Errorf("%d connections served at once, want %d", active, clients)
	}
}

// Over --max-conns, a new connection is closed at once; when a slot frees,
// connections are echoed again.
func TestMaxConnsLimit(t *testing.T) {
	addr, srv := serveTCP(t, "127.0.0.1", 3, time.Minute)
	var open []net.Conn
	for i := range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if got, err := roundTrip(c, []byte("hi")); err != nil || string(got) != "hi" {
			t.Fatalf("connection %d: %q %v", i+1, got, err)
		}
		open = append(open, c)
	}
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetDeadline(time.Now().Add(5 * time.Second))
	extra.Write([]byte("over the limit"))
	b, err := io.ReadAll(extra)
	var ne net.Error
	if len(b) > 0 || errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("4th connection over a limit of 3: read %q, %v; want it closed with nothing echoed", b, err)
	}

	open[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for srv.Active() > 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if got, err := roundTrip(c, []byte("again")); err != nil || string(got) != "again" {
		t.Errorf("after a slot freed: %q %v", got, err)
	}
}

func TestIdleTimeout(t *testing.T) {
	const idle = time.Second
	addr, _ := serveTCP(t, "127.0.0.1", 0, idle)
	dial := func(t *testing.T) net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(20 * time.Second))
		return c
	}

	t.Run("silent client is closed", func(t *testing.T) {
		t.Parallel()
		start := time.Now() // before the server can start its timer
		c := dial(t)
		b, err := io.ReadAll(c)
		if err != nil || len(b) != 0 {
			t.Fatalf("read %q, %v: want the server to close", b, err)
		}
		if took := time.Since(start); took < idle {
			t.Errorf("closed after %v, before the idle timeout of %v", took, idle)
		}
	})

	t.Run("talking client stays", func(t *testing.T) {
		t.Parallel()
		c := dial(t)
		for i := range 25 { // 2.5 s, well past the idle timeout
			msg := []byte("tick " + strconv.Itoa(i))
			if got, err := roundTrip(c, msg); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("tick %d: %q %v", i, got, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("client that stops reading is cut off", func(t *testing.T) {
		t.Parallel()
		c := dial(t)
		// Write without reading: the echo fills every buffer, the server's
		// write blocks, and after the idle timeout it gives up.
		chunk := make([]byte, 1<<20)
		var err error
		for i := 0; i < 500 && err == nil; i++ {
			_, err = c.Write(chunk)
		}
		var ne net.Error
		if err == nil || errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("writing 500 MiB without reading: %v; want the server to close the connection", err)
		}
	})
}

// The built binary: TCP and UDP on the PORT from the environment, both
// families, the healthcheck, and SIGTERM exits 0 at once with a client still
// connected.
func TestBinaryServesChecksAndStops(t *testing.T) {
	p := svctest.StartBinary(t, "socketlab/services/echo/cmd", "--idle-timeout", "1m")
	// One line per listener, TCP first: StartBinary read the first.
	if l, _ := p.NextLog(10 * time.Second); !strings.Contains(l, `"msg":"listening"`) {
		t.Fatalf("log line: %q", l)
	}

	var idle net.Conn
	for _, fam := range svctest.Families {
		addr := net.JoinHostPort(svctest.Loopbacks[fam], strconv.Itoa(p.Port))
		for _, network := range []string{"tcp", "udp"} {
			c, err := net.Dial(network, addr)
			if err != nil {
				t.Fatalf("%s %s: %v", network, fam, err)
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			msg := []byte(network + " over " + fam)
			got, err := roundTrip(c, msg)
			if err != nil || !bytes.Equal(got, msg) {
				t.Errorf("%s %s: %q %v", network, fam, got, err)
			}
			if network == "tcp" && idle == nil {
				idle = c
				defer c.Close()
			} else {
				c.Close()
			}
		}
	}

	p.Healthy(t)
	p.Stop(t, time.Second) // with an idle client connected
	if b, err := io.ReadAll(idle); err != nil || len(b) != 0 {
		t.Errorf("idle client after SIGTERM: %q %v, want a clean close", b, err)
	}
}

// The healthcheck fails when TCP answers but UDP does not.
func TestHealthcheckNeedsUDP(t *testing.T) {
	bin := svctest.Binary(t, "socketlab/services/echo/cmd")
	tcpOnly := svctest.FakeTCP(t, func(net.Conn) {})
	_, port, _ := net.SplitHostPort(tcpOnly)
	b, err := exec.Command(bin, "healthcheck", "--port", port, "--timeout", "300ms").CombinedOutput()
	if err == nil || !strings.Contains(string(b), "unhealthy") {
		t.Errorf("healthcheck of a TCP-only port: %v %s", err, b)
	}
}

func TestBinaryUsage(t *testing.T) {
	svctest.CheckUsage(t, "socketlab/services/echo/cmd", []svctest.Usage{
		{Name: "help names the flags", Args: []string{"--help"}, Code: 0, Want: "--idle-timeout"},
		{Name: "negative max-conns", Args: []string{"--port", "0", "--max-conns", "-1"}, Code: 2, Want: "--max-conns must be 0 (no limit) or more"},
		{Name: "negative idle", Args: []string{"--port", "0", "--idle-timeout", "-1s"}, Code: 2, Want: "--idle-timeout must be 0 (never) or more"},
		{Name: "bad duration", Args: []string{"--idle-timeout", "soon"}, Code: 2, Want: `invalid argument "soon"`},
	})
}

var opts = probe.Options{Timeout: 5 * time.Second}

func TestClientRoundTrips(t *testing.T) {
	tcp4, _ := serveTCP(t, "127.0.0.1", 0, 0)
	tcp6, _ := serveTCP(t, "::1", 0, 0)
	udp4 := svctest.ServeUDP(t, NewPacketServer(), "127.0.0.1")
	udp6 := svctest.ServeUDP(t, NewPacketServer(), "::1")
	cases := []struct {
		name, target string
		load         Load
		family       string
	}{
		{"tcp v4 message", tcp4, Load{Payload: []byte("hello")}, "IPv4"},
		{"tcp v6 message", tcp6, Load{Payload: []byte("hello\n")}, "IPv6"},
		{"tcp empty", tcp4, Load{}, "IPv4"},
		{"tcp load 64 B", tcp6, Load{Payload: Generate(64), Count: 500}, "IPv6"},
		{"tcp 2 MiB twice", tcp4, Load{Payload: Generate(2 << 20), Count: 2}, "IPv4"},
		{"udp v4 message", udp4, Load{Payload: []byte("hello"), UDP: true}, "IPv4"},
		{"udp v6 load", udp6, Load{Payload: Generate(1000), Count: 300, UDP: true}, "IPv6"},
		{"udp empty datagram", udp6, Load{UDP: true}, "IPv6"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := opts
			o.Timeout = 20 * time.Second
			r := Run(context.Background(), o, c.target, c.load)
			if !r.OK && r.Error != "" {
				t.Fatalf("%s (%s)", r.Error, r.ErrorKind)
			}
			n := max(c.load.Count, 1)
			want := int64(n * len(c.load.Payload))
			if r.Family != c.family || r.BytesSent != want || r.BytesReceived != want || r.Details["round_trips"] != n {
				t.Errorf("family %s, sent %d, received %d, round trips %v; want %s, %d, %d, %d",
					r.Family, r.BytesSent, r.BytesReceived, r.Details["round_trips"], c.family, want, want, n)
			}
			if len(c.load.Payload) <= maxShown && (r.Sent != string(c.load.Payload) || r.Received != r.Sent) {
				t.Errorf("sent %q, received %q", r.Sent, r.Received)
			}
			if !c.load.UDP && r.Details["close"] != "clean" {
				t.Errorf("close: %v, want clean", r.Details["close"])
			}
			lat := r.Details["rtt_us"].(Latency)
			if lat.Min <= 0 || lat.Min > lat.P50 || lat.P50 > lat.P99 || lat.P99 > lat.Max {
				t.Errorf("latencies out of order: %+v", lat)
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	free := "127.0.0.1:" + strconv.Itoa(svctest.FreePort(t))
	silent := svctest.SilentUDP(t, "127.0.0.1")
	upper := svctest.FakeTCP(t, func(c net.Conn) {
		b := make([]byte, 100)
		n, _ := c.Read(b)
		c.Write(bytes.ToUpper(b[:n]))
		io.Copy(io.Discard, c)
	})
	chatty := svctest.FakeTCP(t, func(c net.Conn) { // echoes, then adds to it after the half-close
		io.Copy(c, c)
		c.Write([]byte("bye"))
	})
	early := svctest.FakeTCP(t, func(c net.Conn) {
		b := make([]byte, 5)
		io.ReadFull(c, b)
		c.Write(b[:3]) // and close: 2 bytes short
	})
	cases := []struct {
		name, target string
		load         Load
		timeout      time.Duration
		kind         result.Kind
		msg          string
	}{
		{"tcp refused", free, Load{Payload: []byte("x")}, 0, result.Refused, "connection refused by " + free},
		{"udp refused", free, Load{Payload: []byte("x"), UDP: true}, 0, result.Refused, "connection refused by " + free + " (ICMP port unreachable: nothing listens there)"},
		{"udp silence", silent, Load{Payload: []byte("x"), UDP: true}, 300 * time.Millisecond, result.Timeout, "no reply from " + silent + " within 300ms"},
		{"wrong bytes", upper, Load{Payload: []byte("hello")}, 0, result.Protocol, `echo of message 1 differs at byte 0: sent "hello", got "HELLO"`},
		{"extra bytes", chatty, Load{Payload: []byte("hello")}, 0, result.Protocol, chatty + ` sent 3 bytes more than it was sent: "bye"`},
		{"closed early", early, Load{Payload: []byte("hello")}, 0, result.Protocol, early + " closed the connection after echoing 3 of 5 bytes of message 1"},
		{"-6 with a v4 address", free, Load{Payload: []byte("x")}, 0, result.Usage, "127.0.0.1 is an IPv4 address but IPv6 was asked for"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := opts
			if c.timeout > 0 {
				o.Timeout = c.timeout
			}
			o.V6 = strings.HasPrefix(c.name, "-6")
			ctx, cancel := o.Context(context.Background())
			defer cancel()
			r := Run(ctx, o, c.target, c.load)
			if r.ErrorKind != c.kind || r.Error != c.msg {
				t.Errorf("got kind %q error %q\nwant kind %q error %q", r.ErrorKind, r.Error, c.kind, c.msg)
			}
		})
	}
}

// runCommand runs "sock echo args..." in process and returns stdout, stderr
// and the exit status.
func runCommand(stdin string, args ...string) (string, string, int) {
	return svctest.RunCommand(ClientCommand(), stdin, args...)
}

func TestClientCommand(t *testing.T) {
	tcp, _ := serveTCP(t, "::1", 0, 0)
	udp := svctest.ServeUDP(t, NewPacketServer(), "127.0.0.1")
	free := "127.0.0.1:" + strconv.Itoa(svctest.FreePort(t))

	t.Run("message from args", func(t *testing.T) {
		out, errs, code := runCommand("", tcp, "hello", "world")
		if code != 0 || out != "hello world\n" || errs != "" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
		}
	})
	t.Run("message from stdin", func(t *testing.T) {
		out, _, code := runCommand("line one\nline two\n", "--udp", udp)
		if code != 0 || out != "line one\nline two\n" {
			t.Errorf("exit %d, stdout %q", code, out)
		}
	})
	t.Run("load summary", func(t *testing.T) {
		out, _, code := runCommand("", "--count", "50", "--size", "64", tcp)
		if code != 0 || !strings.HasPrefix(out, "50 round trips of 64 bytes with "+tcp+" over IPv6 (tcp): rtt min ") {
			t.Errorf("exit %d, stdout %q", code, out)
		}
	})
	t.Run("json", func(t *testing.T) {
		out, _, code := runCommand("", "--json", "--udp", "-n", "3", udp, "ping")
		var r map[string]any
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
		}
		d, _ := r["details"].(map[string]any)
		rtt, _ := d["rtt_us"].(map[string]any)
		if code != 0 || r["ok"] != true || r["network"] != "udp" || r["family"] != "IPv4" ||
			r["sent"] != "ping" || r["received"] != "ping" || r["bytes_sent"] != 12.0 ||
			d["round_trips"] != 3.0 || rtt["p50"] == nil || r["remote"] != udp {
			t.Errorf("exit %d, json %s", code, out)
		}
	})
	t.Run("json refused", func(t *testing.T) {
		out, errs, code := runCommand("", "--json", free, "x")
		var r map[string]any
		json.Unmarshal([]byte(out), &r)
		if code != 1 || errs != "" || r["ok"] != false || r["error_kind"] != "refused" || r["error"] != "connection refused by "+free {
			t.Errorf("exit %d, stderr %q, json %s", code, errs, out)
		}
	})
	t.Run("text refused", func(t *testing.T) {
		out, errs, code := runCommand("", free, "x")
		if code != 1 || out != "" || errs != "echo: connection refused by "+free+"\n" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
		}
	})
	usage := []struct {
		name string
		args []string
		want string
	}{
		{"count 0", []string{"--count", "0", tcp, "x"}, "--count 0: want 1 or more"},
		{"size and message", []string{"--size", "10", tcp, "x"}, "give a MESSAGE or --size, not both"},
		{"bad port", []string{"host:99999", "x"}, `bad port "99999" in host:99999`},
	}
	for _, u := range usage {
		t.Run(u.name, func(t *testing.T) {
			_, errs, code := runCommand("", u.args...)
			if code != 2 || !strings.Contains(errs, u.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errs, u.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration(100-i) * time.Microsecond // 100 µs down to 1 µs
	}
	got := Summarize(d)
	if want := (Latency{Min: 1, P50: 51, P99: 100, Max: 100}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := Summarize(nil); got != (Latency{}) {
		t.Errorf("empty: %+v", got)
	}
}

// BenchmarkTCPRoundTrip64 is one connection sending 64 bytes and waiting for
// them back; it reports the p50 and p99 round trip too.
func BenchmarkTCPRoundTrip64(b *testing.B) {
	for _, fam := range svctest.Families {
		b.Run(fam, func(b *testing.B) {
			addr, _ := serveTCP(b, svctest.Loopbacks[fam], 0, time.Minute)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			msg, got := Generate(64), make([]byte, 64)
			rtts := make([]time.Duration, 0, 1<<16)
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, got); err != nil {
					b.Fatal(err)
				}
				if len(rtts) < cap(rtts) {
					rtts = append(rtts, time.Since(t0))
				}
			}
			lat := Summarize(rtts)
			b.ReportMetric(lat.P50, "p50-µs")
			b.ReportMetric(lat.P99, "p99-µs")
		})
	}
}

// BenchmarkTCPStream is one connection streaming 256 KiB writes while a
// second goroutine reads the echo: MB/s is the throughput each way.
func BenchmarkTCPStream(b *testing.B) {
	addr, _ := serveTCP(b, "127.0.0.1", 0, time.Minute)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	chunk := Generate(256 << 10)
	b.SetBytes(int64(len(chunk)))
	done := make(chan error, 1)
	go func() {
		// A large buffer: io.Discard's own 8 KiB one would measure the reader.
		buf := make([]byte, 256<<10)
		var err error
		for left, n := int64(b.N)*int64(len(chunk)), 0; left > 0 && err == nil; left -= int64(n) {
			n, err = c.Read(buf[:min(left, int64(len(buf)))])
		}
		done <- err
	}()
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkUDPRoundTrip64 is one socket sending a 64-byte datagram and
// waiting for the echo.
func BenchmarkUDPRoundTrip64(b *testing.B) {
	for _, fam := range svctest.Families {
		b.Run(fam, func(b *testing.B) {
			addr := svctest.ServeUDP(b, NewPacketServer(), svctest.Loopbacks[fam])
			c, err := net.Dial("udp", addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			msg, buf := Generate(64), make([]byte, 128)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, err := c.Read(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// One host cannot take every slot: the binary's default cap per source
// refuses the 101st connection from 127.0.0.1 and still serves 127.0.0.2;
// MAX_PER_IP in the environment sets the cap, as --max-per-ip does.
func TestPerSourceCap(t *testing.T) {
	served := func(c net.Conn) error {
		got, err := roundTrip(c, []byte("hi"))
		if err != nil || string(got) != "hi" {
			return fmt.Errorf("echo %q, %v; want \"hi\"", got, err)
		}
		return nil
	}
	refused := func(c net.Conn) error {
		c.Write([]byte("over the cap"))
		b, err := io.ReadAll(c)
		var ne net.Error
		if len(b) > 0 || errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("read %q, %v; want the connection closed with nothing echoed", b, err)
		}
		return nil
	}
	t.Run("default", func(t *testing.T) {
		p := svctest.StartBinary(t, "socketlab/services/echo/cmd", "--quiet")
		svctest.CheckPerSourceCap(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)), DefaultMaxPerIP, served, refused)
	})
	t.Run("MAX_PER_IP", func(t *testing.T) {
		t.Setenv("MAX_PER_IP", "3")
		p := svctest.StartBinary(t, "socketlab/services/echo/cmd", "--quiet")
		svctest.CheckPerSourceCap(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)), 3, served, refused)
	})
}
