package lookup

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"socketlab/services/internal/svctest"
	"socketlab/services/lookup/frame"
)

// testConfig has deadlines short enough for tests.
var testConfig = Config{RequestTimeout: 300 * time.Millisecond, IdleTimeout: 2 * time.Second, Linger: 500 * time.Millisecond}

func startServer(t testing.TB, cfg Config, host string) (string, *svctest.Buffer) {
	t.Helper()
	logs := &svctest.Buffer{}
	s := NewServer(cfg)
	s.Log = slog.New(slog.NewJSONHandler(logs, nil))
	return svctest.ServeTCP(t, s, host), logs
}

func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}

func encode(t testing.TB, ms ...frame.Message) []byte {
	t.Helper()
	var b []byte
	for _, m := range ms {
		var err error
		if b, err = frame.Append(b, m); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// rawMsg frames header text and content by hand, so it can be wrong.
func rawMsg(header, content string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(header)))
	return append(append(b, header...), content...)
}

// readResult reads one response and returns its JSON object.
func readResult(t testing.TB, fr *frame.Reader) map[string]string {
	t.Helper()
	m, err := fr.Next()
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	if m.Header.ContentType != TypeJSON || m.Header.ContentEncoding != EncodingUTF8 || m.Header.ByteOrder != frame.NativeByteOrder {
		t.Fatalf("response header %+v", m.Header)
	}
	var obj map[string]string
	if err := json.Unmarshal(m.Content, &obj); err != nil {
		t.Fatalf("response content %q: %v", m.Content, err)
	}
	return obj
}

// expectCleanClose reads to the end: the server must close with FIN, not RST.
func expectCleanClose(t testing.TB, c net.Conn) {
	t.Helper()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("after the response: %v (want a clean close)", err)
	}
	if len(b) != 0 {
		t.Fatalf("unexpected bytes before the close: %q", b)
	}
}

// search runs one search on a new connection.
func search(t testing.TB, addr, term string) string {
	t.Helper()
	c := dial(t, addr)
	if _, err := c.Write(encode(t, NewSearch(ActionSearch, term))); err != nil {
		t.Fatal(err)
	}
	return readResult(t, frame.NewReader(c))["result"]
}

func TestSearchBothFamilies(t *testing.T) {
	tcp, _ := DefaultGlossary.Lookup("TCP")
	ds, _ := DefaultGlossary.Lookup("dual stack")
	tw, _ := DefaultGlossary.Lookup("TIME_WAIT")
	cases := []struct{ term, want string }{
		{"TCP", tcp.Definition},
		{"tcp", tcp.Definition},
		{"Transmission Control Protocol", tcp.Definition},
		{"  Dual-Stack ", ds.Definition},
		{"time wait", tw.Definition},
		{"sockt", `No match for "sockt". Did you mean "socket"?`},
		{"🐶", "\U0001f43e Playing ball! \U0001f3d0"},
		{"morpheus", "Follow the white rabbit. \U0001f430"},
		{"ring", "In the caves beneath the Misty Mountains. \U0001f48d"},
		{"bring", `No match for "bring". The glossary knows: A record, AAAA record, accept, `},
	}
	for _, fam := range svctest.Families {
		t.Run(fam, func(t *testing.T) {
			t.Parallel()
			addr, _ := startServer(t, testConfig, svctest.Loopbacks[fam])
			for _, c := range cases {
				if got := search(t, addr, c.term); !strings.HasPrefix(got, c.want) {
					t.Errorf("search %q: got %q, want %q", c.term, got, c.want)
				}
			}
		})
	}
}

// Bytes the tutorial's Python client sent, and the Python server's answer to
// the binary one: ours must be identical.
const (
	pySearchRing = "\x00g" + `{"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8", "content-length": 37}` +
		`{"action": "search", "value": "ring"}`
	pyBinaryHello = "\x00\x7f" + `{"byteorder": "little", "content-type": "binary/custom-client-binary-type", "content-encoding": "binary", "content-length": 11}` +
		"binaryhello"
	pyBinaryAnswer = "\x00\x7f" + `{"byteorder": "little", "content-type": "binary/custom-server-binary-type", "content-encoding": "binary", "content-length": 37}` +
		"First 10 bytes of request: binaryhell"
)

func TestAnswersTheTutorialClientsBytes(t *testing.T) {
	if frame.NativeByteOrder != "little" {
		t.Skip("the captured answer comes from a little-endian host")
	}
	addr, _ := startServer(t, testConfig, "127.0.0.1")
	c := dial(t, addr)
	if _, err := io.WriteString(c, pyBinaryHello); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(pyBinaryAnswer))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != pyBinaryAnswer {
		t.Fatalf("got %q, %v\nwant %q", got, err, pyBinaryAnswer)
	}
	c.(*net.TCPConn).CloseWrite()
	expectCleanClose(t, c)

	c = dial(t, addr)
	io.WriteString(c, pySearchRing)
	if r := readResult(t, frame.NewReader(c))["result"]; r != "In the caves beneath the Misty Mountains. \U0001f48d" {
		t.Errorf("ring: %q, want the tutorial server's answer", r)
	}
}

// Several requests in one write, answered in order on one connection, which
// stays open for more until the client closes it.
func TestPipelinedRequestsAndKeepAlive(t *testing.T) {
	addr, logs := startServer(t, testConfig, "::1")
	c := dial(t, addr)
	udp, _ := DefaultGlossary.Lookup("UDP")
	reqs := encode(t,
		NewSearch(ActionSearch, "UDP"),
		NewBinary("", []byte("0123456789abcdef")),
		NewSearch("dance", "x"),
		NewBinary("image/png", []byte{0x89, 'P', 'N', 'G'}),
	)
	if _, err := c.Write(reqs); err != nil {
		t.Fatal(err)
	}
	fr := frame.NewReader(c)
	if r := readResult(t, fr)["result"]; r != udp.Definition {
		t.Errorf("1st: %q", r)
	}
	for i, want := range []string{"First 10 bytes of request: 0123456789", ""} {
		if i == 1 {
			if r := readResult(t, fr)["result"]; !strings.HasPrefix(r, `Error: invalid action "dance". The only action is "search"`) {
				t.Errorf("3rd: %q", r)
			}
			want = "First 10 bytes of request: \x89PNG"
		}
		m, err := fr.Next()
		if err != nil || m.Header.ContentType != TypeServerBinary || m.Header.ContentEncoding != EncodingBinary || string(m.Content) != want {
			t.Errorf("binary answer: %v %+v %q", err, m.Header, m.Content)
		}
	}
	// Later, on the same connection.
	time.Sleep(50 * time.Millisecond)
	c.Write(encode(t, NewSearch(ActionSearch, "port")))
	if r := readResult(t, fr)["result"]; !strings.HasPrefix(r, "A port is a 16-bit number") {
		t.Errorf("5th: %q", r)
	}
	c.(*net.TCPConn).CloseWrite()
	expectCleanClose(t, c)
	waitLog(t, logs, `"reason":"peer closed"`)
}

// Responses to the complete requests of a read go out at once, even when the
// same read ends with part of a request whose rest the client sends later.
func TestNoResponseWaitsForTheNextRequest(t *testing.T) {
	cfg := testConfig
	cfg.RequestTimeout = 10 * time.Second
	addr, _ := startServer(t, cfg, "127.0.0.1")
	c := dial(t, addr)
	third := encode(t, NewSearch(ActionSearch, "ACK"))
	c.Write(append(encode(t, NewSearch(ActionSearch, "SYN"), NewBinary("", []byte("two"))), third[:5]...))
	c.SetReadDeadline(time.Now().Add(3 * time.Second)) // well before the request timeout
	fr := frame.NewReader(c)
	if r := readResult(t, fr)["result"]; !strings.HasPrefix(r, "SYN (synchronize)") {
		t.Errorf("1st: %q", r)
	}
	if m, err := fr.Next(); err != nil || string(m.Content) != "First 10 bytes of request: two" {
		t.Fatalf("2nd: %v %q", err, m.Content)
	}
	c.Write(third[5:])
	if r := readResult(t, fr)["result"]; !strings.HasPrefix(r, "ACK (acknowledgment)") {
		t.Errorf("3rd: %q", r)
	}
}

func waitLog(t testing.TB, logs *svctest.Buffer, want string) {
	t.Helper()
	if !logs.Await(want, 3*time.Second) {
		t.Errorf("no log line with %s in:\n%s", want, logs.String())
	}
}

// The framing survives one byte per write (and so per segment: Go sets TCP_NODELAY).
func TestOneBytePerWrite(t *testing.T) {
	cfg := testConfig
	cfg.RequestTimeout = 10 * time.Second // a request takes ~150 writes 1ms apart
	addr, _ := startServer(t, cfg, "127.0.0.1")
	c := dial(t, addr)
	wire := encode(t, NewSearch(ActionSearch, "loopback"), NewBinary("", []byte("split")))
	for i := range wire {
		if _, err := c.Write(wire[i : i+1]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	fr := frame.NewReader(c)
	if r := readResult(t, fr)["result"]; !strings.HasPrefix(r, "The loopback interface") {
		t.Errorf("search: %q", r)
	}
	if m, err := fr.Next(); err != nil || string(m.Content) != "First 10 bytes of request: split" {
		t.Errorf("binary: %v %q", err, m.Content)
	}
}

// Every request the server cannot accept gets a framed error response and a
// clean close, is logged, and the server goes on serving everyone else.
func TestMalformedRequests(t *testing.T) {
	ok := `"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8"`
	hdr := func(fields string, n int) string {
		return "{" + fields + `, "content-length": ` + itoa(n) + "}"
	}
	withEnc := func(enc string) string {
		return `"byteorder": "little", "content-type": "text/json", "content-encoding": "` + enc + `"`
	}
	type step func(t *testing.T, c net.Conn)
	write := func(b []byte) step {
		return func(t *testing.T, c net.Conn) {
			// A failed write shows as a missing response.
			_, _ = c.Write(b)
		}
	}
	cases := []struct {
		name       string
		send       step
		before     []string // results of answered requests before the error
		kind, text string
	}{
		{"header over the 2-byte maximum", write(append([]byte("\xff\xff"), bytes.Repeat([]byte("x"), 65535)...)),
			nil, KindHeaderTooLarge, "Error: JSON header too large: the length prefix announces 65535 bytes, the limit is 16384."},
		{"header over the cap", write(rawMsg("{"+strings.Repeat(" ", 20000)+"}", "")),
			nil, KindHeaderTooLarge, "announces 20002 bytes, the limit is 16384"},
		{"content over the cap", write(rawMsg(hdr(ok, 2<<20), strings.Repeat("x", 100000))),
			nil, KindContentTooLarge, "Error: content too large: content-length 2097152 is over the limit of 1048576 bytes."},
		{"empty header", write([]byte("\x00\x00")), nil, KindBadHeader, "the length prefix announces 0 bytes"},
		{"header not JSON", write(rawMsg("GET / HTTP/1.1", "")), nil, KindBadHeader, "malformed JSON header: invalid character 'G'"},
		{"header a JSON array", write(rawMsg(`["byteorder"]`, "")), nil, KindBadHeader, "a JSON array, not an object"},
		{"header not UTF-8", write(rawMsg("{\"byteorder\": \"\xc3\x28\"}", "")), nil, KindBadHeader, "not valid UTF-8"},
		{"missing content-length", write(rawMsg("{"+ok+"}", "")), nil, KindBadHeader, `Error: missing header field: "content-length".`},
		{"missing byteorder", write(rawMsg(`{"content-type": "x", "content-encoding": "binary", "content-length": 0}`, "")), nil, KindBadHeader, `missing header field: "byteorder"`},
		{"content-length a string", write(rawMsg(`{`+ok+`, "content-length": "37"}`, "")), nil, KindBadHeader, `"content-length" must be a whole number of bytes, not "37"`},
		{"content-length negative", write(rawMsg(hdr(ok, -1), "")), nil, KindBadHeader, `"content-length" is negative (-1)`},
		{"content-type a number", write(rawMsg(`{"byteorder": "big", "content-type": 7, "content-encoding": "x", "content-length": 0}`, "")), nil, KindBadHeader, `"content-type" must be a string, not 7`},
		{"content not JSON", write(rawMsg(hdr(ok, 13), "action=search")), nil, KindBadJSON, "the text/json content is not valid JSON (invalid character 'a'"},
		{"content a JSON array", write(rawMsg(hdr(ok, 2), "[]")), nil, KindBadJSON, "the text/json content is not a JSON object"},
		{"unknown encoding", write(rawMsg(hdr(withEnc("klingon"), 2), "{}")), nil, KindUnknownEncoding, `Error: unknown content-encoding "klingon" for text/json: use one of utf-8, ascii, latin-1, utf-16, utf-16-le, utf-16-be.`},
		{"content not UTF-8", write(rawMsg(hdr(ok, 4), "{\"\xff\"")), nil, KindBadEncoding, "the content is not valid utf-8 (bad byte at offset 2)"},
		{"content-length shorter than the content", write(rawMsg(hdr(`"byteorder": "big", "content-type": "binary/x", "content-encoding": "binary"`, 3), "abcdefgh, the rest misparses")),
			[]string{"First 10 bytes of request: abc"}, KindHeaderTooLarge, "announces 25701 bytes"},
		{"content-length longer than the content", write(rawMsg(hdr(ok, 100), `{"action": "search"}`)),
			nil, KindTimeout, "Error: no complete request within 300ms: got 20 of 100 bytes of the content."},
		{"stalled in the header", write(rawMsg(hdr(ok, 0), "")[:30]), nil, KindTimeout, "got 28 of 102 bytes of the JSON header"},
		{"stalled in the length", write([]byte{0}), nil, KindTimeout, "got 1 of 2 bytes of the length prefix"},
		{"trickling bytes", func(t *testing.T, c net.Conn) {
			for _, b := range rawMsg(hdr(ok, 0), "") {
				if _, err := c.Write([]byte{b}); err != nil {
					return // the server gave up on us
				}
				time.Sleep(40 * time.Millisecond)
			}
		}, nil, KindTimeout, "no complete request within 300ms"},
		{"half-close mid-request", func(t *testing.T, c net.Conn) {
			c.Write(rawMsg(hdr(ok, 50), `{"action"`))
			c.(*net.TCPConn).CloseWrite()
		}, nil, KindTruncated, "Error: the connection was shut down after 9 of 50 bytes of the content."},
		{"error after good requests", write(append(encode(t, NewSearch(ActionSearch, "SYN"), NewBinary("", []byte("x"))), "\x00\x00"...)),
			[]string{"SYN (synchronize) is", "First 10 bytes of request: x"}, KindBadHeader, "announces 0 bytes"},
	}
	for _, fam := range svctest.Families {
		t.Run(fam, func(t *testing.T) {
			t.Parallel()
			addr, logs := startServer(t, testConfig, svctest.Loopbacks[fam])
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					c := dial(t, addr)
					tc.send(t, c)
					fr := frame.NewReader(c)
					for _, want := range tc.before {
						m, err := fr.Next()
						if err != nil || !strings.Contains(string(m.Content), want) {
							t.Fatalf("before the error: %v %q, want %q", err, m.Content, want)
						}
					}
					r := readResult(t, fr)
					if r["error"] != tc.kind || !strings.Contains(r["result"], tc.text) || !strings.HasPrefix(r["result"], "Error: ") {
						t.Errorf("got %q, want error %q with %q", r, tc.kind, tc.text)
					}
					if fr.Buffered() != 0 {
						t.Errorf("%d bytes after the error response", fr.Buffered())
					}
					expectCleanClose(t, c)
					waitLog(t, logs, `"reason":"`+tc.kind+`: `)
					if r := search(t, addr, "FIN"); !strings.HasPrefix(r, "FIN (finish)") {
						t.Errorf("the next client got %q", r)
					}
				})
			}
		})
	}
}

// A client stalled mid-request holds up no one else.
func TestStalledClientHoldsUpNoOne(t *testing.T) {
	cfg := testConfig
	cfg.RequestTimeout = 10 * time.Second
	addr, _ := startServer(t, cfg, "127.0.0.1")
	stalled := dial(t, addr)
	stalled.Write([]byte{0, 50, '{'})
	start := time.Now()
	for range 20 {
		if r := search(t, addr, "FIN"); !strings.HasPrefix(r, "FIN (finish)") {
			t.Fatalf("search while another client stalls: %q", r)
		}
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("20 searches took %v while another client stalled", took)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// A well-framed request with odd JSON gets an explanatory result, and the
// connection stays open.
func TestExplanatoryResults(t *testing.T) {
	addr, _ := startServer(t, testConfig, "127.0.0.1")
	c := dial(t, addr)
	fr := frame.NewReader(c)
	hdrFor := func(content string) []byte {
		return rawMsg(`{"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8", "content-length": `+itoa(len(content))+`}`, content)
	}
	cases := []struct{ content, want string }{
		{`{"value": "TCP"}`, `Error: the request has no "action".`},
		{`{"action": 1, "value": "TCP"}`, `Error: "action" must be a string, not 1.`},
		{`{"action": "find", "value": "TCP"}`, `Error: invalid action "find".`},
		{`{"action": "search"}`, `Error: "search" needs a "value" string`},
		{`{"action": "search", "value": ["TCP"]}`, `Error: "search" needs a "value" string`},
		{`{"action": "search", "value": "SO-REUSEADDR", "extra": true}`, `SO_REUSEADDR lets a server`},
	}
	for _, tc := range cases {
		c.Write(hdrFor(tc.content))
		if r := readResult(t, fr); !strings.HasPrefix(r["result"], tc.want) || r["error"] != "" {
			t.Errorf("%s: got %q, want %q", tc.content, r, tc.want)
		}
	}
}

// text/json content may come in the encodings Python names, not only UTF-8.
func TestContentEncodings(t *testing.T) {
	addr, _ := startServer(t, testConfig, "127.0.0.1")
	req := `{"action": "search", "value": "Nagle"}`
	utf16 := func(order binary.AppendByteOrder, bom bool) []byte {
		var b []byte
		if bom {
			b = order.AppendUint16(b, 0xfeff)
		}
		for _, r := range req {
			b = order.AppendUint16(b, uint16(r))
		}
		return b
	}
	cases := []struct {
		enc, order string
		content    []byte
	}{
		{"UTF-8", "little", []byte(req)},
		{"utf_8", "little", []byte(req)},
		{"ascii", "big", []byte(req)},
		{"latin-1", "little", []byte(req)},
		{"utf-16", "little", utf16(binary.BigEndian, true)},
		{"utf-16", "big", utf16(binary.BigEndian, false)},
		{"utf-16", "little", utf16(binary.LittleEndian, false)},
		{"utf-16-le", "big", utf16(binary.LittleEndian, false)},
	}
	for _, tc := range cases {
		c := dial(t, addr)
		c.Write(encode(t, frame.Message{Header: frame.Header{ByteOrder: tc.order, ContentType: TypeJSON, ContentEncoding: tc.enc}, Content: tc.content}))
		if r := readResult(t, frame.NewReader(c)); !strings.HasPrefix(r["result"], "Nagle's algorithm") {
			t.Errorf("%s (%s): %q", tc.enc, tc.order, r)
		}
	}
}

func TestIdleConnectionIsClosed(t *testing.T) {
	cfg := testConfig
	cfg.IdleTimeout = 200 * time.Millisecond
	addr, logs := startServer(t, cfg, "::1")
	c := dial(t, addr)
	start := time.Now()
	expectCleanClose(t, c)
	if took := time.Since(start); took < 150*time.Millisecond || took > 3*time.Second {
		t.Errorf("closed after %v, want about 200ms", took)
	}
	waitLog(t, logs, `"reason":"idle timeout"`)
}

// On shutdown, a client in the middle of a request is told so; idle ones are closed.
func TestShutdownTellsClientMidRequest(t *testing.T) {
	s := NewServer(testConfig)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	mid, idle := dial(t, ln.Addr().String()), dial(t, ln.Addr().String())
	mid.Write([]byte{0})
	for s.Active() < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the handler block in the request
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("shutdown took %v", took)
	}
	if r := readResult(t, frame.NewReader(mid)); r["error"] != KindShutdown {
		t.Errorf("mid-request client got %q", r)
	}
	if b, err := io.ReadAll(idle); len(b) != 0 || err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("idle client: %q %v", b, err)
	}
}

func TestGlossary(t *testing.T) {
	g := DefaultGlossary
	seen := map[string]string{}
	for _, e := range g.terms[:len(networkTerms)] {
		if len(e.Definition) < 40 || len(e.Definition) > 400 {
			t.Errorf("%s: definition of %d bytes", e.Term, len(e.Definition))
		}
		for _, name := range append([]string{e.Term}, e.Aliases...) {
			if other, dup := seen[normalize(name)]; dup {
				t.Errorf("%q names both %s and %s", name, other, e.Term)
			}
			seen[normalize(name)] = e.Term
			if got, ok := g.Lookup(strings.ToUpper(name)); !ok || got.Term != e.Term {
				t.Errorf("Lookup(%q) = %q, %v", strings.ToUpper(name), got.Term, ok)
			}
		}
	}
	for _, want := range []string{"TCP", "UDP", "port", "socket", "IPv4", "IPv6", "loopback"} {
		if _, ok := g.Lookup(want); !ok {
			t.Errorf("no entry for %s", want)
		}
	}
	for q, want := range map[string]string{"sockt": "socket", "ipv5": "IPv4", "handshak": "three-way handshake", "sock": "socket", "xyzzy": "", "": "",
		"king": "", "rign": "ring", "pign": "ICMP", "string": "", "tpc": "TCP", "ud": "", "ackk": "ACK"} {
		if got := g.Suggest(q); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", q, got, want)
		}
	}
}
