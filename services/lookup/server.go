// Package lookup is seed 002's full application: the framed request/response
// protocol of Real Python's sockets tutorial (see package frame), a server
// that answers "search" requests from a glossary of networking terms and
// describes any binary request, and its client. It interoperates byte for
// byte with the tutorial's app-server.py and app-client.py, and is bounded
// where they are not: header and content caps, deadlines, and a framed error
// response for every malformed request.
package lookup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"socketlab/services/internal/peer"
	"socketlab/services/internal/service"
	"socketlab/services/lookup/frame"
)

// Port is the default lookup port, the tutorial's.
const Port = 65432

// Content types and encodings, as the tutorial names them.
const (
	TypeJSON         = "text/json"
	TypeClientBinary = "binary/custom-client-binary-type"
	TypeServerBinary = "binary/custom-server-binary-type"
	EncodingUTF8     = "utf-8"
	EncodingBinary   = "binary"
)

// ActionSearch is the one action a text/json request may ask for.
const ActionSearch = "search"

// BinaryPrefix starts the content of the answer to a binary request, which
// then quotes the request's first 10 bytes, exactly as the tutorial's server does.
const BinaryPrefix = "First 10 bytes of request: "

// Error kinds, in the "error" field of an error response. The server closes
// the connection after sending one.
const (
	KindHeaderTooLarge  = "header-too-large"     // the length prefix is over the header cap
	KindContentTooLarge = "content-too-large"    // content-length is over the content cap
	KindBadHeader       = "bad-header"           // header not JSON, not an object, missing or wrongly typed fields
	KindUnknownEncoding = "unknown-encoding"     // text/json content in an encoding the server does not know
	KindBadEncoding     = "bad-encoding"         // content that is not valid in its stated encoding
	KindBadJSON         = "bad-json"             // text/json content that is not a JSON object
	KindTimeout         = "timeout"              // a request started but did not arrive whole in time
	KindTruncated       = "truncated"            // the client closed its side mid-request
	KindShutdown        = "shutdown"             // the server stopped while a request was arriving
	KindBusy            = "server-busy"          // the memory for requests in flight is spent, or the server is full
	KindTooMany         = "too-many-connections" // this address already has --max-per-ip connections
)

// Config tunes a lookup server. The zero value means the defaults.
type Config struct {
	// MaxHeader caps a request's JSON header in bytes (default 16 KiB).
	MaxHeader int
	// MaxContent caps a request's content in bytes (default 1 MiB).
	MaxContent int
	// IdleTimeout closes a connection that starts no request for this long
	// (default 60s).
	IdleTimeout time.Duration
	// RequestTimeout is how long a request may take to arrive whole once its
	// first byte is in (default 10s), so a client that stalls mid-message,
	// or trickles bytes, is cut off.
	RequestTimeout time.Duration
	// WriteTimeout bounds writing one batch of responses (default 10s).
	WriteTimeout time.Duration
	// Linger is how long, after an error response, the server reads and
	// discards what the client still sends before closing, so that the
	// client gets the response instead of a reset (default 1s).
	Linger time.Duration
	// MaxInFlight caps the memory of the content of every request being
	// read, server-wide (default 8 MiB): content is read into it as it
	// arrives, and a request that finds it spent gets a "server-busy" error
	// response. A quarter of it is kept for requests of at most
	// frame.SmallContent bytes, so large requests cannot lock them out.
	MaxInFlight int
	// Glossary answers searches (default DefaultGlossary).
	Glossary *Glossary
}

// DefaultMaxInFlight is the default Config.MaxInFlight: it fits, with
// the garbage collector's headroom, in a lab node of 32 MiB.
const DefaultMaxInFlight = 8 << 20

// DefaultMaxPerIP is the binary's cap on connections from one IPv4
// address or IPv6 /64: with the default --max-conns, one host can hold at
// most 1% of the slots.
const DefaultMaxPerIP = 100

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.MaxHeader <= 0 {
		c.MaxHeader = frame.DefaultMaxHeader
	}
	c.MaxHeader = min(c.MaxHeader, frame.MaxHeaderLen)
	if c.MaxContent <= 0 {
		c.MaxContent = frame.DefaultMaxContent
	}
	def(&c.IdleTimeout, 60*time.Second)
	def(&c.RequestTimeout, 10*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	def(&c.Linger, time.Second)
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.Glossary == nil {
		c.Glossary = DefaultGlossary
	}
	return c
}

// flushAt is how many bytes of responses to pipelined requests the server
// gathers before writing them.
const flushAt = 32 << 10

// NewServer returns a lookup server. Each connection may carry any number of
// requests, also several in one segment (pipelined); each gets its response
// in order, and the connection stays open until the client closes it, as
// the tutorial's client does after one response. A request the server cannot
// read or accept gets a framed error response (text/json, with "result"
// explaining and "error" naming the kind), then the connection closes.
func NewServer(cfg Config) *service.ConnServer {
	cfg = cfg.withDefaults()
	// A found term's response never changes: frame it once.
	answers := make([][]byte, len(cfg.Glossary.terms))
	for i, e := range cfg.Glossary.terms {
		answers[i], _ = frame.Append(nil, jsonResponse(e.Definition))
	}
	budget := frame.NewBudget(cfg.MaxInFlight)
	cs := &service.ConnServer{Name: "lookup", Reject: reject}
	cs.Handler = func(ctx context.Context, c *service.Conn) error {
		h := &handler{cfg: cfg, answers: answers, c: c, log: cs.Log, budget: budget}
		return h.serve(ctx)
	}
	return cs
}

// reject is the last word to a connection refused by a connection cap: a
// framed error response, written before the client's request is read.
func reject(c net.Conn, why error) {
	kind, note := KindBusy, "the server is serving as many connections as it may; try again later"
	if errors.Is(why, service.ErrTooManyFromSource) {
		kind, note = KindTooMany, "your address (or IPv6 /64) has as many connections open as the server allows one host; close one and try again"
	}
	b, _ := frame.Append(nil, errorResponse(kind, note))
	_, _ = c.Write(b)
	if tc, ok := c.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
}

type handler struct {
	cfg     Config
	answers [][]byte // the framed response for each glossary entry
	c       *service.Conn
	log     *slog.Logger
	budget  *frame.Budget
	out     []byte // responses not yet written
	scratch []byte
	reqs    int
}

// errShutdown ends a connection when the server stops; the connection log
// names it "shutdown".
var errShutdown = errors.New("server shutting down")

func (h *handler) serve(ctx context.Context) error {
	fr := frame.NewReader(flushReader{h})
	fr.MaxHeader, fr.MaxContent, fr.Budget = h.cfg.MaxHeader, h.cfg.MaxContent, h.budget
	defer fr.Release()
	for {
		if fr.Buffered() == 0 {
			if err := h.flush(); err != nil {
				return err
			}
			if ctx.Err() != nil {
				return errShutdown
			}
			h.readDeadline(ctx, h.cfg.IdleTimeout)
			if err := fr.Wait(); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				if ctx.Err() != nil {
					return errShutdown
				}
				return err // the idle timeout, or a reset
			}
		}
		h.readDeadline(ctx, h.cfg.RequestTimeout)
		m, err := fr.Next()
		if err != nil {
			return h.fail(ctx, err)
		}
		h.reqs++
		var kind, note string
		h.out, kind, note = h.answer(h.out, m)
		h.logRequest(m, kind, note)
		if len(m.Content) > frame.SmallContent {
			fr.Release() // the budget is for requests in flight, not answered ones
		}
		if kind != "" {
			return h.closeAfterError(kind, note)
		}
		if len(h.out) >= flushAt {
			if err := h.flush(); err != nil {
				return err
			}
		}
	}
}

// readDeadline sets the read deadline d from now, unless the server is
// shutting down: Shutdown cancels ctx before it sets every connection's
// deadline to now, so checking after setting cannot miss it.
func (h *handler) readDeadline(ctx context.Context, d time.Duration) {
	_ = h.c.SetReadDeadline(time.Now().Add(d))
	if ctx.Err() != nil {
		_ = h.c.SetReadDeadline(time.Now())
	}
}

// flushReader reads from the connection, but first writes the responses
// gathered so far. Responses to requests that came in one read go out in one
// write, yet none waits for the network: the reader reads from the socket
// only when the requests it holds are answered and it needs more bytes.
type flushReader struct{ h *handler }

func (f flushReader) Read(p []byte) (int, error) {
	if err := f.h.flush(); err != nil {
		return 0, err
	}
	return f.h.c.Read(p)
}

// flush writes the responses gathered so far in one write.
func (h *handler) flush() error {
	if len(h.out) == 0 {
		return nil
	}
	_ = h.c.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
	_, err := h.c.Write(h.out)
	h.out = h.out[:0]
	if cap(h.out) > 4*flushAt {
		h.out = nil
	}
	return err
}

// fail answers a request that could not be read, when an answer can still
// reach the client, and returns the reason the connection ends.
func (h *handler) fail(ctx context.Context, err error) error {
	var (
		kind string
		note = strings.TrimPrefix(err.Error(), "frame: ")
		pe   *frame.PartialError
		ne   net.Error
	)
	switch {
	case errors.Is(err, frame.ErrHeaderTooLarge):
		kind = KindHeaderTooLarge
	case errors.Is(err, frame.ErrContentTooLarge):
		kind = KindContentTooLarge
	case errors.Is(err, frame.ErrBusy):
		kind = KindBusy
		note += "; try again later"
	case errors.Is(err, frame.ErrMalformedHeader), errors.Is(err, frame.ErrMissingField), errors.Is(err, frame.ErrBadField):
		kind = KindBadHeader
	case errors.Is(err, frame.ErrTruncated):
		kind = KindTruncated
		if errors.As(err, &pe) {
			note = fmt.Sprintf("the connection was shut down after %d of %d bytes of the %s", pe.Got, pe.Want, pe.Part)
		}
	case errors.As(err, &ne) && ne.Timeout() && ctx.Err() != nil:
		kind, note = KindShutdown, "the server is shutting down; the request did not arrive whole"
	case errors.As(err, &ne) && ne.Timeout():
		kind, note = KindTimeout, fmt.Sprintf("no complete request within %s", h.cfg.RequestTimeout)
		if errors.As(err, &pe) {
			note += fmt.Sprintf(": got %d of %d bytes of the %s", pe.Got, pe.Want, pe.Part)
		}
	default:
		// A reset or another socket error: nobody is left to answer.
		return err
	}
	if h.log != nil {
		h.log.LogAttrs(context.Background(), slog.LevelWarn, "request",
			slog.String("peer", peer.String(h.c.RemoteAddr())),
			slog.Int("n", h.reqs+1),
			slog.String("error", kind),
			slog.String("detail", note))
	}
	h.out, _ = frame.Append(h.out, errorResponse(kind, note))
	if kind == KindShutdown {
		_ = h.flush()
		return errShutdown
	}
	return h.closeAfterError(kind, note)
}

// closeAfterError sends the gathered responses, the last of which is an
// error response, then closes cleanly: FIN first, then a bounded drain of
// what the client still sends, because closing with unread input would
// reset the connection and could destroy the response in flight.
func (h *handler) closeAfterError(kind, note string) error {
	if err := h.flush(); err != nil {
		return err
	}
	_ = h.c.CloseWrite()
	_ = h.c.SetReadDeadline(time.Now().Add(h.cfg.Linger))
	_, _ = io.CopyN(io.Discard, h.c, int64(h.cfg.MaxContent)+frame.MaxHeaderLen+2)
	return fmt.Errorf("%s: %s", kind, note)
}

func errorResponse(kind, note string) frame.Message {
	return frame.Message{
		Header:  frame.Header{ContentType: TypeJSON, ContentEncoding: EncodingUTF8},
		Content: frame.AppendObject(nil, "result", "Error: "+note+".", "error", kind),
	}
}

func jsonResponse(result string) frame.Message {
	return frame.Message{
		Header:  frame.Header{ContentType: TypeJSON, ContentEncoding: EncodingUTF8},
		Content: frame.AppendObject(nil, "result", result),
	}
}

// answer appends the response to one request to dst. kind is non-empty
// when the response is an error response after which the connection closes;
// note says what happened, for the log.
func (h *handler) answer(dst []byte, m frame.Message) (out []byte, kind, note string) {
	if m.Header.ContentType != TypeJSON {
		// Binary, or any content type but text/json: as the tutorial does.
		n := min(len(m.Content), 10)
		h.scratch = append(append(h.scratch[:0], BinaryPrefix...), m.Content[:n]...)
		out, _ = frame.Append(dst, frame.Message{
			Header:  frame.Header{ContentType: TypeServerBinary, ContentEncoding: EncodingBinary},
			Content: h.scratch,
		})
		return out, "", "binary"
	}
	text, err := decodeText(m.Header.ContentEncoding, m.Header.ByteOrder, m.Content)
	if err != nil {
		kind := KindBadEncoding
		if errors.Is(err, errUnknownEncoding) {
			kind = KindUnknownEncoding
		}
		out, _ = frame.Append(dst, errorResponse(kind, err.Error()))
		return out, kind, err.Error()
	}
	req, bad := parseRequest(text)
	if bad != "" {
		out, _ = frame.Append(dst, errorResponse(KindBadJSON, bad))
		return out, KindBadJSON, bad
	}
	result, entry, note := h.search(req)
	if entry >= 0 {
		return append(dst, h.answers[entry]...), "", note
	}
	out, _ = frame.Append(dst, jsonResponse(result))
	return out, "", note
}

// request is a text/json request: which of its fields are there, and which
// are strings.
type request struct {
	action, value         string
	hasAction, hasValue   bool
	actionText, valueText bool   // the field is a JSON string
	actionRaw             string // the JSON of a non-string action
}

// parseRequest decodes a text/json request, without allocating for the
// usual flat object. bad is non-empty when the content is not a JSON object.
func parseRequest(b []byte) (r request, bad string) {
	if frame.ScanFlat(b, func(key []byte, kind int, val []byte) {
		switch string(key) {
		case "action":
			r.hasAction, r.actionText = true, kind == frame.FlatString
			r.action, r.actionRaw = string(val), string(val)
			if r.actionText {
				r.actionRaw = ""
			}
		case "value":
			r.hasValue, r.valueText = true, kind == frame.FlatString
			r.value = string(val)
		}
	}) {
		return r, ""
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil || obj == nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return r, fmt.Sprintf("the text/json content is not valid JSON (%v at byte %d)", se, se.Offset)
		}
		return r, "the text/json content is not a JSON object"
	}
	str := func(raw json.RawMessage, s *string) bool {
		return len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, s) == nil
	}
	if raw, ok := obj["action"]; ok {
		r.hasAction, r.actionText = true, str(raw, &r.action)
		if !r.actionText {
			r.actionRaw = string(raw)
		}
	}
	if raw, ok := obj["value"]; ok {
		r.hasValue, r.valueText = true, str(raw, &r.value)
	}
	return r, ""
}

// search answers a well-formed JSON request: the glossary entry's index when
// the term is found (its response is ready-made), or else an explanatory
// result. Mistakes in the request get an explanation, not an error response:
// the framing is intact, so the connection stays usable, as in the tutorial.
func (h *handler) search(r request) (result string, entry int, note string) {
	switch {
	case !r.hasAction:
		return `Error: the request has no "action". Send {"action": "search", "value": "TCP"} to look up a networking term.`, -1, "no action"
	case !r.actionText:
		return fmt.Sprintf(`Error: "action" must be a string, not %s. The only action is "search".`, clip(r.actionRaw)), -1, "action not a string"
	case r.action != ActionSearch:
		return fmt.Sprintf(`Error: invalid action "%s". The only action is "search", with "value" a networking term such as "TCP"; send any content-type but text/json for a binary answer.`, quote(r.action)), -1, "unknown action"
	case !r.valueText:
		return `Error: "search" needs a "value" string: the term to look up, such as "IPv6".`, -1, "no value"
	}
	g := h.cfg.Glossary
	if len(r.value) > MaxSearch {
		// No term is this long: looking, or suggesting, would spend time
		// on what the client sent, and quoting it back would amplify it.
		return fmt.Sprintf("No match for \"%s\" (%d bytes): a term is at most %d bytes. The glossary knows: %s.",
			quote(r.value), len(r.value), MaxSearch, strings.Join(g.Terms(), ", ")), -1, "no match (value too long)"
	}
	if i, ok := g.find(r.value); ok {
		if h.log != nil {
			note = "found " + g.terms[i].Term
		}
		return "", i, note
	}
	if s := g.Suggest(r.value); s != "" {
		return fmt.Sprintf("No match for \"%s\". Did you mean %q?", quote(r.value), s), -1, "no match"
	}
	return fmt.Sprintf("No match for \"%s\". The glossary knows: %s.", quote(r.value), strings.Join(g.Terms(), ", ")), -1, "no match"
}

func (h *handler) logRequest(m frame.Message, kind, note string) {
	if h.log == nil {
		return
	}
	level := slog.LevelInfo
	if kind != "" {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("peer", peer.String(h.c.RemoteAddr())),
		slog.Int("n", h.reqs),
		slog.String("content_type", m.Header.ContentType),
		slog.Int("content_length", m.Header.ContentLength),
	}
	if kind != "" {
		attrs = append(attrs, slog.String("error", kind), slog.String("detail", note))
	} else {
		attrs = append(attrs, slog.String("answer", note))
	}
	ap, _ := peer.AddrPort(h.c.RemoteAddr())
	h.log.LogAttrs(context.Background(), level, "request", service.HealthMark(attrs, ap.Addr())...)
}

// MaxSearch is the longest search value the server looks up; the longest
// term or alias of the default glossary is 30 bytes.
const MaxSearch = 128

// MaxQuote is how much of a value the client sent an answer quotes back.
const MaxQuote = 64

// quote is s as a Go string literal without its quotes, cut to MaxQuote
// bytes of s (on a UTF-8 boundary) with "..." after a cut.
func quote(s string) string {
	cut := ""
	if len(s) > MaxQuote {
		i := MaxQuote
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s, cut = s[:i], "..."
	}
	q := strconv.Quote(s)
	return q[1:len(q)-1] + cut
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Spec describes the lookup server binary.
func Spec() service.Spec {
	var (
		cfg                Config
		maxConns, maxPerIP int
		checkPerIP         func() error
	)
	return service.Spec{
		Name:  "lookup",
		Short: "Answer the sockets tutorial's framed JSON and binary requests",
		Long: "lookup (seed 002, the full application) speaks the framed protocol of Real Python's\n" +
			"sockets tutorial: a 2-byte big-endian length, a UTF-8 JSON header (byteorder,\n" +
			"content-type, content-encoding, content-length), then the content. A text/json\n" +
			"request {\"action\": \"search\", \"value\": TERM} gets {\"result\": ...} from a glossary of\n" +
			"networking terms; any other content type gets a binary answer quoting the first\n" +
			"10 bytes. The tutorial's app-client.py works against it unchanged.\n\n" +
			"A connection may carry many requests; it closes when the client closes it. A\n" +
			"request over the caps, with a bad header or content, or stalled mid-way gets a\n" +
			"framed error response ({\"result\": \"Error: ...\", \"error\": KIND}), then a close.\n" +
			"The content of the requests being read shares --max-inflight bytes server-wide (a\n" +
			"request that finds them spent gets \"server-busy\"), one host (an IPv4 address or an\n" +
			"IPv6 /64) may hold at most --max-per-ip connections, and a search looks at most 128\n" +
			"bytes of its value and quotes back at most 64.\n\n" +
			"Try it: sock lookup localhost search TCP, or sock lookup --raw ::1 binary hello.",
		Port: Port,
		Flags: func(fs *pflag.FlagSet) {
			fs.IntVar(&cfg.MaxHeader, "max-header", frame.DefaultMaxHeader, "largest JSON header accepted, in bytes (at most 65535)")
			fs.IntVar(&cfg.MaxContent, "max-content", frame.DefaultMaxContent, "largest content accepted, in bytes")
			fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 60*time.Second, "close a connection that starts no request for this long")
			fs.DurationVar(&cfg.RequestTimeout, "request-timeout", 10*time.Second, "how long a started request may take to arrive whole")
			fs.IntVar(&maxConns, "max-conns", 10000, "most connections served at once")
			checkPerIP = service.IntVarEnv(fs, &maxPerIP, "max-per-ip", "MAX_PER_IP", DefaultMaxPerIP, 0,
				"most connections from one IPv4 address or IPv6 /64 (0: no limit)")
			fs.IntVar(&cfg.MaxInFlight, "max-inflight", DefaultMaxInFlight, "bytes of request content held at once, server-wide; a request that finds them spent gets a server-busy error")
		},
		Start: func(rt *service.Runtime) (service.Servers, error) {
			if cfg.MaxHeader < 64 || cfg.MaxHeader > frame.MaxHeaderLen {
				return service.Servers{}, fmt.Errorf("--max-header %d is out of range (64-%d)", cfg.MaxHeader, frame.MaxHeaderLen)
			}
			if cfg.MaxContent < 1 {
				return service.Servers{}, fmt.Errorf("--max-content %d must be at least 1", cfg.MaxContent)
			}
			if err := checkPerIP(); err != nil {
				return service.Servers{}, err
			}
			if large := cfg.MaxInFlight - cfg.MaxInFlight/4; large < cfg.MaxContent {
				// A quarter is kept for small requests: see Config.MaxInFlight.
				return service.Servers{}, fmt.Errorf("--max-inflight %d leaves %d bytes for large requests, less than --max-content %d: the largest request could never be read; raise --max-inflight to %d or more",
					cfg.MaxInFlight, large, cfg.MaxContent, (cfg.MaxContent*4+2)/3)
			}
			s := NewServer(cfg)
			s.Log, s.MaxConns, s.MaxPerSource = rt.ConnLog, maxConns, maxPerIP
			return service.Servers{TCP: s}, nil
		},
		Check: Check,
	}
}
