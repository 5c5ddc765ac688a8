package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"socketlab/internal/result"
	"socketlab/services/internal/probe"
	"socketlab/services/internal/svctest"
)

func options(family string) probe.Options {
	return probe.Options{V4: family == "IPv4", V6: family == "IPv6", Timeout: 3 * time.Second}
}

func browse(t *testing.T, o probe.Options, url string, bo BrowseOptions) (*probe.Result, *Page) {
	t.Helper()
	ctx, cancel := o.Context(context.Background())
	defer cancel()
	return Browse(ctx, o, url, bo)
}

// The browser against our server, over each family, by address and by name,
// for each framing the server uses.
func TestBrowseOurServer(t *testing.T) {
	for _, fam := range svctest.Families {
		t.Run(fam, func(t *testing.T) {
			t.Parallel()
			addr := svctest.ServeTCP(t, NewServer(nil), svctest.Loopbacks[fam])
			_, port, _ := net.SplitHostPort(addr)
			for _, host := range []string{"[" + svctest.Loopbacks[fam] + "]", "both.test"} {
				if fam == "IPv4" && host[0] == '[' {
					host = svctest.Loopbacks[fam]
				}
				url := "http://" + host + ":" + port + "/whoami"
				r, pg := browse(t, options(fam), url, BrowseOptions{})
				if r.Error != "" {
					t.Fatalf("%s: %s", url, r.Error)
				}
				ip, p, _ := net.SplitHostPort(r.Local)
				want := fmt.Sprintf("address: %s\nip: %s\nport: %s\nfamily: %s\nserver: %s\n", r.Local, ip, p, fam, addr)
				if r.Family != fam || r.Received != want || r.Remote != addr {
					t.Errorf("%s: family %s remote %s body %q, want %s %s %q", url, r.Family, r.Remote, r.Received, fam, addr, want)
				}
				if r.Details["status"] != 200 || r.Details["framing"] != FramingLength {
					t.Errorf("%s: details %v", url, r.Details)
				}
				// The request on the wire names the host as the URL did.
				if !strings.HasPrefix(r.Sent, "GET /whoami HTTP/1.1\r\nHost: "+host+":"+port+"\r\n") {
					t.Errorf("%s: sent %q", url, r.Sent)
				}
				// Raw holds the whole response as it arrived.
				if !bytes.HasPrefix(pg.Raw, []byte("HTTP/1.1 200 OK\r\n")) || !bytes.HasSuffix(pg.Raw, []byte(want)) {
					t.Errorf("%s: raw %q", url, pg.Raw)
				}
			}

			base := "http://" + addr
			r, pg := browse(t, options(""), base+"/chunked?n=3", BrowseOptions{})
			if r.Error != "" || r.Details["framing"] != FramingChunked || r.Details["chunks"] != 3 ||
				fmt.Sprint(r.Details["trailers"]) != "[X-Chunk-Count: 3]" ||
				r.Received != fmt.Sprintf("chunk 1 of 3 for %[1]s over %[2]s\nchunk 2 of 3 for %[1]s over %[2]s\nchunk 3 of 3 for %[1]s over %[2]s\n", r.Local, fam) {
				t.Errorf("chunked: %+v", r)
			}
			// The raw view shows the chunk sizes as they were on the wire.
			if !bytes.Contains(pg.Raw, []byte("\r\n0\r\nX-Chunk-Count: 3\r\n\r\n")) {
				t.Errorf("chunked raw: %q", pg.Raw)
			}
			r, _ = browse(t, options(""), base+"/close", BrowseOptions{})
			if r.Error != "" || r.Details["framing"] != FramingClose || !strings.Contains(r.Received, "You are "+r.Local+" over "+fam) {
				t.Errorf("close: %+v", r)
			}
			r, _ = browse(t, options(""), base+"/", BrowseOptions{Method: "HEAD"})
			if r.Error != "" || r.Details["framing"] != FramingNone || r.Received != "" || !strings.HasPrefix(r.Sent, "HEAD / HTTP/1.1\r\n") {
				t.Errorf("HEAD: %+v", r)
			}
		})
	}
}

// lookupOrder returns the addresses of name in the order the resolver gives.
func lookupOrder(t *testing.T, name string) []netip.Addr {
	ips, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip", name)
	if err != nil || len(ips) != 2 {
		t.Fatalf("lookup %s: %v %v", name, ips, err)
	}
	return ips
}

// With no -4/-6, the browser tries each address in order and says so.
func TestBrowseTriesEachAddressInOrder(t *testing.T) {
	order := lookupOrder(t, "both.test")
	first, second := order[0].Unmap().String(), order[1].Unmap().String()
	// Only the second address answers; the first refuses.
	addr := svctest.ServeTCP(t, NewServer(nil), second)
	_, port, _ := net.SplitHostPort(addr)
	firstAddr := net.JoinHostPort(first, port)

	var trace bytes.Buffer
	r, _ := browse(t, options(""), "http://both.test:"+port+"/ip", BrowseOptions{Trace: &trace})
	if r.Error != "" || r.Remote != addr || r.Received != second+"\n" {
		t.Fatalf("result: %+v", r)
	}
	attempts := r.Details["attempts"].([]attempt)
	if len(attempts) != 2 || attempts[0].Addr != firstAddr || attempts[0].Kind != result.Refused ||
		attempts[0].Error != "connection refused by "+firstAddr || attempts[1].Addr != addr || attempts[1].Error != "" {
		t.Errorf("attempts: %+v", attempts)
	}
	answers := r.Details["answers"].(map[string][]string)
	if fmt.Sprint(answers["A"]) != "[127.0.0.1]" || fmt.Sprint(answers["AAAA"]) != "[::1]" {
		t.Errorf("answers: %v", answers)
	}
	for _, want := range []string{
		"A 127.0.0.1; AAAA ::1\n",
		"* trying " + firstAddr + " (",
		"connection refused by " + firstAddr + "\n",
		"* trying " + addr + " (",
		"connected from " + r.Local + " in ",
		"> GET /ip HTTP/1.1\n> Host: both.test:" + port + "\n> User-Agent: socketlab-browse/1.0\n> Accept: */*\n> Connection: close\n> \n",
	} {
		if !strings.Contains(trace.String(), want) {
			t.Errorf("trace lacks %q:\n%s", want, trace.String())
		}
	}
}

// Failures say what happened where, with a kind a scenario step can expect.
func TestBrowseErrors(t *testing.T) {
	free := svctest.FreePort(t) // nothing listens there
	port := strconv.Itoa(free)
	order := lookupOrder(t, "both.test")
	both := fmt.Sprintf("connection refused by %s; connection refused by %s",
		netip.AddrPortFrom(order[0].Unmap(), uint16(free)), netip.AddrPortFrom(order[1].Unmap(), uint16(free)))
	cases := []struct {
		name, family, url string
		kind              result.Kind
		want              string
	}{
		{"refused over IPv4", "", "http://127.0.0.1:" + port + "/", result.Refused, "connection refused by 127.0.0.1:" + port},
		{"refused over IPv6", "", "http://[::1]:" + port + "/", result.Refused, "connection refused by [::1]:" + port},
		{"every address refuses", "", "http://both.test:" + port + "/", result.Refused, both},
		{"unresolvable name", "", "http://nonexistent.invalid/", result.Resolve, "cannot resolve nonexistent.invalid: no such host"},
		{"no AAAA record", "IPv6", "http://v4only.test:" + port + "/", result.Resolve, "no AAAA record for v4only.test (it resolves to [127.0.0.1])"},
		{"no A record", "IPv4", "v6only.test:" + port, result.Resolve, "no A record for v6only.test (it resolves to [::1])"},
		{"-6 against an IPv4 literal", "IPv6", "http://127.0.0.1:" + port + "/", result.Usage, "127.0.0.1 is an IPv4 address but IPv6 was asked for"},
		{"-4 against an IPv6 literal", "IPv4", "http://[::1]:" + port + "/", result.Usage, "::1 is an IPv6 address but IPv4 was asked for"},
		{"https", "", "https://web/", result.Usage, "https://web/: https is not supported: this browser speaks plain HTTP only (use http://)"},
		{"bad header", "", "http://127.0.0.1:" + port + "/", result.Usage, `header "X-A 1": no colon in "X-A 1"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var bo BrowseOptions
			if c.name == "bad header" {
				bo.Header = []string{"X-A 1"}
			}
			r, _ := browse(t, options(c.family), c.url, bo)
			if r.Error == "" || r.ErrorKind != c.kind || r.Error != c.want {
				t.Errorf("kind %q error %q\nwant %q %q", r.ErrorKind, r.Error, c.kind, c.want)
			}
		})
	}
}

// fakeServer answers every request on 127.0.0.1 with reply, then waits for
// the client to close (stall) or closes at once. It returns its address and
// a channel that receives each request head it read.
func fakeServer(t *testing.T, reply string, stall bool) (string, <-chan string) {
	t.Helper()
	heads := make(chan string, 10)
	addr := svctest.FakeTCP(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		var head strings.Builder
		for {
			line, err := br.ReadString('\n')
			head.WriteString(line)
			if err != nil || line == "\r\n" {
				break
			}
		}
		heads <- head.String()
		io.WriteString(c, reply)
		if stall {
			io.Copy(io.Discard, c)
		}
	})
	return addr, heads
}

func TestBrowseBadResponses(t *testing.T) {
	cases := []struct {
		name, reply string
		stall       bool
		kind        result.Kind
		want        string // want: the error after the address
		warning     string
	}{
		{"silence", "", false, result.Protocol, "{addr} closed the connection without answering", ""},
		{"not HTTP", "SSH-2.0-OpenSSH\r\n", false, result.Protocol, `bad response from {addr}: bad status line "SSH-2.0-OpenSSH": want "HTTP/1.1 200 OK"`, ""},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, result.Protocol, `bad response from {addr}: chunk 1: bad chunk size "zz": want hex digits`, ""},
		{"body shorter than Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false, result.Protocol, "bad response from {addr}: body ended after 3 of 10 bytes (Content-Length)", ""},
		{"stalls mid-body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true, result.Timeout, "{addr} sent 42 bytes, then nothing more within 500ms", ""},
		{"more bytes than Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiEXTRA", false, "", "", "5 more bytes arrived after the end of the response"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			addr, heads := fakeServer(t, c.reply, c.stall)
			o := options("")
			o.Timeout = 500 * time.Millisecond
			r, pg := browse(t, o, "http://"+addr+"/a/b?c=d", BrowseOptions{Header: []string{"Accept-Language: en"}})
			want := strings.ReplaceAll(c.want, "{addr}", addr)
			if r.ErrorKind != c.kind || r.Error != want {
				t.Errorf("kind %q error %q\nwant %q %q", r.ErrorKind, r.Error, c.kind, want)
			}
			if w, _ := r.Details["warning"].(string); w != c.warning {
				t.Errorf("warning %q, want %q", w, c.warning)
			}
			if string(pg.Raw) != c.reply {
				t.Errorf("raw %q, want what the server sent", pg.Raw)
			}
			wantHead := "GET /a/b?c=d HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: socketlab-browse/1.0\r\nAccept: */*\r\nAccept-Language: en\r\nConnection: close\r\n\r\n"
			if head := <-heads; head != wantHead {
				t.Errorf("request on the wire %q\nwant %q", head, wantHead)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	cases := []struct {
		in   string
		want Target
		err  string
	}{
		{in: "http://web/", want: Target{"web", 80, "web", "/"}},
		{in: "web", want: Target{"web", 80, "web", "/"}},
		{in: "HTTP://Web:8080", want: Target{"Web", 8080, "Web:8080", "/"}},
		{in: "http://10.0.0.5:81/a%20b?x=1&y=2#frag", want: Target{"10.0.0.5", 81, "10.0.0.5:81", "/a%20b?x=1&y=2"}},
		{in: "http://[fd00::5]/", want: Target{"fd00::5", 80, "[fd00::5]", "/"}},
		{in: "[::1]:8080/whoami", want: Target{"::1", 8080, "[::1]:8080", "/whoami"}},
		{in: "http://[fe80::1%25eth0]:80/", want: Target{"fe80::1%eth0", 80, "[fe80::1]:80", "/"}},
		{in: "", err: "no URL given: e.g. http://web/ or http://[::1]:8080/whoami"},
		{in: "ftp://web/", err: `ftp://web/: scheme "ftp" is not supported: want http://HOST[:PORT]/PATH`},
		{in: "http:///path", err: "http:///path: no host in the URL: want http://HOST[:PORT]/PATH"},
		{in: "http://web:0/", err: `http://web:0/: bad port "0": want 1-65535`},
		{in: "http://web:70000/", err: `http://web:70000/: bad port "70000": want 1-65535`},
		{in: "http://user:pw@web/", err: "http://user:pw@web/: user information in the URL is not supported"},
		{in: "http://[::1/", err: `bad URL "http://[::1/": missing ']' in host`},
		{in: "http://web:port/", err: `bad URL "http://web:port/": invalid port ":port" after host`},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseURL(c.in)
			if c.err != "" {
				var pe *probe.Error
				if err == nil || err.Error() != c.err || !errors.As(err, &pe) || pe.Kind != result.Usage {
					t.Errorf("error %v, want usage error %q", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("got %+v %v, want %+v", got, err, c.want)
			}
		})
	}
}

// runCommand runs "sock browse args..." and returns stdout, stderr and the exit status.
func runCommand(args ...string) (string, string, int) {
	return svctest.RunCommand(ClientCommand(), "", args...)
}

func TestBrowseCommand(t *testing.T) {
	addr := svctest.ServeTCP(t, NewServer(nil), "::1")
	base := "http://" + addr

	out, _, code := runCommand(base + "/healthz")
	for _, want := range []string{
		"* ::1 is an IP address: nothing to resolve\n",
		"* trying " + addr + " (IPv6)... connected from [::1]:",
		"> GET /healthz HTTP/1.1\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n",
		"\r\n\r\nok\n* 200 OK: 3-byte body, framed by Content-Length, ",
	} {
		if !strings.Contains(out, want) || code != 0 {
			t.Errorf("exit %d, output lacks %q:\n%s", code, want, out)
		}
	}

	out, _, code = runCommand("--body-only", base+"/chunked?n=2")
	if code != 0 || !strings.HasPrefix(out, "chunk 1 of 2 for [::1]:") || strings.Count(out, "\n") != 2 {
		t.Errorf("--body-only: exit %d %q", code, out)
	}
	out, _, _ = runCommand("--head-only", "-q", base+"/healthz")
	if !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(out, "\r\n\r\n") {
		t.Errorf("--head-only -q: %q", out)
	}

	out, _, code = runCommand("--json", "-6", base+"/chunked?n=1")
	var res struct {
		OK       bool
		Family   string
		Received string
		Details  struct {
			Status    int
			Headers   []string
			Trailers  []string
			Framing   string
			BodyBytes int `json:"body_bytes"`
			Attempts  []attempt
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 {
		t.Fatalf("--json: exit %d, %v: %s", code, err, out)
	}
	if !res.OK || res.Family != "IPv6" || res.Details.Status != 200 || res.Details.Framing != FramingChunked ||
		res.Details.BodyBytes != len(res.Received) || fmt.Sprint(res.Details.Trailers) != "[X-Chunk-Count: 1]" ||
		len(res.Details.Attempts) != 1 || !strings.Contains(strings.Join(res.Details.Headers, "\n"), "Transfer-Encoding: chunked") {
		t.Errorf("--json: %s", out)
	}

	_, errOut, code := runCommand("--fail", base+"/missing")
	if code != 1 || errOut != "browse: HTTP 404 Not Found from "+addr+"\n" {
		t.Errorf("--fail: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = runCommand("https://web/")
	if code != 2 || !strings.Contains(errOut, "https is not supported") {
		t.Errorf("https: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = runCommand("--head-only", "--body-only", base)
	if code != 2 || errOut != "browse: --head-only and --body-only exclude each other\n" {
		t.Errorf("both: exit %d, stderr %q", code, errOut)
	}
}
