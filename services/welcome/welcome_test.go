package welcome

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"socketlab/internal/result"
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
	if r.ErrorKind != result.Refused || r.Error != "connection refused by 127.0.0.1:1" {
		t.Errorf("refused: kind %q error %q", r.ErrorKind, r.Error)
	}
	r = Fetch(ctx, probe.Options{V6: true, Timeout: 2 * time.Second}, "127.0.0.1", "")
	if r.ErrorKind != result.Usage {
		t.Errorf("v4 literal with -6: kind %q error %q", r.ErrorKind, r.Error)
	}
}

// The binary: PORT from the environment, healthcheck, and a SIGTERM that
// ends it with status 0 well under a second when idle.
func TestBinaryServesChecksAndStops(t *testing.T) {
	p := svctest.StartBinary(t, "socketlab/services/welcome/cmd", "--greeting", "port {local}")
	for host, fam := range map[string]string{"127.0.0.1": "IPv4", "::1": "IPv6"} {
		c, err := net.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(p.Port)))
		if err != nil {
			t.Fatalf("%s: %v", fam, err)
		}
		b, _ := io.ReadAll(c)
		c.Close()
		if want := "port " + net.JoinHostPort(host, strconv.Itoa(p.Port)) + "\n"; string(b) != want {
			t.Errorf("%s: got %q, want %q", fam, b, want)
		}
	}
	p.Healthy(t)
	p.Stop(t, time.Second)
	p.Unhealthy(t)
}

func TestBinaryRejectsBadUsage(t *testing.T) {
	svctest.CheckUsage(t, "socketlab/services/welcome/cmd", []svctest.Usage{
		{Name: "bad env port", Env: []string{"PORT=http"}, Code: 2, Want: `environment PORT="http" is not a port number`},
		{Name: "port out of range", Args: []string{"--port", "70000"}, Code: 2, Want: "--port 70000 is out of range"},
		{Name: "unknown flag", Args: []string{"--bogus"}, Code: 2, Want: "unknown flag: --bogus"},
		{Name: "multi-line greeting", Args: []string{"--greeting", "a\nb", "--port", "0"}, Code: 2, Want: "--greeting must be one line"},
	})
}

// TestClientSaysHowTheServerClosed: in text mode, sock welcome prints the
// greeting and then how the server closed, as its help says.
func TestClientSaysHowTheServerClosed(t *testing.T) {
	clean := svctest.ServeTCP(t, NewServer("hi {family}", time.Second), "127.0.0.1")
	reset := svctest.FakeTCP(t, func(c net.Conn) {
		io.WriteString(c, "bye")
		time.Sleep(50 * time.Millisecond) // the greeting first, then the reset
		c.(*net.TCPConn).SetLinger(0)
	})
	for _, c := range []struct {
		name, addr, stdout string
		code               int
	}{
		{"clean", clean, "hi IPv4\n(the server closed the connection cleanly: FIN)\n", 0},
		{"reset", reset, "bye\n(the server reset the connection: RST)\n", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := ClientCommand()
			var out, errb bytes.Buffer
			cmd.SetArgs([]string{"--timeout", "2s", c.addr})
			cmd.SetOut(&out)
			cmd.SetErr(&errb)
			cmd.SilenceErrors, cmd.SilenceUsage = true, true
			err := cmd.Execute()
			code := 0
			var ee probe.ExitError
			if errors.As(err, &ee) {
				code = ee.Code
			}
			if out.String() != c.stdout || code != c.code {
				t.Errorf("exit %d (%v), stdout %q, stderr %q\nwant exit %d, stdout %q", code, err, out.String(), errb.String(), c.code, c.stdout)
			}
		})
	}
}
