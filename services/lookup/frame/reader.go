package frame

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// readBufferSize is the Reader's input buffer: small messages are parsed in
// place, several per read; larger content is read straight into its buffer.
const readBufferSize = 4096

// keepContent is the largest content buffer a Reader keeps for the next
// message; a larger one is dropped so an idle connection holds little memory.
const keepContent = 64 << 10

// Reader reads messages from a byte stream. It accepts any split of the
// stream across reads and several messages in one read. Its memory is
// bounded by its caps, and it grows a content buffer only as bytes arrive,
// so a header that announces a large content costs nothing until the
// content comes.
type Reader struct {
	// MaxHeader caps the JSON header in bytes; 0 means DefaultMaxHeader.
	MaxHeader int
	// MaxContent caps the content in bytes; 0 means DefaultMaxContent.
	MaxContent int
	// Budget, when set, is the memory the content buffer is taken from; when
	// it has no room, Next fails with ErrBusy. Call Release when done.
	Budget *Budget

	br      *bufio.Reader
	hdr     []byte
	content []byte
}

// NewReader returns a Reader with the default caps reading from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, readBufferSize)}
}

// Wait blocks until at least one byte of the next message is available. It
// returns io.EOF when the stream ends cleanly between messages, or the
// read error as is (a deadline shows as a net.Error timeout), so a server can
// apply an idle deadline before a message and another one during it.
func (r *Reader) Wait() error {
	_, err := r.br.Peek(1)
	return err
}

// Buffered reports how many bytes have been received but not yet read as
// messages: non-zero after Next means more requests are already here.
func (r *Reader) Buffered() int { return r.br.Buffered() }

// Next reads the next message. The returned content is valid until the next
// call to Next. At a clean end of stream between messages it returns io.EOF;
// otherwise every error says where in the message it happened and wraps a
// sentinel (ErrHeaderTooLarge, ErrContentTooLarge, ErrMalformedHeader,
// ErrMissingField, ErrBadField, ErrTruncated) or the read error.
func (r *Reader) Next() (Message, error) {
	var pre [2]byte
	if n, err := io.ReadFull(r.br, pre[:]); err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return Message{}, io.EOF
		}
		return Message{}, readError(err, "length prefix", n, 2)
	}
	hl := int(binary.BigEndian.Uint16(pre[:]))
	if max := r.maxHeader(); hl > max {
		return Message{}, fmt.Errorf("frame: %w: the length prefix announces %d bytes, the limit is %d", ErrHeaderTooLarge, hl, max)
	}
	if cap(r.hdr) < hl {
		r.hdr = make([]byte, hl, max(hl, 256))
	}
	hdr := r.hdr[:hl]
	if n, err := io.ReadFull(r.br, hdr); err != nil {
		return Message{}, readError(err, "JSON header", n, hl)
	}
	h, err := ParseHeader(hdr)
	if err != nil {
		return Message{}, err
	}
	if max := r.maxContent(); h.ContentLength > max {
		return Message{}, fmt.Errorf("frame: %w: content-length %d is over the limit of %d bytes", ErrContentTooLarge, h.ContentLength, max)
	}
	content, err := r.readContent(h.ContentLength)
	if err != nil {
		return Message{}, err
	}
	return Message{Header: h, Content: content}, nil
}

// readContent reads n bytes, growing the buffer as the bytes arrive.
func (r *Reader) readContent(n int) ([]byte, error) {
	if cap(r.content) > keepContent {
		r.Release()
	}
	buf := r.content[:0]
	for len(buf) < n {
		if len(buf) == cap(buf) {
			size := min(n, max(2*cap(buf), readBufferSize))
			if !r.Budget.take(size-cap(buf), n) {
				r.content = buf[:0]
				return nil, fmt.Errorf("frame: %w: no memory left for %d more bytes of content (%d of %d bytes in use by requests in flight)",
					ErrBusy, size-cap(buf), r.Budget.InUse(), r.Budget.Limit())
			}
			nb := make([]byte, len(buf), size)
			copy(nb, buf)
			buf = nb
		}
		m, err := r.br.Read(buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+m]
		if err != nil && len(buf) < n {
			r.content = buf[:0]
			return nil, readError(err, "content", len(buf), n)
		}
	}
	r.content = buf
	return buf, nil
}

// Release drops the content buffer and gives its memory back to the
// Budget. The Reader stays usable.
func (r *Reader) Release() {
	r.Budget.give(cap(r.content))
	r.content = nil
}

func readError(err error, part string, got, want int) error {
	return &PartialError{Part: part, Got: got, Want: want, Err: err}
}

// PartialError reports a message cut short in one of its parts: by the end
// of the stream (it then wraps ErrTruncated and io.ErrUnexpectedEOF) or by a
// read error such as a deadline (it wraps that error).
type PartialError struct {
	// Part is "length prefix", "JSON header" or "content".
	Part string
	// Got and Want count the bytes of Part read and expected.
	Got, Want int
	// Err is the read error; io.EOF and io.ErrUnexpectedEOF mean the stream ended.
	Err error
}

// Truncated reports whether the stream ended, rather than a read failing.
func (e *PartialError) Truncated() bool {
	return errors.Is(e.Err, io.EOF) || errors.Is(e.Err, io.ErrUnexpectedEOF)
}

func (e *PartialError) Error() string {
	if e.Truncated() {
		return fmt.Sprintf("frame: %v: the stream closed after %d of %d bytes of the %s", ErrTruncated, e.Got, e.Want, e.Part)
	}
	return fmt.Sprintf("frame: read %s (%d of %d bytes): %v", e.Part, e.Got, e.Want, e.Err)
}

// Unwrap returns ErrTruncated and io.ErrUnexpectedEOF for a truncated
// message, and the read error otherwise.
func (e *PartialError) Unwrap() []error {
	if e.Truncated() {
		return []error{ErrTruncated, io.ErrUnexpectedEOF}
	}
	return []error{e.Err}
}

func (r *Reader) maxHeader() int {
	if r.MaxHeader <= 0 {
		return DefaultMaxHeader
	}
	return min(r.MaxHeader, MaxHeaderLen)
}

func (r *Reader) maxContent() int {
	if r.MaxContent <= 0 {
		return DefaultMaxContent
	}
	return r.MaxContent
}
