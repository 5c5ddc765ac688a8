// Package frame is the wire format of the lookup protocol, the "custom header
// and content" application of Real Python's sockets tutorial:
//
//	+--------+---------------------------+------------------------+
//	| 2 bytes| length bytes              | content-length bytes   |
//	| length | UTF-8 JSON header         | content                |
//	+--------+---------------------------+------------------------+
//
// The length is a big-endian unsigned 16-bit integer. The header is a JSON
// object with the keys "byteorder", "content-type", "content-encoding" and
// "content-length"; exactly content-length bytes of content follow.
//
// Writing produces the same bytes as the tutorial's Python code
// (json.dumps(header, ensure_ascii=False)), so a capture of either side looks
// the same. Reading is strict and bounded: a Reader accepts any split of the
// stream across reads and several messages in one read, never buffers more
// than its caps, and reports what was wrong with an error that wraps one of
// the sentinel errors below.
package frame

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"unicode/utf8"
)

// Default caps of a Reader.
const (
	DefaultMaxHeader  = 16 << 10 // bytes of JSON header
	DefaultMaxContent = 1 << 20  // bytes of content
)

// MaxHeaderLen is the largest header the 2-byte length can announce.
const MaxHeaderLen = 1<<16 - 1

// Header field names, as they appear on the wire.
const (
	FieldByteOrder       = "byteorder"
	FieldContentType     = "content-type"
	FieldContentEncoding = "content-encoding"
	FieldContentLength   = "content-length"
)

// The errors a Reader wraps; branch on them with errors.Is.
var (
	// ErrHeaderTooLarge: the length prefix announces more header bytes than the cap.
	ErrHeaderTooLarge = errors.New("JSON header too large")
	// ErrContentTooLarge: the header's content-length is over the cap.
	ErrContentTooLarge = errors.New("content too large")
	// ErrMalformedHeader: the header is empty, not UTF-8, not JSON, or not an object.
	ErrMalformedHeader = errors.New("malformed JSON header")
	// ErrMissingField: one of the four header fields is absent.
	ErrMissingField = errors.New("missing header field")
	// ErrBadField: a header field has the wrong JSON type or an impossible value.
	ErrBadField = errors.New("bad header field")
	// ErrTruncated: the stream ended in the middle of a message. It also wraps
	// io.ErrUnexpectedEOF.
	ErrTruncated = errors.New("stream ended mid-message")
)

// Header is the JSON header of a message.
type Header struct {
	// ByteOrder is "little" or "big": the sender's native byte order, which
	// the tutorial sends for information. Empty means this host's order when
	// writing.
	ByteOrder string
	// ContentType is "text/json" for JSON content; anything else is binary.
	ContentType string
	// ContentEncoding names the content's text encoding ("utf-8"), or
	// "binary".
	ContentEncoding string
	// ContentLength is the number of content bytes that follow. Writing
	// ignores it and uses the length of the content.
	ContentLength int
}

// Message is one framed message.
type Message struct {
	Header  Header
	Content []byte
}

// NativeByteOrder is this host's byte order as the header names it, like
// Python's sys.byteorder.
var NativeByteOrder = func() string {
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], 1)
	if b[0] == 1 {
		return "little"
	}
	return "big"
}()

// AppendHeader appends the length prefix and the JSON header of a message
// carrying contentLength bytes, formatted exactly as the tutorial's Python
// code formats it. It fails only when the header would not fit the prefix.
func AppendHeader(dst []byte, h Header, contentLength int) ([]byte, error) {
	order := h.ByteOrder
	if order == "" {
		order = NativeByteOrder
	}
	start := len(dst)
	dst = append(dst, 0, 0, '{')
	dst = appendKey(dst, FieldByteOrder)
	dst = AppendString(dst, order)
	dst = append(dst, ", "...)
	dst = appendKey(dst, FieldContentType)
	dst = AppendString(dst, h.ContentType)
	dst = append(dst, ", "...)
	dst = appendKey(dst, FieldContentEncoding)
	dst = AppendString(dst, h.ContentEncoding)
	dst = append(dst, ", "...)
	dst = appendKey(dst, FieldContentLength)
	dst = strconv.AppendInt(dst, int64(contentLength), 10)
	dst = append(dst, '}')
	n := len(dst) - start - 2
	if n > MaxHeaderLen {
		return dst[:start], fmt.Errorf("frame: encode: %w: %d bytes, the length prefix holds at most %d", ErrHeaderTooLarge, n, MaxHeaderLen)
	}
	binary.BigEndian.PutUint16(dst[start:], uint16(n))
	return dst, nil
}

func appendKey(dst []byte, k string) []byte {
	dst = AppendString(dst, k)
	return append(dst, ": "...)
}

// Append appends the whole of m, prefix, header and content, to dst.
func Append(dst []byte, m Message) ([]byte, error) {
	dst, err := AppendHeader(dst, m.Header, len(m.Content))
	if err != nil {
		return dst, err
	}
	return append(dst, m.Content...), nil
}

// coalesceLimit is the content size up to which Write copies the content
// next to the header to send the message in one write call.
const coalesceLimit = 64 << 10

// Write sends m to w in as few write calls as it can: one for a message of up
// to 64 KiB of content, and otherwise one writev when w is a *net.TCPConn
// (net.Buffers), two writes elsewhere.
func Write(w io.Writer, m Message) (int64, error) {
	size := 2 + 128 + len(m.Header.ContentType) + len(m.Header.ContentEncoding)
	if len(m.Content) <= coalesceLimit {
		size += len(m.Content)
	}
	buf, err := AppendHeader(make([]byte, 0, size), m.Header, len(m.Content))
	if err != nil {
		return 0, err
	}
	if len(m.Content) <= coalesceLimit {
		buf = append(buf, m.Content...)
		n, err := w.Write(buf)
		return int64(n), err
	}
	bufs := net.Buffers{buf, m.Content}
	return bufs.WriteTo(w)
}

// AppendObject appends a JSON object of string keys and values, given as
// alternating key and value arguments, formatted as Python's
// json.dumps(obj, ensure_ascii=False) formats it: {"key": "value", ...}.
func AppendObject(dst []byte, kv ...string) []byte {
	dst = append(dst, '{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = appendKey(dst, kv[i])
		dst = AppendString(dst, kv[i+1])
	}
	return append(dst, '}')
}

// AppendString appends s as a JSON string the way Python's json.dumps with
// ensure_ascii=False writes it: quote, backslash and control characters
// escaped (\n \r \t \b \f, others as \u00XX), everything else as UTF-8.
// Invalid UTF-8 becomes U+FFFD, so the output is always valid UTF-8.
func AppendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c == '\b':
				dst = append(dst, '\\', 'b')
			case c == '\f':
				dst = append(dst, '\\', 'f')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// ParseHeader decodes and checks a JSON header (without its length prefix).
// Unknown keys are ignored, as the tutorial does; the four fields must be
// present with their types: byteorder "little" or "big", content-type a
// non-empty string, content-encoding a string, content-length an integer
// from 0 up.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) == 0 {
		return h, fmt.Errorf("frame: %w: the length prefix announces 0 bytes", ErrMalformedHeader)
	}
	if !utf8.Valid(b) {
		return h, fmt.Errorf("frame: %w: not valid UTF-8", ErrMalformedHeader)
	}
	if h, ok := parseFlatHeader(b); ok {
		return h, nil
	}
	return parseHeaderJSON(b)
}

// parseHeaderJSON is ParseHeader with encoding/json, for any valid UTF-8 b.
func parseHeaderJSON(b []byte) (Header, error) {
	var h Header
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return h, fmt.Errorf("frame: %w: a JSON %s, not an object", ErrMalformedHeader, te.Value)
		}
		return h, fmt.Errorf("frame: %w: %v", ErrMalformedHeader, err)
	}
	if fields == nil { // the header was JSON null
		return h, fmt.Errorf("frame: %w: null, not an object", ErrMalformedHeader)
	}
	// Report fields in the tutorial's order of checking.
	for _, k := range []string{FieldByteOrder, FieldContentLength, FieldContentType, FieldContentEncoding} {
		if _, ok := fields[k]; !ok {
			return h, fmt.Errorf("frame: %w: %q", ErrMissingField, k)
		}
	}
	var err error
	if h.ByteOrder, err = stringField(fields, FieldByteOrder); err != nil {
		return h, err
	}
	if h.ByteOrder != "little" && h.ByteOrder != "big" {
		return h, fmt.Errorf("frame: %w: %q must be \"little\" or \"big\", not %s", ErrBadField, FieldByteOrder, fields[FieldByteOrder])
	}
	raw := fields[FieldContentLength]
	n, perr := strconv.ParseInt(string(raw), 10, 64)
	switch {
	case perr == nil && n >= 0 && n <= int64(^uint(0)>>1):
		h.ContentLength = int(n)
	case perr == nil && n < 0:
		return h, fmt.Errorf("frame: %w: %q is negative (%d)", ErrBadField, FieldContentLength, n)
	case errors.Is(perr, strconv.ErrRange):
		return h, fmt.Errorf("frame: %w: %q is out of range (%s)", ErrBadField, FieldContentLength, clip(raw))
	default:
		return h, fmt.Errorf("frame: %w: %q must be a whole number of bytes, not %s", ErrBadField, FieldContentLength, clip(raw))
	}
	if h.ContentType, err = stringField(fields, FieldContentType); err != nil {
		return h, err
	}
	if h.ContentType == "" {
		return h, fmt.Errorf("frame: %w: %q is empty", ErrBadField, FieldContentType)
	}
	if h.ContentEncoding, err = stringField(fields, FieldContentEncoding); err != nil {
		return h, err
	}
	return h, nil
}

func stringField(fields map[string]json.RawMessage, k string) (string, error) {
	var s string
	raw := fields[k]
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", fmt.Errorf("frame: %w: %q must be a string, not %s", ErrBadField, k, clip(raw))
	}
	return s, nil
}

// clip shortens a raw JSON value for an error message.
func clip(raw []byte) string {
	const max = 40
	if len(raw) <= max {
		return string(raw)
	}
	return string(raw[:max]) + "..."
}
