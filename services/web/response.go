package web

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Default limits of ParseResponse.
const (
	DefaultMaxHeaderBytes = 64 << 10
	DefaultMaxBodyBytes   = 16 << 20
	// maxChunkLine caps a chunk-size line, chunk extensions included.
	maxChunkLine = 4096
)

// Framings: how the end of a response body was found.
const (
	FramingLength  = "content-length" // Content-Length said how many bytes
	FramingChunked = "chunked"        // Transfer-Encoding: chunked, up to the last chunk
	FramingClose   = "close"          // the body ran until the server closed the connection
	FramingNone    = "none"           // no body: HEAD, 1xx, 204, 304
)

// Sentinel errors of ParseResponse, for errors.Is.
var (
	// ErrMalformed: the bytes are not an HTTP/1.x response.
	ErrMalformed = errors.New("malformed HTTP response")
	// ErrTooLarge: the header section or the body is over its limit.
	ErrTooLarge = errors.New("HTTP response over the limit")
	// ErrTruncated: the connection closed before the response was complete.
	ErrTruncated = errors.New("HTTP response cut short")
)

// ParseError is a response ParseResponse rejects. Its text says what was
// wrong and where; Unwrap gives ErrMalformed, ErrTooLarge or ErrTruncated.
type ParseError struct {
	Kind error
	Msg  string
}

func (e *ParseError) Error() string { return e.Msg }

// Unwrap returns the error's kind.
func (e *ParseError) Unwrap() error { return e.Kind }

func malformed(format string, args ...any) error {
	return &ParseError{ErrMalformed, fmt.Sprintf(format, args...)}
}

func tooLarge(format string, args ...any) error {
	return &ParseError{ErrTooLarge, fmt.Sprintf(format, args...)}
}

func truncated(format string, args ...any) error {
	return &ParseError{ErrTruncated, fmt.Sprintf(format, args...)}
}

// Limits cap what ParseResponse reads; zero fields take the defaults.
type Limits struct {
	// MaxHeaderBytes caps the status lines, header fields and trailer fields
	// together, line ends included.
	MaxHeaderBytes int
	// MaxBodyBytes caps the body after chunked decoding.
	MaxBodyBytes int64
}

func (l Limits) orDefaults() Limits {
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return l
}

// Field is one header or trailer field as received: the name's case is kept
// and the value has its surrounding whitespace removed.
type Field struct {
	Name, Value string
}

// Response is a parsed HTTP/1.x response.
type Response struct {
	// Proto is the version of the status line, "HTTP/1.1" or "HTTP/1.0".
	Proto string
	// StatusCode is the three-digit status, Reason the text after it.
	StatusCode int
	Reason     string
	// Interim holds the status lines of 1xx responses that came first.
	Interim []string
	// Header holds the header fields in the order received; Trailer the
	// fields after a chunked body.
	Header, Trailer []Field
	// Body is the body after chunked decoding.
	Body []byte
	// Framing says how the body's end was found: FramingLength,
	// FramingChunked, FramingClose or FramingNone.
	Framing string
	// Chunks counts the chunks of a chunked body, the last (empty) one excluded.
	Chunks int
	// HeadBytes is how many bytes the status lines and header sections took
	// on the wire, the empty line included.
	HeadBytes int
}

// Get returns the value of the first header field called name (compared
// without regard to case), or "".
func (r *Response) Get(name string) string {
	for _, f := range r.Header {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// values returns every value of the header called name, comma lists split;
// empty elements are dropped unless keepEmpty.
func (r *Response) values(name string, keepEmpty bool) []string {
	var vs []string
	for _, f := range r.Header {
		if !strings.EqualFold(f.Name, name) {
			continue
		}
		for v := range strings.SplitSeq(f.Value, ",") {
			if v = strings.Trim(v, " \t"); v != "" || keepEmpty {
				vs = append(vs, v)
			}
		}
	}
	return vs
}

// ParseResponse reads one HTTP/1.x response to a request with method (GET,
// HEAD...) from r: the status line (after any 1xx interim responses), the
// header fields, and the body framed by Transfer-Encoding: chunked (with its
// trailer), Content-Length, or the end of the stream. It reads no further
// than the end of the response when r is a *bufio.Reader. It never holds more
// than the limits allow, and rejects what is not HTTP with a *ParseError;
// errors of r itself come back wrapped with what was being read.
func ParseResponse(r io.Reader, method string, lim Limits) (*Response, error) {
	lim = lim.orDefaults()
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	p := &parser{br: br, budget: lim.MaxHeaderBytes, lim: lim}
	resp := &Response{}
	for {
		if err := p.readHead(resp); err != nil {
			return resp, err
		}
		// 1xx responses (100 Continue, 103 Early Hints) come before the
		// real one; 101 ends HTTP on this connection.
		if resp.StatusCode >= 200 || resp.StatusCode == 101 {
			break
		}
		resp.Interim = append(resp.Interim, fmt.Sprintf("%s %d %s", resp.Proto, resp.StatusCode, resp.Reason))
		resp.Header = nil
	}
	resp.HeadBytes = lim.MaxHeaderBytes - p.budget
	if err := p.readBody(resp, method); err != nil {
		return resp, err
	}
	return resp, nil
}

type parser struct {
	br     *bufio.Reader
	budget int // header bytes still allowed
	lim    Limits
	line   int // header line number within the current section, for errors
}

// readLine reads one line of at most max bytes (line end included) and
// returns it without its line end (CRLF, or a bare LF as RFC 9112 allows).
// At the end of the stream it returns io.EOF if nothing was read, else
// io.ErrUnexpectedEOF.
func (p *parser) readLine(max int, what string) (string, int, error) {
	var buf []byte
	for {
		frag, err := p.br.ReadSlice('\n')
		if len(buf)+len(frag) > max {
			return "", 0, errLineTooLong
		}
		buf = append(buf, frag...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			if len(buf) == 0 {
				return "", 0, io.EOF
			}
			return "", 0, io.ErrUnexpectedEOF
		}
		return "", 0, fmt.Errorf("read %s: %w", what, err)
	}
	n := len(buf)
	buf = buf[:len(buf)-1]
	buf = bytes.TrimSuffix(buf, []byte{'\r'})
	return string(buf), n, nil
}

var errLineTooLong = errors.New("line too long")

// headerLine reads one line of the header section, charged to the budget.
func (p *parser) headerLine(what string) (string, error) {
	s, n, err := p.readLine(p.budget, what)
	switch {
	case errors.Is(err, errLineTooLong):
		return "", tooLarge("header section larger than %d bytes", p.lim.MaxHeaderBytes)
	case err != nil:
		return "", err
	}
	p.budget -= n
	return s, nil
}

// readHead reads a status line and its header fields into resp.
func (p *parser) readHead(resp *Response) error {
	line, err := p.headerLine("status line")
	switch {
	case errors.Is(err, io.EOF) && resp.Interim == nil:
		return truncated("no response: the connection closed before a status line")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return truncated("response ended inside the status line")
	case err != nil:
		return err
	}
	if err := parseStatusLine(line, resp); err != nil {
		return err
	}
	resp.Header, err = p.readFields("header")
	return err
}

// parseStatusLine parses "HTTP/1.1 200 OK" into resp.
func parseStatusLine(line string, resp *Response) error {
	bad := func(why string) error {
		return malformed("bad status line %s: %s", quote(line), why)
	}
	proto, rest, ok := strings.Cut(line, " ")
	if !ok {
		return bad(`want "HTTP/1.1 200 OK"`)
	}
	if !strings.HasPrefix(proto, "HTTP/") {
		return bad(`want "HTTP/1.1 200 OK"`)
	}
	if len(proto) != 8 || !isDigit(proto[5]) || proto[6] != '.' || !isDigit(proto[7]) {
		return bad("version " + quote(proto) + " is not HTTP/<digit>.<digit>")
	}
	if proto[5] != '1' {
		return bad("version " + proto + " is not HTTP/1.x")
	}
	code, reason, _ := strings.Cut(rest, " ")
	if len(code) != 3 || !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) {
		return bad("status code " + quote(code) + " is not three digits")
	}
	n, _ := strconv.Atoi(code)
	if n < 100 || n > 599 {
		return bad("status code " + code + " is not between 100 and 599")
	}
	for i := 0; i < len(reason); i++ {
		if c := reason[i]; c != '\t' && isCtl(rune(c)) {
			return bad(fmt.Sprintf("control character %q in the reason phrase", c))
		}
	}
	resp.Proto, resp.StatusCode, resp.Reason = proto, n, reason
	return nil
}

// readFields reads header (or trailer) fields up to the empty line.
func (p *parser) readFields(section string) ([]Field, error) {
	var fields []Field
	for p.line = 1; ; p.line++ {
		line, err := p.headerLine(section + " line")
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fields, truncated("response ended inside the %s section", section)
		}
		if err != nil {
			return fields, err
		}
		if line == "" {
			return fields, nil
		}
		f, err := parseField(line)
		if err != nil {
			return fields, malformed("%s line %d: %v", section, p.line, err)
		}
		fields = append(fields, f)
	}
}

// parseField parses "Name: value" (RFC 9112 section 5).
func parseField(line string) (Field, error) {
	if line[0] == ' ' || line[0] == '\t' {
		return Field{}, fmt.Errorf("obsolete line folding in %s", quote(line))
	}
	name, value, ok := strings.Cut(line, ":")
	if !ok {
		return Field{}, fmt.Errorf("no colon in %s", quote(line))
	}
	if name == "" {
		return Field{}, fmt.Errorf("empty field name in %s", quote(line))
	}
	if strings.TrimRight(name, " \t") != name {
		return Field{}, fmt.Errorf("whitespace before the colon in %s", quote(line))
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return Field{}, fmt.Errorf("invalid character %q in field name %s", name[i], quote(name))
		}
	}
	value = strings.Trim(value, " \t")
	for i := 0; i < len(value); i++ {
		if c := value[i]; c != '\t' && isCtl(rune(c)) {
			return Field{}, fmt.Errorf("control character %q in the value of %s", c, name)
		}
	}
	return Field{name, value}, nil
}

// readBody reads the body as RFC 9112 section 6.3 frames it.
func (p *parser) readBody(resp *Response, method string) error {
	code := resp.StatusCode
	if strings.EqualFold(method, "HEAD") || code < 200 || code == 204 || code == 304 {
		resp.Framing = FramingNone
		return nil
	}
	if te := resp.values("Transfer-Encoding", false); len(te) > 0 {
		chunked := 0
		for _, c := range te {
			if strings.EqualFold(c, "chunked") {
				chunked++
			}
		}
		if chunked > 1 {
			return malformed("Transfer-Encoding %s names chunked more than once", quote(strings.Join(te, ", ")))
		}
		if strings.EqualFold(te[len(te)-1], "chunked") {
			resp.Framing = FramingChunked
			return p.readChunked(resp)
		}
		// Another coding last: the body runs to the end of the stream.
		resp.Framing = FramingClose
		return p.readToEOF(resp)
	}
	if cl := resp.values("Content-Length", true); len(cl) > 0 {
		n, err := contentLength(cl)
		if err != nil {
			return err
		}
		if n > p.lim.MaxBodyBytes {
			return tooLarge("Content-Length %d is over the body limit of %d bytes", n, p.lim.MaxBodyBytes)
		}
		resp.Framing = FramingLength
		var body bytes.Buffer
		got, err := io.CopyN(&body, p.br, n)
		resp.Body = body.Bytes()
		if err == io.EOF {
			return truncated("body ended after %d of %d bytes (Content-Length)", got, n)
		}
		if err != nil {
			return fmt.Errorf("read body: %w", err)
		}
		return nil
	}
	resp.Framing = FramingClose
	return p.readToEOF(resp)
}

// contentLength checks that every Content-Length value is the same number.
func contentLength(vs []string) (int64, error) {
	for _, v := range vs {
		if v != vs[0] {
			return 0, malformed("conflicting Content-Length values %s", quote(strings.Join(vs, ", ")))
		}
	}
	v := vs[0]
	if v == "" {
		return 0, malformed("Content-Length %s is not a number", quote(v))
	}
	for i := 0; i < len(v); i++ {
		if !isDigit(v[i]) {
			return 0, malformed("Content-Length %s is not a number", quote(v))
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, tooLarge("Content-Length %s is too large", quote(v))
	}
	return n, nil
}

func (p *parser) readToEOF(resp *Response) error {
	var body bytes.Buffer
	n, err := io.Copy(&body, io.LimitReader(p.br, p.lim.MaxBodyBytes+1))
	if n > p.lim.MaxBodyBytes {
		resp.Body = body.Bytes()[:p.lim.MaxBodyBytes]
		return tooLarge("body larger than the limit of %d bytes", p.lim.MaxBodyBytes)
	}
	resp.Body = body.Bytes()
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	return nil
}

// readChunked decodes a chunked body (RFC 9112 section 7.1) and its trailer.
func (p *parser) readChunked(resp *Response) error {
	var body bytes.Buffer
	defer func() { resp.Body = body.Bytes() }()
	for {
		line, _, err := p.readLine(maxChunkLine, "chunk size")
		switch {
		case errors.Is(err, errLineTooLong):
			return malformed("chunk %d: size line longer than %d bytes", resp.Chunks+1, maxChunkLine)
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return truncated("body ended before the last chunk (after %d chunks, %d bytes)", resp.Chunks, body.Len())
		case err != nil:
			return err
		}
		size, err := chunkSize(line)
		if err != nil {
			return malformed("chunk %d: %v", resp.Chunks+1, err)
		}
		// Extensions are metadata: they share the header budget, so that
		// a body of tiny chunks cannot carry endless extension bytes.
		if i := strings.IndexAny(line, "; \t"); i >= 0 {
			if p.budget -= len(line) - i; p.budget < 0 {
				return tooLarge("chunk extensions and header section larger than %d bytes", p.lim.MaxHeaderBytes)
			}
		}
		if size == 0 {
			resp.Trailer, err = p.readFields("trailer")
			return err
		}
		if size > p.lim.MaxBodyBytes-int64(body.Len()) {
			return tooLarge("chunked body larger than the limit of %d bytes", p.lim.MaxBodyBytes)
		}
		resp.Chunks++
		got, err := io.CopyN(&body, p.br, size)
		if err == io.EOF {
			return truncated("body ended inside chunk %d (after %d of %d bytes)", resp.Chunks, got, size)
		}
		if err != nil {
			return fmt.Errorf("read chunk %d: %w", resp.Chunks, err)
		}
		end, _, err := p.readLine(2, "chunk end")
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return truncated("body ended after chunk %d, before its CRLF", resp.Chunks)
		case errors.Is(err, errLineTooLong), err == nil && end != "":
			return malformed("chunk %d: data not followed by CRLF (the chunk size %d is wrong?)", resp.Chunks, size)
		case err != nil:
			return err
		}
	}
}

// chunkSize parses "1a;name=value": hex digits, then optional extensions.
func chunkSize(line string) (int64, error) {
	hex, ext := line, ""
	if i := strings.IndexAny(line, "; \t"); i >= 0 {
		hex, ext = line[:i], strings.TrimLeft(line[i:], " \t")
		if ext != "" && ext[0] != ';' {
			return 0, fmt.Errorf("bad chunk size %s: want hex digits, then optional ;extensions", quote(line))
		}
	}
	if hex == "" {
		return 0, fmt.Errorf("bad chunk size %s: want hex digits", quote(line))
	}
	if len(hex) > 15 {
		return 0, fmt.Errorf("bad chunk size %s: more than 15 hex digits", quote(hex))
	}
	var n int64
	for i := 0; i < len(hex); i++ {
		c := hex[i]
		var d byte
		switch {
		case isDigit(c):
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, fmt.Errorf("bad chunk size %s: want hex digits", quote(line))
		}
		n = n<<4 | int64(d)
	}
	for i := 0; i < len(ext); i++ {
		if c := ext[i]; c != '\t' && isCtl(rune(c)) {
			return 0, fmt.Errorf("control character %q in chunk extension", c)
		}
	}
	return n, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isCtl(r rune) bool { return r < 0x20 || r == 0x7f }

// isTokenChar reports whether c may appear in a field name (RFC 9110 tchar).
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', isDigit(c):
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// quote quotes s for an error message, shortened when long.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}
