package frame

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"unicode/utf8"
)

// FuzzReader feeds arbitrary bytes, cut into reads of a fuzzed size, to a
// Reader with small caps. It must never panic, never hold more than its caps,
// read the same messages however the stream is cut, fail only with its
// documented errors, and every message it accepts must survive a round trip
// through Append.
func FuzzReader(f *testing.F) {
	f.Add([]byte(pySearchRing), uint8(1))
	f.Add([]byte(pyRingAnswer+pyBinaryHello), uint8(3))
	f.Add([]byte(pySearchRing+pySearchRing+pySearchRing), uint8(0))
	f.Add([]byte(raw(`{"byteorder": "big", "content-type": "a", "content-encoding": "b", "content-length": 5000}`, "abc")), uint8(2))
	f.Add([]byte("\xff\xff{"), uint8(1))
	f.Add([]byte("\x00\x00"), uint8(1))
	const maxHeader, maxContent = 512, 4096
	type result struct {
		ms  []Message
		err error
	}
	decode := func(data []byte, chunk int) result {
		var src io.Reader = bytes.NewReader(data)
		if chunk > 0 {
			src = &chunkReader{b: data, n: chunk}
		}
		r := NewReader(src)
		r.MaxHeader, r.MaxContent = maxHeader, maxContent
		var res result
		for {
			m, err := r.Next()
			if err != nil {
				res.err = err
				return res
			}
			if len(m.Content) != m.Header.ContentLength || len(m.Content) > maxContent || cap(m.Content) > maxContent {
				panic("content beyond the header or the cap")
			}
			m.Content = bytes.Clone(m.Content)
			res.ms = append(res.ms, m)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		whole := decode(data, 0)
		split := decode(data, int(chunk%16))
		if len(whole.ms) != len(split.ms) || whole.err.Error() != split.err.Error() {
			t.Fatalf("one read: %d messages, %v; reads of %d: %d messages, %v", len(whole.ms), whole.err, chunk%16, len(split.ms), split.err)
		}
		if whole.err != io.EOF {
			known := false
			for _, s := range []error{ErrHeaderTooLarge, ErrContentTooLarge, ErrMalformedHeader, ErrMissingField, ErrBadField, ErrTruncated} {
				known = known || errors.Is(whole.err, s)
			}
			if !known {
				t.Fatalf("undocumented error: %v", whole.err)
			}
		}
		for i, m := range whole.ms {
			if s := split.ms[i]; s.Header != m.Header || !bytes.Equal(s.Content, m.Content) {
				t.Fatalf("message %d differs by split: %+v vs %+v", i, m.Header, s.Header)
			}
			b, err := Append(nil, m)
			if err != nil {
				continue // a header near 64 KiB can grow past the prefix when re-escaped
			}
			back := decode(b, 0)
			if len(back.ms) != 1 || back.ms[0].Header != m.Header || !bytes.Equal(back.ms[0].Content, m.Content) {
				// Re-encoding may escape more (e.g. U+FFFD for nothing) and so
				// outgrow the small cap; anything else is a bug.
				if errors.Is(back.err, ErrHeaderTooLarge) {
					continue
				}
				t.Fatalf("round trip of %+v: %+v, %v", m.Header, back.ms, back.err)
			}
		}
	})
}

// FuzzParseHeader checks ParseHeader's allocation-free fast path against
// encoding/json: whenever the fast path accepts a header, the general
// decoding must accept it with the same fields.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{
		`{"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8", "content-length": 37}`,
		`{"content-length":0,"byteorder":"big","content-type":"x","content-encoding":"","x":null,"y":true,"z":-5}`,
		`{"byteorder": "big", "byteorder": 1, "content-type": "a", "content-encoding": "b", "content-length": 1}`,
		`{"byteorder": "big", "content-type": "a", "content-encoding": "b", "content-length": 012}`,
		`{"byteorder": "big", "content-type": "a", "content-encoding": "b", "content-length": -0}`,
		`{"byteorder": "big", "content-type": "a\u0041", "content-encoding": "b", "content-length": 1.5}`,
		` {"byteorder" : "little" , "content-type":"t", "content-encoding":"e", "content-length":99999999999999999999} `,
		`{}`, `[]`, `{"a": {"b": 1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) {
			return
		}
		fast, ok := parseFlatHeader(b)
		slow, err := parseHeaderJSON(b)
		if ok && (err != nil || fast != slow) {
			t.Fatalf("fast path %+v, encoding/json %+v, %v", fast, slow, err)
		}
		var keys int
		if ScanFlat(b, func([]byte, int, []byte) { keys++ }) && !json.Valid(b) {
			t.Fatalf("ScanFlat accepted invalid JSON %q", b)
		}
	})
}
