package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// Bytes captured from the tutorial's Python client and server (python3
// app-client.py 127.0.0.1 PORT search ring; ... binary hello).
const (
	pySearchRing = "\x00g" + `{"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8", "content-length": 37}` +
		`{"action": "search", "value": "ring"}`
	pyRingAnswer = "\x00g" + `{"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8", "content-length": 60}` +
		`{"result": "In the caves beneath the Misty Mountains. ` + "\xf0\x9f\x92\x8d" + `"}`
	pyBinaryHello = "\x00\x7f" + `{"byteorder": "little", "content-type": "binary/custom-client-binary-type", "content-encoding": "binary", "content-length": 11}` +
		"binaryhello"
)

func TestAppendMatchesPythonBytes(t *testing.T) {
	cases := []struct {
		name string
		m    Message
		want string
	}{
		{"search request", Message{
			Header:  Header{ByteOrder: "little", ContentType: "text/json", ContentEncoding: "utf-8"},
			Content: AppendObject(nil, "action", "search", "value", "ring"),
		}, pySearchRing},
		{"json response", Message{
			Header:  Header{ByteOrder: "little", ContentType: "text/json", ContentEncoding: "utf-8"},
			Content: AppendObject(nil, "result", "In the caves beneath the Misty Mountains. \U0001f48d"),
		}, pyRingAnswer},
		{"binary request", Message{
			Header:  Header{ByteOrder: "little", ContentType: "binary/custom-client-binary-type", ContentEncoding: "binary", ContentLength: 999},
			Content: []byte("binaryhello"),
		}, pyBinaryHello},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Append(nil, c.m)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
			var w bytes.Buffer
			if n, err := Write(&w, c.m); err != nil || n != int64(len(c.want)) || w.String() != c.want {
				t.Errorf("Write: %d, %v, %q", n, err, w.String())
			}
		})
	}
}

// Expected values printed by python3 -c 'print(json.dumps(s, ensure_ascii=False))'.
func TestAppendStringLikePython(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain", `"plain"`},
		{`quote" back\\ slash`, `"quote\" back\\\\ slash"`},
		{"nl\n cr\r tab\t bs\b ff\f", `"nl\n cr\r tab\t bs\b ff\f"`},
		{"ctl\x00\x01\x1f del\x7f", `"ctl\u0000\u0001\u001f del` + "\x7f\""},
		{"caf\u00e9 \U0001f430 \u2028\u2029", "\"caf\u00e9 \U0001f430 \u2028\u2029\""},
		{"<&>/", `"<&>/"`},
		{"bad \xff utf-8", "\"bad \uFFFD utf-8\""},
	}
	for _, c := range cases {
		if got := string(AppendString(nil, c.in)); got != c.want {
			t.Errorf("AppendString(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestWriteIsOneCallForSmallMessages(t *testing.T) {
	cases := []struct {
		name  string
		size  int
		calls int
	}{
		{"empty", 0, 1},
		{"small", 100, 1},
		{"64 KiB", 64 << 10, 1},
		{"large, not a TCP conn", 200 << 10, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := &countingWriter{}
			m := Message{Header: Header{ContentType: "binary/x", ContentEncoding: "binary"}, Content: bytes.Repeat([]byte("x"), c.size)}
			if _, err := Write(w, m); err != nil {
				t.Fatal(err)
			}
			if w.calls != c.calls {
				t.Errorf("%d write calls, want %d", w.calls, c.calls)
			}
			got, err := NewReader(&w.buf).Next()
			if err != nil || len(got.Content) != c.size {
				t.Errorf("read back: %v, %d bytes", err, len(got.Content))
			}
		})
	}
}

type countingWriter struct {
	buf   bytes.Buffer
	calls int
}

func (w *countingWriter) Write(p []byte) (int, error) { w.calls++; return w.buf.Write(p) }

func messages() []Message {
	return []Message{
		{Header: Header{ByteOrder: "little", ContentType: "text/json", ContentEncoding: "utf-8"}, Content: AppendObject(nil, "action", "search", "value", "TCP")},
		{Header: Header{ByteOrder: "big", ContentType: "binary/custom-client-binary-type", ContentEncoding: "binary"}, Content: []byte{0, 1, 2, 0xff}},
		{Header: Header{ByteOrder: "little", ContentType: "binary/empty", ContentEncoding: "binary"}, Content: []byte{}},
		{Header: Header{ByteOrder: "little", ContentType: "binary/big", ContentEncoding: "binary"}, Content: bytes.Repeat([]byte("0123456789"), 10000)},
	}
}

func stream(t testing.TB, ms []Message) []byte {
	var b []byte
	for _, m := range ms {
		var err error
		if b, err = Append(b, m); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// The reader gets the same messages however the stream is cut into reads.
func TestReaderAnySplit(t *testing.T) {
	want := messages()
	all := stream(t, want)
	readers := map[string]func() io.Reader{
		"one read":          func() io.Reader { return bytes.NewReader(all) },
		"one byte per read": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(all)) },
		"half reads":        func() io.Reader { return iotest.HalfReader(bytes.NewReader(all)) },
		"data with EOF":     func() io.Reader { return iotest.DataErrReader(bytes.NewReader(all)) },
		"7-byte chunks":     func() io.Reader { return &chunkReader{b: all, n: 7} },
	}
	for name, mk := range readers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := NewReader(mk())
			for i, w := range want {
				got, err := r.Next()
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				w.Header.ContentLength = len(w.Content)
				if got.Header != w.Header || !bytes.Equal(got.Content, w.Content) {
					t.Fatalf("message %d: got %+v (%d bytes), want %+v", i, got.Header, len(got.Content), w.Header)
				}
			}
			if _, err := r.Next(); err != io.EOF {
				t.Errorf("after the last message: %v, want io.EOF", err)
			}
		})
	}
}

type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.n)], c.b)
	c.b = c.b[n:]
	return n, nil
}

// raw frames a header given as text, with content.
func raw(header, content string) string {
	var pre [2]byte
	binary.BigEndian.PutUint16(pre[:], uint16(len(header)))
	return string(pre[:]) + header + content
}

func TestReaderErrors(t *testing.T) {
	hdr := func(fields string) string { return "{" + fields + "}" }
	const ok = `"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8"`
	cases := []struct {
		name  string
		in    string
		is    error
		text  string
		limit int
	}{
		{"clean EOF", "", io.EOF, "EOF", 0},
		{"one length byte", "\x00", ErrTruncated, "closed after 1 of 2 bytes of the length prefix", 0},
		{"header cut", raw(hdr(ok+`, "content-length": 0`), "")[:20], ErrTruncated, "closed after 18 of 102 bytes of the JSON header", 0},
		{"content cut", raw(hdr(ok+`, "content-length": 10`), "abc"), ErrTruncated, "closed after 3 of 10 bytes of the content", 0},
		{"header over the cap", "\xff\xff" + strings.Repeat(" ", 100), ErrHeaderTooLarge, "announces 65535 bytes, the limit is 16384", 0},
		{"header over a small cap", raw(hdr(ok+`, "content-length": 0`), ""), ErrHeaderTooLarge, "announces 102 bytes, the limit is 50", 50},
		{"empty header", "\x00\x00", ErrMalformedHeader, "announces 0 bytes", 0},
		{"not JSON", raw("hello", ""), ErrMalformedHeader, "malformed JSON header: invalid character 'h'", 0},
		{"JSON array", raw("[1, 2]", ""), ErrMalformedHeader, "a JSON array, not an object", 0},
		{"JSON null", raw("null", ""), ErrMalformedHeader, "null, not an object", 0},
		{"trailing data", raw(hdr(ok+`, "content-length": 0`)+"{}", ""), ErrMalformedHeader, "after top-level value", 0},
		{"invalid UTF-8", raw(`{"byteorder": "`+"\xff"+`"}`, ""), ErrMalformedHeader, "not valid UTF-8", 0},
		{"missing byteorder", raw(hdr(`"content-type": "a", "content-encoding": "b", "content-length": 0`), ""), ErrMissingField, `missing header field: "byteorder"`, 0},
		{"missing content-length", raw(hdr(ok), ""), ErrMissingField, `missing header field: "content-length"`, 0},
		{"missing content-type", raw(hdr(`"byteorder": "big", "content-encoding": "b", "content-length": 0`), ""), ErrMissingField, `"content-type"`, 0},
		{"missing content-encoding", raw(hdr(`"byteorder": "big", "content-type": "a", "content-length": 0`), ""), ErrMissingField, `"content-encoding"`, 0},
		{"length as a string", raw(hdr(ok+`, "content-length": "3"`), "abc"), ErrBadField, `"content-length" must be a whole number of bytes, not "3"`, 0},
		{"fractional length", raw(hdr(ok+`, "content-length": 3.0`), "abc"), ErrBadField, `not 3.0`, 0},
		{"boolean length", raw(hdr(ok+`, "content-length": true`), "a"), ErrBadField, `not true`, 0},
		{"negative length", raw(hdr(ok+`, "content-length": -1`), ""), ErrBadField, `"content-length" is negative (-1)`, 0},
		{"huge length", raw(hdr(ok+`, "content-length": 123456789012345678901234567890`), ""), ErrBadField, `is out of range`, 0},
		{"byteorder a number", raw(hdr(`"byteorder": 1, "content-type": "a", "content-encoding": "b", "content-length": 0`), ""), ErrBadField, `"byteorder" must be a string, not 1`, 0},
		{"byteorder unknown", raw(hdr(`"byteorder": "middle", "content-type": "a", "content-encoding": "b", "content-length": 0`), ""), ErrBadField, `must be "little" or "big", not "middle"`, 0},
		{"content-type null", raw(hdr(`"byteorder": "big", "content-type": null, "content-encoding": "b", "content-length": 0`), ""), ErrBadField, `"content-type" must be a string, not null`, 0},
		{"content-type empty", raw(hdr(`"byteorder": "big", "content-type": "", "content-encoding": "b", "content-length": 0`), ""), ErrBadField, `"content-type" is empty`, 0},
		{"encoding an object", raw(hdr(`"byteorder": "big", "content-type": "a", "content-encoding": {}, "content-length": 0`), ""), ErrBadField, `"content-encoding" must be a string, not {}`, 0},
		{"content over the cap", raw(hdr(ok+`, "content-length": 1048577`), ""), ErrContentTooLarge, "content-length 1048577 is over the limit of 1048576 bytes", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := NewReader(strings.NewReader(c.in))
			r.MaxHeader = c.limit
			_, err := r.Next()
			if !errors.Is(err, c.is) {
				t.Fatalf("error %v, want one wrapping %v", err, c.is)
			}
			if !strings.Contains(err.Error(), c.text) {
				t.Errorf("error %q lacks %q", err, c.text)
			}
		})
	}
}

func TestReaderToleratesExtraFieldsAndDuplicates(t *testing.T) {
	in := raw(`{"content-length": 99, "byteorder": "big", "content-type": "x", "content-encoding": "", "content-length": 2, "note": [1]}`, "hi")
	m, err := NewReader(strings.NewReader(in)).Next()
	if err != nil {
		t.Fatal(err)
	}
	// The last duplicate wins, as in Python's json module.
	if m.Header != (Header{ByteOrder: "big", ContentType: "x", ContentLength: 2}) || string(m.Content) != "hi" {
		t.Errorf("got %+v %q", m.Header, m.Content)
	}
}

// A header announcing a megabyte costs nothing until the megabyte arrives.
// Not parallel: it reads the process's allocation counter.
func TestReaderAllocatesOnlyWhatArrives(t *testing.T) {
	in := raw(`{"byteorder": "little", "content-type": "x", "content-encoding": "binary", "content-length": 1048576}`, "only ten b")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, err := NewReader(strings.NewReader(in)).Next(); !errors.Is(err, ErrTruncated) {
			t.Fatalf("got %v, want truncated", err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 10; per > 32<<10 {
		t.Errorf("allocated %d bytes per truncated message, want a few KiB", per)
	}
}

func TestParseHeaderRoundTrip(t *testing.T) {
	h := Header{ByteOrder: "big", ContentType: "text/\"json\"\n", ContentEncoding: "\U0001f436", ContentLength: 12345}
	b, err := AppendHeader(nil, h, h.ContentLength)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseHeader(b[2:])
	if err != nil || got != h {
		t.Errorf("got %+v, %v; want %+v", got, err, h)
	}
	if _, err := AppendHeader(nil, Header{ContentType: strings.Repeat("x", MaxHeaderLen)}, 0); !errors.Is(err, ErrHeaderTooLarge) {
		t.Errorf("oversized header: %v", err)
	}
	if h, _ := AppendHeader(nil, Header{}, 0); !bytes.Contains(h, []byte(`"byteorder": "`+NativeByteOrder+`"`)) {
		t.Errorf("default byte order: %s", h)
	}
}

// Readers that share a Budget hold no more than it between them, fail with
// ErrBusy past it, and give everything back on Release.
func TestBudget(t *testing.T) {
	b := NewBudget(256 << 10) // 192 KiB for messages over SmallContent
	msg := func(n int) []byte {
		m, err := Append(nil, Message{Header: Header{ContentType: "binary/x", ContentEncoding: "binary"}, Content: make([]byte, n)})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	large := msg(100 << 10)
	r1 := NewReader(bytes.NewReader(large))
	r1.Budget = b
	if _, err := r1.Next(); err != nil {
		t.Fatalf("first 100 KiB message: %v", err)
	}
	r2 := NewReader(bytes.NewReader(large))
	r2.Budget = b
	if _, err := r2.Next(); !errors.Is(err, ErrBusy) {
		t.Fatalf("second 100 KiB message with %d of %d bytes in use: %v, want ErrBusy", b.InUse(), b.Limit(), err)
	}
	r3 := NewReader(bytes.NewReader(msg(1000)))
	r3.Budget = b
	if _, err := r3.Next(); err != nil {
		t.Fatalf("small message while large ones spent their share: %v", err)
	}
	if b.InUse() > b.Limit() {
		t.Errorf("%d bytes in use, over the budget of %d", b.InUse(), b.Limit())
	}
	r1.Release()
	r2.Release()
	r3.Release()
	if n := b.InUse(); n != 0 {
		t.Errorf("%d bytes still in use after every Reader released", n)
	}
}
