package ladder

import (
	"bytes"
	"io"
	"testing"
)

// FuzzRead feeds the reader any bytes: a capture is untrusted input. It
// never panics, and what it draws fits TextWidth and renders as SVG.
func FuzzRead(f *testing.F) {
	for _, tc := range cases() {
		f.Add(tc.pcap(&testing.T{}))
	}
	f.Add([]byte("\x0a\x0d\x0d\x0a"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Read(bytes.NewReader(data), Options{})
		if err != nil {
			return
		}
		var text bytes.Buffer
		if err := WriteText(&text, l); err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(text.Bytes(), []byte("\n")) {
			if n := len([]rune(string(line))); n > TextWidth {
				t.Fatalf("a line of %d columns: %q", n, line)
			}
		}
		if err := WriteSVGAll(io.Discard, l); err != nil {
			t.Fatal(err)
		}
	})
}
