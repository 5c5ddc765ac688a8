package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"socketlab/services/internal/peer"
	"socketlab/services/internal/svctest"
)

// roundTrip sends one request on a fresh connection to addr and parses the
// answer; it returns the response and the client's own address.
func roundTrip(t *testing.T, addr, method, path string) (*Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: test\r\nUser-Agent: tester\r\nConnection: close\r\n\r\n", method, path)
	resp, err := ParseResponse(c, method, Limits{})
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp, peer.String(c.LocalAddr())
}

// The page and /whoami name the client's address, port and family as the
// server saw them; an IPv4 client of a dual-stack socket is IPv4.
func TestServerNamesClient(t *testing.T) {
	cases := []struct{ name, listen, dial, family string }{
		{"IPv4", "127.0.0.1", "127.0.0.1", peer.IPv4},
		{"IPv6", "::1", "::1", peer.IPv6},
		{"IPv4 on a dual-stack socket", "::", "127.0.0.1", peer.IPv4},
		{"IPv6 on a dual-stack socket", "::", "::1", peer.IPv6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := svctest.ServeTCP(t, NewServer(nil), c.listen)
			_, port, _ := net.SplitHostPort(srv)
			addr := net.JoinHostPort(c.dial, port)

			resp, local := roundTrip(t, addr, "GET", "/")
			ap, _ := net.ResolveTCPAddr("tcp", local)
			for _, want := range []string{
				fmt.Sprintf("<p>You are <strong>%s</strong> over <strong>%s</strong>.</p>", local, c.family),
				fmt.Sprintf("<tr><th>your address</th><td>%s</td></tr>", ap.IP),
				fmt.Sprintf("<tr><th>your port</th><td>%d</td></tr>", ap.Port),
				fmt.Sprintf("<tr><th>server address</th><td>%s</td></tr>", net.JoinHostPort(c.dial, port)),
			} {
				if !strings.Contains(string(resp.Body), want) {
					t.Errorf("page lacks %q:\n%s", want, resp.Body)
				}
			}
			if ct := resp.Get("Content-Type"); ct != "text/html; charset=utf-8" || resp.Framing != FramingLength {
				t.Errorf("page: Content-Type %q framing %s", ct, resp.Framing)
			}

			resp, local = roundTrip(t, addr, "GET", "/whoami")
			ap, _ = net.ResolveTCPAddr("tcp", local)
			want := fmt.Sprintf("address: %s\nip: %s\nport: %d\nfamily: %s\nserver: %s\n", local, ap.IP, ap.Port, c.family, net.JoinHostPort(c.dial, port))
			if string(resp.Body) != want || resp.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("/whoami: %q, want %q", resp.Body, want)
			}

			resp, _ = roundTrip(t, addr, "GET", "/ip")
			if string(resp.Body) != c.dial+"\n" {
				t.Errorf("/ip: %q, want %q", resp.Body, c.dial+"\n")
			}
		})
	}
}

func TestServerEndpoints(t *testing.T) {
	addr := svctest.ServeTCP(t, NewServer(nil), "127.0.0.1")
	cases := []struct {
		method, path string
		status       int
		framing      string
		body         string // exact, or a prefix when it ends with "..."
		header       map[string]string
		trailer      []Field
	}{
		{"GET", "/healthz", 200, FramingLength, "ok\n", nil, nil},
		{"HEAD", "/", 200, FramingNone, "", map[string]string{"Content-Type": "text/html; charset=utf-8"}, nil},
		{"GET", "/nope", 404, FramingLength, "404 not found: /nope\n...", nil, nil},
		{"POST", "/", 405, FramingLength, "method POST not allowed: use GET or HEAD\n", map[string]string{"Allow": "GET, HEAD"}, nil},
		{"GET", "/chunked?n=3", 200, FramingChunked, "chunk 1 of 3 for 127.0.0.1:...", map[string]string{"Trailer": "X-Chunk-Count"}, []Field{{"X-Chunk-Count", "3"}}},
		{"GET", "/chunked?n=0", 400, FramingLength, "n must be a number of chunks from 1 to 100\n", nil, nil},
		{"GET", "/close", 200, FramingClose, "This body has no length: it ends when the server closes the connection.\nYou are 127.0.0.1:...", map[string]string{"Connection": "close"}, nil},
		{"HEAD", "/close", 200, FramingNone, "", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			t.Parallel()
			resp, _ := roundTrip(t, addr, c.method, c.path)
			if resp.StatusCode != c.status || resp.Framing != c.framing {
				t.Errorf("status %d framing %s, want %d %s", resp.StatusCode, resp.Framing, c.status, c.framing)
			}
			body := string(resp.Body)
			if p, ok := strings.CutSuffix(c.body, "..."); ok && !strings.HasPrefix(body, p) || !ok && body != c.body {
				t.Errorf("body %q, want %q", body, c.body)
			}
			for k, v := range c.header {
				if got := resp.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if fmt.Sprint(resp.Trailer) != fmt.Sprint(c.trailer) {
				t.Errorf("trailer %q, want %q", resp.Trailer, c.trailer)
			}
		})
	}
	// /chunked really sends one chunk per line.
	resp, _ := roundTrip(t, addr, "GET", "/chunked?n=4")
	if resp.Chunks != 4 || strings.Count(string(resp.Body), "\n") != 4 {
		t.Errorf("/chunked?n=4: %d chunks, body %q", resp.Chunks, resp.Body)
	}
}

func TestServerLogsEachRequest(t *testing.T) {
	var logs svctest.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil)).With("service", "web")
	addr := svctest.ServeTCP(t, NewServer(log), "::1")
	_, local := roundTrip(t, addr, "GET", "/whoami?x=1")
	_, _ = roundTrip(t, addr, "HEAD", "/")
	_, _ = roundTrip(t, addr, "GET", "/missing")

	type line struct {
		Msg, Service, Peer, Local, Family, Method, Path, Proto string
		Status                                                 int
		Bytes                                                  int64
		DurationMS                                             *float64 `json:"duration_ms"`
	}
	var got []line
	deadline := time.Now().Add(2 * time.Second)
	for len(got) < 3 && time.Now().Before(deadline) {
		got = nil
		for _, s := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var l line
			if s != "" && json.Unmarshal([]byte(s), &l) == nil {
				got = append(got, l)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(got) != 3 {
		t.Fatalf("log lines: %q", logs.String())
	}
	first := got[0]
	if first.Msg != "request" || first.Service != "web" || first.Peer != local || first.Local != addr ||
		first.Family != "IPv6" || first.Method != "GET" || first.Path != "/whoami" || first.Proto != "HTTP/1.1" ||
		first.Status != 200 || first.Bytes == 0 || first.DurationMS == nil {
		t.Errorf("log line: %+v", first)
	}
	if got[1].Method != "HEAD" || got[1].Bytes != 0 || got[2].Status != 404 {
		t.Errorf("log lines: %+v", got[1:])
	}
}

// The binary: PORT from the environment, the page over both families, the
// healthcheck (GET /healthz), and SIGTERM ending it with status 0 quickly.
func TestBinaryServesChecksAndStops(t *testing.T) {
	p := svctest.StartBinary(t, "socketlab/services/web/cmd")
	port := strconv.Itoa(p.Port)
	for _, fam := range svctest.Families {
		host := svctest.Loopbacks[fam]
		resp, local := roundTrip(t, net.JoinHostPort(host, port), "GET", "/")
		if want := fmt.Sprintf("You are <strong>%s</strong> over <strong>%s</strong>", local, fam); !strings.Contains(string(resp.Body), want) {
			t.Errorf("%s: page lacks %q", fam, want)
		}
		if l, ok := p.NextLog(2 * time.Second); !ok {
			t.Errorf("%s: no log line for the request", fam)
		} else if !strings.Contains(l, `"msg":"request"`) || !strings.Contains(l, `"peer":"`+local+`"`) {
			t.Errorf("%s: log line %s", fam, l)
		}
	}

	p.Healthy(t)

	// A connection that has sent nothing yet does not hold up the stop.
	silent, err := net.Dial("tcp", net.JoinHostPort("::1", port))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	time.Sleep(50 * time.Millisecond) // let the server accept it

	p.Stop(t, 2*time.Second)
	p.Unhealthy(t)
}

// The healthcheck wants 200 from /healthz, not just an open port.
func TestCheckWantsHealthz(t *testing.T) {
	unavailable := svctest.FakeTCP(t, func(c net.Conn) {
		io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := Check(ctx, unavailable)
	if err == nil || err.Error() != "GET /healthz: 503 Service Unavailable" {
		t.Errorf("check: %v", err)
	}
	good := svctest.ServeTCP(t, NewServer(nil), "::1")
	if err := Check(ctx, good); err != nil {
		t.Errorf("check of a healthy server: %v", err)
	}
}

func TestBinaryRejectsBadUsage(t *testing.T) {
	svctest.CheckUsage(t, "socketlab/services/web/cmd", []svctest.Usage{
		{Name: "idle timeout 0", Args: []string{"--idle-timeout", "0", "--port", "0"}, Code: 2, Want: "--idle-timeout and --read-header-timeout must be positive"},
	})
}
