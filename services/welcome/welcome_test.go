package welcome

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"socketlab/services/internal/probe"
	"socketlab/services/internal/svctest"
)

func TestGreetingNamesPeerAndFamily(t *testing.T) {
	for _, fam := range svctest.Families {
		t.Run(fam, func(t *testing.T) {
			t.Parallel()
			addr := svctest.ServeTCP(t, NewServer(DefaultGreeting, time.Second), svctest.Loopbacks[fam])
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			b, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read: %v (want a clean close)", err)
			}
			// The server names the client's own address exactly.
			want := fmt.Sprintf("Welcome to socketlab! You are %s over %s.\n", c.LocalAddr(), fam)
			if string(b) != want {
				t.Errorf("got %q, want %q", b, want)
			}
		})
	}
}

// A client that speaks first must still get the greeting and a FIN, not a reset.
func TestCleanCloseWhenClientSpeaksFirst(t *testing.T) {
	addr := svctest.ServeTCP(t, NewServer("hi {family}", 2*time.Second), "127.0.0.1")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(strings.Repeat("chatter\n", 1000))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the server greet and shut down writing
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v (a reset instead of a clean close)", err)
	}
	if string(b) != "hi IPv4\n" {
		t.Errorf("got %q", b)
	}
}

func TestGreetPlaceholders(t *testing.T) {
	remote := &net.TCPAddr{IP: net.ParseIP("::ffff:10.1.2.3"), Port: 4000}
	local := &net.TCPAddr{IP: net.ParseIP("fd00::1"), Port: 9999}
	got := Greet("{addr}|{host}|{port}|{family}|{local}", remote, local)
	if want := "10.1.2.3:4000|10.1.2.3|4000|IPv4|[fd00::1]:9999"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestClientFetch(t *testing.T) {
	addr := svctest.ServeTCP(t, NewServer(DefaultGreeting, time.Second), "::1")
	ctx := context.Background()
	r := Fetch(ctx, probe.Options{Timeout: 2 * time.Second}, addr, "hello first")
	if !r.OK && r.Error != "" {
		t.Fatalf("fetch failed: %s", r.Error)
	}
	if r.Family != "IPv6" || !strings.Contains(r.Received, r.Local+" over IPv6") || r.Details["close"] != "clean" {
		t.Errorf("result: %+v", r)
	}

	// Nothing listens on port 1: the client says so, with the address.
	r = Fetch(ctx, probe.Options{Timeout: 2 * time.Second}, "127.0.0.1:1", "")
	if r.ErrorKind != probe.KindRefused || r.Error != "connection refused by 127.0.0.1:1" {
		t.Errorf("refused: kind %q error %q", r.ErrorKind, r.Error)
	}
	r = Fetch(ctx, probe.Options{V6: true, Timeout: 2 * time.Second}, "127.0.0.1", "")
	if r.ErrorKind != probe.KindUsage {
		t.Errorf("v4 literal with -6: kind %q error %q", r.ErrorKind, r.Error)
	}
}

// The binary: PORT from the environment, healthcheck, and a SIGTERM that
// ends it with status 0 well under a second when idle.
func TestBinaryServesChecksAndStops(t *testing.T) {
	bin := svctest.Binary(t, "socketlab/services/welcome/cmd")
	port := svctest.FreePort(t)
	cmd := exec.Command(bin, "--greeting", "port {local}")
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(out)
	if !lines.Scan() || !strings.Contains(lines.Text(), `"msg":"listening"`) {
		t.Fatalf("first log line: %q", lines.Text())
	}
	go io.Copy(io.Discard, out)

	for host, fam := range map[string]string{"127.0.0.1": "IPv4", "::1": "IPv6"} {
		c, err := net.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			t.Fatalf("%s: %v", fam, err)
		}
		b, _ := io.ReadAll(c)
		c.Close()
		if want := "port " + net.JoinHostPort(host, strconv.Itoa(port)) + "\n"; string(b) != want {
			t.Errorf("%s: got %q, want %q", fam, b, want)
		}
	}

	hc := exec.Command(bin, "healthcheck", "--port", strconv.Itoa(port))
	if b, err := hc.CombinedOutput(); err != nil || !strings.HasPrefix(string(b), "healthy") {
		t.Errorf("healthcheck: %v %s", err, b)
	}

	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("stopping took %v, want well under a second", took)
	}

	hc = exec.Command(bin, "healthcheck", "--port", strconv.Itoa(port), "--timeout", "500ms")
	if b, err := hc.CombinedOutput(); err == nil || !strings.Contains(string(b), "unhealthy") {
		t.Errorf("healthcheck with no server: %v %s", err, b)
	}
}

func TestBinaryRejectsBadUsage(t *testing.T) {
	bin := svctest.Binary(t, "socketlab/services/welcome/cmd")
	cases := []struct {
		name string
		args []string
		env  string
		want string
	}{
		{"bad env port", nil, "PORT=http", `environment PORT="http" is not a port number`},
		{"port out of range", []string{"--port", "70000"}, "", "--port 70000 is out of range"},
		{"unknown flag", []string{"--bogus"}, "", "unknown flag: --bogus"},
		{"multi-line greeting", []string{"--greeting", "a\nb", "--port", "0"}, "", "--greeting must be one line"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(bin, c.args...)
			cmd.Env = append(os.Environ(), c.env)
			b, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
				t.Errorf("exit: %v, want status 2", err)
			}
			if !strings.Contains(string(b), c.want) {
				t.Errorf("output %q lacks %q", b, c.want)
			}
		})
	}
}
