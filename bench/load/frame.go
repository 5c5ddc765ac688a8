package load

import (
	"bytes"
	"fmt"
	"io"
)

// ReadFrame reads one framed lookup response from r: the 2-byte length
// prefix, the JSON header, and content-length bytes of content, into buf
// (which must hold the largest of them). It is a Workload.Response.
func ReadFrame(r io.Reader, buf []byte) error {
	if _, err := io.ReadFull(r, buf[:2]); err != nil {
		return err
	}
	hl := int(buf[0])<<8 | int(buf[1])
	if _, err := io.ReadFull(r, buf[:hl]); err != nil {
		return err
	}
	const key = `"content-length": `
	i := bytes.Index(buf[:hl], []byte(key))
	if i < 0 {
		return fmt.Errorf("lookup response: no content-length in %q", buf[:hl])
	}
	n := 0
	for _, c := range buf[i+len(key) : hl] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	if n > len(buf) {
		return fmt.Errorf("lookup response: content of %d bytes", n)
	}
	_, err := io.ReadFull(r, buf[:n])
	return err
}
