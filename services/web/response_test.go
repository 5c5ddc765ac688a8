package web

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseResponse(t *testing.T) {
	cases := []struct {
		name    string
		method  string
		in      string
		status  int
		reason  string
		framing string
		body    string
		header  []Field
		trailer []Field
		chunks  int
		interim []string
	}{
		{
			name:   "content-length",
			in:     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
			status: 200, reason: "OK", framing: FramingLength, body: "hello",
			header: []Field{{"Content-Type", "text/plain"}, {"Content-Length", "5"}},
		},
		{
			name:   "content-length zero",
			in:     "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			status: 200, reason: "OK", framing: FramingLength, body: "",
			header: []Field{{"Content-Length", "0"}},
		},
		{
			name:   "same content-length twice and as a list",
			in:     "HTTP/1.1 200 OK\r\nContent-Length: 3\r\ncontent-length: 3, 3\r\n\r\nabc",
			status: 200, reason: "OK", framing: FramingLength, body: "abc",
			header: []Field{{"Content-Length", "3"}, {"content-length", "3, 3"}},
		},
		{
			name:   "chunked with extensions and trailers",
			in:     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n1 ; x\r\n,\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\nX-Other:  a b \r\n\r\n",
			status: 200, reason: "OK", framing: FramingChunked, body: "hello, world", chunks: 3,
			header:  []Field{{"Transfer-Encoding", "chunked"}},
			trailer: []Field{{"X-Sum", "42"}, {"X-Other", "a b"}},
		},
		{
			name:   "chunked upper-case hex and leading zeros",
			in:     "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n00A\r\n0123456789\r\n000\r\n\r\n",
			status: 200, reason: "OK", framing: FramingChunked, body: "0123456789", chunks: 1,
			header: []Field{{"Transfer-Encoding", "Chunked"}},
		},
		{
			name:   "chunked wins over content-length",
			in:     "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
			status: 200, reason: "OK", framing: FramingChunked, body: "hi", chunks: 1,
			header: []Field{{"Content-Length", "100"}, {"Transfer-Encoding", "chunked"}},
		},
		{
			name:   "gzip then chunked: chunks decoded, coding kept",
			in:     "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n",
			status: 200, reason: "OK", framing: FramingChunked, body: "xyz", chunks: 1,
			header: []Field{{"Transfer-Encoding", "gzip"}, {"Transfer-Encoding", "chunked"}},
		},
		{
			name:   "close-delimited",
			in:     "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil\r\nthe end",
			status: 200, reason: "OK", framing: FramingClose, body: "until\r\nthe end",
			header: []Field{{"Connection", "close"}},
		},
		{
			name:   "HTTP/1.0 close-delimited, bare LF line ends",
			in:     "HTTP/1.0 200 OK\nServer: old\n\nbody\n",
			status: 200, reason: "OK", framing: FramingClose, body: "body\n",
			header: []Field{{"Server", "old"}},
		},
		{
			name:   "HEAD has no body whatever the headers say",
			method: "HEAD",
			in:     "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
			status: 200, reason: "OK", framing: FramingNone,
			header: []Field{{"Content-Length", "1234"}},
		},
		{
			name:   "204 and 304 have no body",
			in:     "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
			status: 304, reason: "Not Modified", framing: FramingNone,
			header: []Field{{"Content-Length", "10"}},
		},
		{
			name:   "interim 100 and 103 before the response",
			in:     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno",
			status: 404, reason: "Not Found", framing: FramingLength, body: "no",
			header:  []Field{{"Content-Length", "2"}},
			interim: []string{"HTTP/1.1 100 Continue", "HTTP/1.1 103 Early Hints"},
		},
		{
			name:   "empty reason, no space after the code",
			in:     "HTTP/1.1 599\r\nContent-Length: 0\r\n\r\n",
			status: 599, reason: "", framing: FramingLength,
			header: []Field{{"Content-Length", "0"}},
		},
		{
			name:   "reason with spaces, empty value",
			in:     "HTTP/1.1 500 Internal Server Error\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n",
			status: 500, reason: "Internal Server Error", framing: FramingLength,
			header: []Field{{"X-Empty", ""}, {"Content-Length", "0"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			method := c.method
			if method == "" {
				method = "GET"
			}
			// One byte per read: the parser must not care how bytes arrive.
			resp, err := ParseResponse(iotest.OneByteReader(strings.NewReader(c.in)), method, Limits{})
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if resp.StatusCode != c.status || resp.Reason != c.reason || resp.Framing != c.framing ||
				string(resp.Body) != c.body || resp.Chunks != c.chunks {
				t.Errorf("got %d %q framing %s body %q chunks %d, want %d %q %s %q %d",
					resp.StatusCode, resp.Reason, resp.Framing, resp.Body, resp.Chunks,
					c.status, c.reason, c.framing, c.body, c.chunks)
			}
			if !reflect.DeepEqual(resp.Header, c.header) {
				t.Errorf("header %q, want %q", resp.Header, c.header)
			}
			if !reflect.DeepEqual(resp.Trailer, c.trailer) {
				t.Errorf("trailer %q, want %q", resp.Trailer, c.trailer)
			}
			if !reflect.DeepEqual(resp.Interim, c.interim) {
				t.Errorf("interim %q, want %q", resp.Interim, c.interim)
			}
		})
	}
}

func TestParseResponseErrors(t *testing.T) {
	lim := Limits{MaxHeaderBytes: 256, MaxBodyBytes: 100}
	cases := []struct {
		name string
		in   string
		kind error
		want string
	}{
		// The status line.
		{"nothing at all", "", ErrTruncated,
			"no response: the connection closed before a status line"},
		{"not HTTP", "SSH-2.0-OpenSSH_9.6\r\n", ErrMalformed,
			`bad status line "SSH-2.0-OpenSSH_9.6": want "HTTP/1.1 200 OK"`},
		{"bad version", "HTTP/1.x 200 OK\r\n\r\n", ErrMalformed,
			`bad status line "HTTP/1.x 200 OK": version "HTTP/1.x" is not HTTP/<digit>.<digit>`},
		{"HTTP/2", "HTTP/2.0 200 OK\r\n\r\n", ErrMalformed,
			`bad status line "HTTP/2.0 200 OK": version HTTP/2.0 is not HTTP/1.x`},
		{"two-digit status", "HTTP/1.1 20 OK\r\n\r\n", ErrMalformed,
			`bad status line "HTTP/1.1 20 OK": status code "20" is not three digits`},
		{"status out of range", "HTTP/1.1 700 Odd\r\n\r\n", ErrMalformed,
			`bad status line "HTTP/1.1 700 Odd": status code 700 is not between 100 and 599`},
		{"control character in reason", "HTTP/1.1 200 O\x00K\r\n\r\n", ErrMalformed,
			`bad status line "HTTP/1.1 200 O\x00K": control character '\x00' in the reason phrase`},
		{"cut in the status line", "HTTP/1.1 200", ErrTruncated,
			"response ended inside the status line"},
		// Header fields.
		{"no colon", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nBroken header\r\n\r\n", ErrMalformed,
			`header line 2: no colon in "Broken header"`},
		{"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello", ErrMalformed,
			`header line 1: whitespace before the colon in "Content-Length : 5"`},
		{"obsolete folding", "HTTP/1.1 200 OK\r\nX-A: 1\r\n  continued\r\n\r\n", ErrMalformed,
			`header line 2: obsolete line folding in "  continued"`},
		{"bad name", "HTTP/1.1 200 OK\r\nX(A): 1\r\n\r\n", ErrMalformed,
			`header line 1: invalid character '(' in field name "X(A)"`},
		{"empty name", "HTTP/1.1 200 OK\r\n: 1\r\n\r\n", ErrMalformed,
			`header line 1: empty field name in ": 1"`},
		{"bare CR in value", "HTTP/1.1 200 OK\r\nX-A: 1\r2\r\n\r\n", ErrMalformed,
			`header line 1: control character '\r' in the value of X-A`},
		{"cut in the headers", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", ErrTruncated,
			"response ended inside the header section"},
		{"oversize header", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 300) + "\r\n\r\n", ErrTooLarge,
			"header section larger than 256 bytes"},
		{"oversize over many lines", "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-A: 1234567890\r\n", 20) + "\r\n", ErrTooLarge,
			"header section larger than 256 bytes"},
		// Content-Length.
		{"length mismatch: body short", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", ErrTruncated,
			"body ended after 3 of 10 bytes (Content-Length)"},
		{"conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", ErrMalformed,
			`conflicting Content-Length values "3, 4"`},
		{"negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", ErrMalformed,
			`Content-Length "-1" is not a number`},
		{"empty length", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", ErrMalformed,
			`Content-Length "" is not a number`},
		{"huge length", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", ErrTooLarge,
			`Content-Length "99999999999999999999" is too large`},
		{"length over the body limit", "HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n", ErrTooLarge,
			"Content-Length 101 is over the body limit of 100 bytes"},
		// Chunked.
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", ErrMalformed,
			`chunk 1: bad chunk size "zz": want hex digits`},
		{"negative chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n", ErrMalformed,
			`chunk 1: bad chunk size "-5": want hex digits`},
		{"empty chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", ErrMalformed,
			`chunk 1: bad chunk size "": want hex digits`},
		{"junk after chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n", ErrMalformed,
			`chunk 1: bad chunk size "5 x": want hex digits, then optional ;extensions`},
		{"chunk size overflow", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", ErrMalformed,
			`chunk 1: bad chunk size "10000000000000000": more than 15 hex digits`},
		{"chunk over the body limit", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n50\r\n" + strings.Repeat("x", 80) + "\r\n50\r\n", ErrTooLarge,
			"chunked body larger than the limit of 100 bytes"},
		{"chunk size says less than sent", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", ErrMalformed,
			"chunk 1: data not followed by CRLF (the chunk size 3 is wrong?)"},
		{"cut inside a chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n10\r\nabc", ErrTruncated,
			"body ended inside chunk 2 (after 3 of 16 bytes)"},
		{"no last chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n", ErrTruncated,
			"body ended before the last chunk (after 1 chunks, 2 bytes)"},
		{"chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", ErrMalformed,
			`Transfer-Encoding "chunked, chunked" names chunked more than once`},
		{"bad trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n", ErrMalformed,
			`trailer line 1: no colon in "no colon"`},
		{"cut in the trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-A: 1\r\n", ErrTruncated,
			"response ended inside the trailer section"},
		{"oversize chunk line", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("e", 5000) + "\r\n", ErrMalformed,
			"chunk 1: size line longer than 4096 bytes"},
		{"chunk extensions over the header budget", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("1;"+strings.Repeat("e", 60)+"\r\nx\r\n", 4), ErrTooLarge,
			"chunk extensions and header section larger than 256 bytes"},
		// Close-delimited.
		{"close-delimited over the limit", "HTTP/1.1 200 OK\r\n\r\n" + strings.Repeat("y", 101), ErrTooLarge,
			"body larger than the limit of 100 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseResponse(strings.NewReader(c.in), "GET", lim)
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if err.Error() != c.want {
				t.Errorf("error %q\n          want %q", err, c.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, c.kind) {
				t.Errorf("error %v is not a *ParseError of kind %v", err, c.kind)
			}
		})
	}
}

// Errors of the reader itself come back wrapped with what was being read.
func TestParseResponseReaderError(t *testing.T) {
	boom := errors.New("connection reset")
	in := io.MultiReader(strings.NewReader("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc"), iotest.ErrReader(boom))
	resp, err := ParseResponse(in, "GET", Limits{})
	if !errors.Is(err, boom) || err.Error() != "read body: connection reset" {
		t.Errorf("error %v, want read body: connection reset", err)
	}
	if resp == nil || resp.StatusCode != 200 || string(resp.Body) != "abc" {
		t.Errorf("partial response %+v, want status and the bytes that came", resp)
	}
	_, err = ParseResponse(iotest.ErrReader(boom), "GET", Limits{})
	if !errors.Is(err, boom) || err.Error() != "read status line: connection reset" {
		t.Errorf("error %v", err)
	}
}

// With a *bufio.Reader, the parser stops at the end of the response: what
// follows is left for the caller.
func TestParseResponseStopsAtTheEnd(t *testing.T) {
	cases := map[string]string{
		"content-length": "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
		"chunked":        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
		"HEAD":           "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
	}
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			method := "GET"
			if name == "HEAD" {
				method = "HEAD"
			}
			br := bufio.NewReader(strings.NewReader(msg + "NEXT"))
			resp, err := ParseResponse(br, method, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			rest, _ := io.ReadAll(br)
			if string(rest) != "NEXT" {
				t.Errorf("left %q, want NEXT", rest)
			}
			if resp.HeadBytes != strings.Index(msg, "\r\n\r\n")+4 {
				t.Errorf("HeadBytes %d", resp.HeadBytes)
			}
		})
	}
}

// Caps hold however the bytes are split and however long the input runs.
func TestParseResponseNeverReadsPastLimits(t *testing.T) {
	lim := Limits{MaxHeaderBytes: 1024, MaxBodyBytes: 4096}
	endless := func(prefix string, fill byte) io.Reader {
		return io.MultiReader(strings.NewReader(prefix), iotest.OneByteReader(repeatReader(fill)))
	}
	cases := []struct {
		name string
		r    io.Reader
		want string
	}{
		{"endless status line", endless("HTTP/1.1 200 ", 'x'), "header section larger than 1024 bytes"},
		{"endless header", endless("HTTP/1.1 200 OK\r\nX: ", 'x'), "header section larger than 1024 bytes"},
		{"endless body", endless("HTTP/1.1 200 OK\r\n\r\n", 'x'), "body larger than the limit of 4096 bytes"},
		{"endless chunk extension", endless("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;", 'x'), "chunk 1: size line longer than 4096 bytes"},
		{"endless trailer", endless("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: ", 'x'), "header section larger than 1024 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseResponse(c.r, "GET", lim)
			if err == nil || err.Error() != c.want {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// FuzzParseResponse feeds arbitrary bytes to the parser: it must never
// panic, never hold more than its limits, and whatever it accepts must
// survive a round trip through a canonical encoding.
func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
		"HTTP/1.0 200 OK\n\nclose-delimited",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
	} {
		f.Add([]byte(s), false)
	}
	lim := Limits{MaxHeaderBytes: 2048, MaxBodyBytes: 8192}
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		resp, err := ParseResponse(bytes.NewReader(data), method, lim)
		if resp == nil {
			t.Fatal("nil response")
		}
		if int64(len(resp.Body)) > lim.MaxBodyBytes {
			t.Fatalf("body of %d bytes over the limit", len(resp.Body))
		}
		if resp.HeadBytes > lim.MaxHeaderBytes {
			t.Fatalf("head of %d bytes over the limit", resp.HeadBytes)
		}
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParseError", err, err)
			}
			return
		}
		// Re-encode with Content-Length and parse again: same response.
		var b bytes.Buffer
		fmt.Fprintf(&b, "%s %03d %s\r\n", resp.Proto, resp.StatusCode, resp.Reason)
		var fields []Field
		for _, h := range resp.Header {
			if !strings.EqualFold(h.Name, "Content-Length") && !strings.EqualFold(h.Name, "Transfer-Encoding") {
				fields = append(fields, h)
				fmt.Fprintf(&b, "%s: %s\r\n", h.Name, h.Value)
			}
		}
		fields = append(fields, Field{"Content-Length", fmt.Sprint(len(resp.Body))})
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(resp.Body))
		b.Write(resp.Body)
		again, err := ParseResponse(&b, method, lim)
		if err != nil {
			if errors.Is(err, ErrTooLarge) {
				return // the canonical head can be longer than the original
			}
			t.Fatalf("re-encoded response rejected: %v\n%q", err, b.String())
		}
		if again.StatusCode != resp.StatusCode || again.Reason != resp.Reason || again.Proto != resp.Proto {
			t.Errorf("status %s %d %q became %s %d %q", resp.Proto, resp.StatusCode, resp.Reason, again.Proto, again.StatusCode, again.Reason)
		}
		if !reflect.DeepEqual(again.Header, fields) {
			t.Errorf("header %q became %q", fields, again.Header)
		}
		if again.Framing != FramingNone && !bytes.Equal(again.Body, resp.Body) {
			t.Errorf("body %q became %q", resp.Body, again.Body)
		}
	})
}

// A Content-Length that promises much and delivers little costs only what
// arrived: the parser grows its buffer with the data, not with the claim.
func TestParseResponseDoesNotTrustContentLength(t *testing.T) {
	in := "HTTP/1.1 200 OK\r\nContent-Length: 16000000\r\n\r\nabc"
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ParseResponse(strings.NewReader(in), "GET", Limits{})
	runtime.ReadMemStats(&after)
	if err == nil || err.Error() != "body ended after 3 of 16000000 bytes (Content-Length)" {
		t.Errorf("error %v", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("allocated %d bytes for a 3-byte body", n)
	}
}
