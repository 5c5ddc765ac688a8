package lookup

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"socketlab/internal/result"
	"socketlab/services/internal/probe"
	"socketlab/services/internal/svctest"
	"socketlab/services/lookup/frame"
)

var quick = probe.Options{Timeout: 3 * time.Second}

func TestExchange(t *testing.T) {
	ipv6, _ := DefaultGlossary.Lookup("IPv6")
	for _, fam := range svctest.Families {
		t.Run(fam, func(t *testing.T) {
			t.Parallel()
			addr, _ := startServer(t, testConfig, svctest.Loopbacks[fam])
			ctx := context.Background()

			r := Exchange(ctx, quick, addr, NewSearch(ActionSearch, "ipv6"), ExchangeOptions{Raw: true})
			if !r.OK && r.Error != "" || r.Received != ipv6.Definition || r.Family != fam {
				t.Fatalf("search: %+v", r)
			}
			sent := r.Details["wire_sent"].(map[string]any)
			if sent["length_prefix"] != "00 67" || sent["header_length"] != 103 ||
				sent["header"] != `{"byteorder": "`+frame.NativeByteOrder+`", "content-type": "text/json", "content-encoding": "utf-8", "content-length": 37}` ||
				sent["content"] != `{"action": "search", "value": "ipv6"}` {
				t.Errorf("wire_sent: %v", sent)
			}
			got := r.Details["wire_received"].(map[string]any)
			if got["bytes"] != int(r.BytesReceived) || !strings.Contains(got["header"].(string), `"content-type": "text/json"`) {
				t.Errorf("wire_received: %v", got)
			}
			if h := r.Details["response_header"].(map[string]any); h["content-length"] != len(got["content"].(string)) {
				t.Errorf("response header %v vs content %q", h, got["content"])
			}

			r = Exchange(ctx, quick, addr, NewBinary("", []byte("hello\x00world")), ExchangeOptions{Split: 7})
			if r.Error != "" || r.Received != `"First 10 bytes of request: hello\x00worl"` {
				t.Errorf("binary: %q %q", r.Received, r.Error)
			}
		})
	}
}

func TestExchangeFailures(t *testing.T) {
	small := testConfig
	small.MaxContent = 8
	tooSmall, _ := startServer(t, small, "127.0.0.1")
	closes := svctest.FakeTCP(t, func(c net.Conn) { c.Read(make([]byte, 4096)) })
	resets := svctest.FakeTCP(t, func(c net.Conn) {
		c.Read(make([]byte, 4096))
		c.(*net.TCPConn).SetLinger(0)
	})
	halfAnswer := svctest.FakeTCP(t, func(c net.Conn) {
		c.Read(make([]byte, 4096))
		c.Write(rawMsg(`{"byteorder": "big", "content-type": "text/json", "content-encoding": "utf-8", "content-length": 30}`, "{"))
	})
	http := svctest.FakeTCP(t, func(c net.Conn) { io.WriteString(c, "HTTP/1.1 400 Bad Request\r\n\r\n") })
	silent := svctest.FakeTCP(t, func(c net.Conn) { time.Sleep(2 * time.Second) })
	notJSON := svctest.FakeTCP(t, func(c net.Conn) {
		c.Write(rawMsg(`{"byteorder": "big", "content-type": "text/json", "content-encoding": "utf-8", "content-length": 3}`, "abc"))
	})
	cases := []struct {
		name, addr     string
		kind           result.Kind
		text, received string
	}{
		{"error response", tooSmall, result.Protocol, "the server refused the request (content-too-large)",
			"Error: content too large: content-length 36 is over the limit of 8 bytes."},
		{"closes at once", closes, result.Protocol, "closed the connection without answering", ""},
		{"resets", resets, result.Reset, "connection reset by 127.0.0.1:", ""},
		{"answer cut short", halfAnswer, result.Protocol, "closed the connection early", ""},
		{"speaks HTTP", http, result.Protocol, "answered, but not in the lookup protocol: JSON header too large: the length prefix announces 18516 bytes", ""},
		{"never answers", silent, result.Timeout, "within 300ms", ""},
		{"bad JSON answer", notJSON, result.Protocol, "sent text/json content that is not a JSON object", "abc"},
		{"nothing listens", "127.0.0.1:1", result.Refused, "connection refused by 127.0.0.1:1", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := quick
			o.Timeout = 300 * time.Millisecond
			ctx, cancel := o.Context(context.Background())
			defer cancel()
			r := Exchange(ctx, o, c.addr, NewSearch(ActionSearch, "TCP"), ExchangeOptions{})
			if r.ErrorKind != c.kind || !strings.Contains(r.Error, c.text) || r.Received != c.received {
				t.Errorf("got kind %q error %q received %q", r.ErrorKind, r.Error, r.Received)
			}
		})
	}
}

// runClient runs "sock lookup args..." in process and returns stdout,
// stderr and the exit status.
func runClient(stdin string, args ...string) (stdout, stderr string, code int) {
	return svctest.RunCommand(ClientCommand(), stdin, args...)
}

func TestClientCommand(t *testing.T) {
	addr, _ := startServer(t, testConfig, "::1")
	small := testConfig
	small.MaxContent = 8
	tooSmall, _ := startServer(t, small, "127.0.0.1")
	tcp, _ := DefaultGlossary.Lookup("TCP")
	cases := []struct {
		name     string
		stdin    string
		args     []string
		code     int
		out, err string
	}{
		{"search", "", []string{addr, "search", "TCP"}, 0, tcp.Definition + "\n", ""},
		{"search words joined", "", []string{addr, "search", "three", "way", "handshake"}, 0, "A TCP connection opens with three segments", ""},
		{"binary", "", []string{addr, "binary", "hello"}, 0, "First 10 bytes of request: binaryhell\n", ""},
		{"binary from stdin", "piped in", []string{addr, "binary"}, 0, "First 10 bytes of request: binarypipe\n", ""},
		{"raw", "", []string{"--raw", addr, "binary", "hello"}, 0,
			"sent 140 bytes to " + addr + "\n" +
				"  length   00 7f  (127: the JSON header's size, big-endian)\n" +
				`  header   {"byteorder": "` + frame.NativeByteOrder + `", "content-type": "binary/custom-client-binary-type", "content-encoding": "binary", "content-length": 11}` + "\n" +
				"  content  binaryhello\n" +
				"received 166 bytes from " + addr + "\n" +
				"  length   00 7f  (127: the JSON header's size, big-endian)\n", ""},
		{"other action", "", []string{"--action", "dance", addr, "search", "x"}, 0, `Error: invalid action "dance".`, ""},
		{"other content type", "", []string{"--content-type", "image/png", addr, "binary", "PNG"}, 0, "First 10 bytes of request: binaryPNG\n", ""},
		{"server error", "", []string{tooSmall, "search", "TCP"}, 1, "Error: content too large", "lookup: the server refused the request (content-too-large)\n"},
		{"refused", "", []string{"127.0.0.1:1", "search", "TCP"}, 1, "", "lookup: connection refused by 127.0.0.1:1\n"},
		{"unknown request", "", []string{addr, "find", "TCP"}, 2, "", `lookup: unknown request "find": use search TERM or binary TEXT`},
		{"search without a term", "", []string{addr, "search"}, 2, "", "lookup: search needs a TERM"},
		{"too few arguments", "", []string{addr}, 2, "", "requires at least 2 arg(s)"},
		{"json content type as binary", "", []string{"--content-type", "text/json", addr, "binary", "{}"}, 2, "", "would not be binary"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errs, code := runClient(c.stdin, c.args...)
			if code != c.code || !strings.HasPrefix(out, c.out) || !strings.Contains(errs, c.err) {
				t.Errorf("exit %d, stdout %q, stderr %q\nwant exit %d, stdout %q..., stderr with %q", code, out, errs, c.code, c.out, c.err)
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		out, _, code := runClient("", "--json", addr, "search", "UDP")
		var r struct {
			OK       bool   `json:"ok"`
			Family   string `json:"family"`
			Sent     string `json:"sent"`
			Received string `json:"received"`
			Details  struct {
				Request  map[string]any `json:"request_header"`
				Response map[string]any `json:"response_header"`
			} `json:"details"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 {
			t.Fatalf("exit %d, %v: %s", code, err, out)
		}
		if !r.OK || r.Family != "IPv6" || r.Sent != `{"action": "search", "value": "UDP"}` || !strings.HasPrefix(r.Received, "UDP (User Datagram Protocol)") ||
			r.Details.Request["content-type"] != TypeJSON || r.Details.Response["content-length"] == nil {
			t.Errorf("%+v", r)
		}
	})
}

// The binary: PORT from the environment, a real healthcheck, requests over
// both families, and SIGTERM ending it with status 0.
func TestBinaryServesChecksAndStops(t *testing.T) {
	p := svctest.StartBinary(t, "socketlab/services/lookup/cmd")
	for _, host := range []string{"127.0.0.1", "::1"} {
		r := Exchange(context.Background(), quick, net.JoinHostPort(host, strconv.Itoa(p.Port)), NewSearch(ActionSearch, "socket"), ExchangeOptions{})
		if r.Error != "" || !strings.HasPrefix(r.Received, "A socket is") {
			t.Errorf("%s: %+v", host, r)
		}
	}
	if got := p.Healthy(t); !strings.HasPrefix(got, "healthy: lookup answers on 127.0.0.1:") {
		t.Errorf("healthcheck: %s", got)
	}
	joined := strings.Join(p.Stop(t, time.Second), "\n")
	for _, want := range []string{`"msg":"request"`, `"answer":"found socket"`, `"family":"IPv6"`, `"msg":"shutdown"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("logs lack %s:\n%s", want, joined)
		}
	}
}

func TestBinaryRejectsBadFlags(t *testing.T) {
	svctest.CheckUsage(t, "socketlab/services/lookup/cmd", []svctest.Usage{
		{Name: "max-header too small", Args: []string{"--max-header", "10", "--port", "0"}, Code: 2, Want: "--max-header 10 is out of range (64-65535)"},
		{Name: "max-content 0", Args: []string{"--max-content", "0", "--port", "0"}, Code: 2, Want: "--max-content 0 must be at least 1"},
	})
}
