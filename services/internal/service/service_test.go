package service

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log destination that tests read while servers write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines decodes the JSON log lines written so far.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// waitLog waits until a log line with msg "conn" and the given reason appears.
func waitLog(t *testing.T, buf *syncBuffer, reason string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range buf.lines(t) {
			if l["reason"] == reason {
				return l
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no log line with reason %q in:\n%s", reason, buf.b.String())
	return nil
}

func serveConns(t *testing.T, s *ConnServer, host string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return ln.Addr().String()
}

// echoLine answers one line with the same line and returns.
func echoLine(_ context.Context, c *Conn) error {
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	_, err = io.WriteString(c, line)
	return err
}

func TestConnLogLine(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			var buf syncBuffer
			s := &ConnServer{Name: "t", Handler: echoLine, Log: slog.New(slog.NewJSONHandler(&buf, nil))}
			addr := serveConns(t, s, host)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(c, "hello\n")
			got, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if got != "hello\n" {
				t.Fatalf("echo %q", got)
			}
			l := waitLog(t, &buf, "peer closed")
			fam := map[string]string{"127.0.0.1": "IPv4", "::1": "IPv6"}[host]
			if l["peer"] != c.LocalAddr().String() || l["local"] != addr || l["family"] != fam ||
				l["bytes_in"] != 6.0 || l["bytes_out"] != 6.0 || l["duration_ms"] == nil {
				t.Errorf("log line %v", l)
			}
		})
	}
}

func TestMaxConnsRejects(t *testing.T) {
	var buf syncBuffer
	block := make(chan struct{})
	s := &ConnServer{
		Name:     "t",
		MaxConns: 2,
		Handler:  func(ctx context.Context, c *Conn) error { <-block; return nil },
		Reject:   func(c net.Conn, _ error) { io.WriteString(c, "busy\n") },
		Log:      slog.New(slog.NewJSONHandler(&buf, nil)),
	}
	addr := serveConns(t, s, "127.0.0.1")
	defer close(block)
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	for s.Active() < 2 {
		time.Sleep(time.Millisecond)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, _ := io.ReadAll(c)
	if string(b) != "busy\n" {
		t.Errorf("third connection got %q, want the reject line and a close", b)
	}
	waitLog(t, &buf, "max connections reached")
}

func TestIdleTimeoutCloses(t *testing.T) {
	var buf syncBuffer
	s := &ConnServer{Name: "t", Handler: echoLine, IdleTimeout: 50 * time.Millisecond,
		Log: slog.New(slog.NewJSONHandler(&buf, nil))}
	addr := serveConns(t, s, "::1")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("read after idle: %v, want EOF (the server closed)", err)
	}
	waitLog(t, &buf, "idle timeout")
}

// Shutdown wakes a handler blocked in Read at once and returns nil; a
// handler that ignores the wake-up is closed when the drain ends.
func TestShutdown(t *testing.T) {
	t.Run("wakes blocked readers", func(t *testing.T) {
		s := &ConnServer{Name: "t", Handler: func(ctx context.Context, c *Conn) error {
			_, err := io.Copy(io.Discard, c)
			return err
		}}
		addr := serveConns(t, s, "127.0.0.1")
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for s.Active() < 1 {
			time.Sleep(time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("shutdown took %v with an idle reader", took)
		}
		if _, err := net.Dial("tcp", addr); err == nil {
			t.Error("still accepting after shutdown")
		}
	})
	t.Run("forces stragglers when the drain ends", func(t *testing.T) {
		stuck := make(chan struct{})
		defer close(stuck)
		s := &ConnServer{Name: "t", Handler: func(ctx context.Context, c *Conn) error {
			<-stuck // ignores ctx and deadlines
			return nil
		}}
		addr := serveConns(t, s, "127.0.0.1")
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for s.Active() < 1 {
			time.Sleep(time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		go func() { time.Sleep(200 * time.Millisecond); stuck <- struct{}{} }()
		if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("shutdown: %v, want the drain's deadline", err)
		}
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Error("connection still open after a forced shutdown")
		}
	})
}

func TestDatagramsOneReplyEach(t *testing.T) {
	var buf syncBuffer
	d := &Datagrams{Name: "t", Log: slog.New(slog.NewJSONHandler(&buf, nil)), DropLogInterval: 50 * time.Millisecond,
		Handle: func(src netip.AddrPort, in, out []byte) ([]byte, string) {
			if string(in) == "drop" {
				return nil, "dropped"
			}
			return append(out[:0], strings.ToUpper(string(in))...), "replied"
		}}
	pc, err := net.ListenPacket("udp", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	go d.ServePacket(pc)
	defer d.Shutdown(context.Background())
	c, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("drop"))
	c.Write([]byte("hello"))
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	b := make([]byte, 100)
	n, err := c.Read(b)
	if err != nil || string(b[:n]) != "HELLO" {
		t.Fatalf("reply %q, %v", b[:n], err)
	}
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := c.Read(b); err == nil {
		t.Errorf("a second reply: %q", b[:n])
	}
	l := waitLog(t, &buf, "replied")
	var drops map[string]any
	for deadline := time.Now().Add(5 * time.Second); drops == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, l := range buf.lines(t) {
			if l["msg"] == "datagrams dropped" {
				drops = l
			}
		}
	}
	if drops == nil || drops["count"] != 1.0 {
		t.Errorf("drops logged as %v within 5s of an interval of 50ms; want a count of 1", drops)
	}
	if l["family"] != "IPv6" || l["bytes_in"] != 5.0 || l["bytes_out"] != 5.0 {
		t.Errorf("log line %v", l)
	}
}

func TestCheckTCP(t *testing.T) {
	closes := &ConnServer{Name: "t", Handler: func(_ context.Context, c *Conn) error {
		io.WriteString(c, "hi\n")
		_, err := io.Copy(io.Discard, c)
		return err
	}}
	neverCloses := &ConnServer{Name: "t", Handler: func(ctx context.Context, c *Conn) error {
		<-ctx.Done()
		return nil
	}}
	cases := []struct {
		name string
		addr string
		want string // "" for healthy
	}{
		{"answers and closes after our FIN", serveConns(t, closes, "127.0.0.1"), ""},
		{"accepts but never closes", serveConns(t, neverCloses, "::1"), "connected, but no clean close"},
		{"nothing listens", "127.0.0.1:1", "connection refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			err := CheckTCP(ctx, c.addr)
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Errorf("CheckTCP = %v, want %q", err, c.want)
			}
		})
	}
}

// TestHealthCheckMarked: the log line of the healthcheck's own connection or
// datagram carries "healthcheck": true, a person's does not, and the check
// said nothing on the wire a person would not.
func TestHealthCheckMarked(t *testing.T) {
	t.Run("tcp", func(t *testing.T) {
		var buf syncBuffer
		s := &ConnServer{Name: "t", Log: slog.New(slog.NewJSONHandler(&buf, nil)),
			Handler: func(_ context.Context, c *Conn) error { _, err := io.Copy(io.Discard, c); return err }}
		addr := serveConns(t, s, "127.0.0.1")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := CheckTCP(ctx, addr); err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		person := c.LocalAddr().String()
		c.Close()
		// The two connections end on their own goroutines: their lines come
		// in either order, so each is found by its peer.
		var check, other map[string]any
		for _, l := range waitLines(t, &buf, 2) {
			switch peer, _ := l["peer"].(string); {
			case peer == person:
				other = l
			case strings.HasPrefix(peer, HealthSource.String()+":"):
				check = l
			}
		}
		if check == nil || check[HealthAttr] != true || check["bytes_in"] != 0.0 {
			t.Errorf("the check's line (from %s) is missing or not marked: %v", HealthSource, check)
		}
		if other == nil {
			t.Errorf("no line for the person's connection from %s", person)
		} else if _, ok := other[HealthAttr]; ok {
			t.Errorf("a person's connection is marked as the healthcheck: %v", other)
		}
	})
	t.Run("udp", func(t *testing.T) {
		var buf syncBuffer
		d := &Datagrams{Name: "t", Log: slog.New(slog.NewJSONHandler(&buf, nil)),
			Handle: func(_ netip.AddrPort, in, out []byte) ([]byte, string) { return in, "echoed" }}
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go d.ServePacket(pc)
		defer d.Shutdown(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := CheckUDP(ctx, pc.LocalAddr().String(), []byte("probe")); err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("udp", pc.LocalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("person"))
		lines := waitLines(t, &buf, 2)
		if lines[0][HealthAttr] != true || lines[0]["bytes_in"] != 5.0 {
			t.Errorf("the check's datagram is not marked: %v", lines[0])
		}
		if _, ok := lines[1][HealthAttr]; ok {
			t.Errorf("a person's datagram is marked as the healthcheck: %v", lines[1])
		}
	})
}

// TestDatagramLogLocalIsDestination: on a socket bound to the wildcard, a
// datagram's log line names the address it was sent to, as a connection's
// line does, not [::]:port.
func TestDatagramLogLocalIsDestination(t *testing.T) {
	var buf syncBuffer
	d := &Datagrams{Name: "t", Log: slog.New(slog.NewJSONHandler(&buf, nil)),
		Handle: func(_ netip.AddrPort, in, out []byte) ([]byte, string) { return in, "echoed" }}
	pc, err := net.ListenPacket("udp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	go d.ServePacket(pc)
	defer d.Shutdown(context.Background())
	port := pc.LocalAddr().(*net.UDPAddr).Port
	var want []string
	for _, host := range []string{"127.0.0.1", "::1"} {
		to := net.JoinHostPort(host, strconv.Itoa(port))
		c, err := net.Dial("udp", to)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("x"))
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 10)); err != nil {
			t.Fatalf("no echo from %s: %v", to, err)
		}
		want = append(want, to)
	}
	for i, l := range waitLines(t, &buf, 2) {
		if l["local"] != want[i] {
			t.Errorf("datagram to %s logged with local %v", want[i], l["local"])
		}
	}
}

// waitLines waits until n log lines were written and returns them.
func waitLines(t *testing.T, buf *syncBuffer, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if l := buf.lines(t); len(l) >= n {
			return l
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("fewer than %d log lines in:\n%s", n, buf.b.String())
	return nil
}

// TestListenErrorSaysItOnce: a port in use is reported once, with what to
// do, not "listen tcp :P: listen tcp :P: bind: ...".
func TestListenErrorSaysItOnce(t *testing.T) {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	spec := Spec{Name: "t", Port: 1, Start: func(*Runtime) (Servers, error) {
		return Servers{TCP: &ConnServer{Handler: echoLine}}, nil
	}}
	var out, errb bytes.Buffer
	code := Run(context.Background(), spec, []string{"--port", port}, &out, &errb)
	want := "t: listen tcp :" + port + ": bind: address already in use (another program serves that port: stop it, or pick another with --port or PORT)\n"
	if code != 1 || errb.String() != want {
		t.Errorf("exit %d, stderr %q\nwant %q", code, errb.String(), want)
	}
}
