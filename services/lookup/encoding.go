package lookup

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// errUnknownEncoding: text/json content in an encoding the server does not know.
var errUnknownEncoding = errors.New("unknown content-encoding")

// Encodings lists the content-encoding names the server decodes text/json
// content from (case-insensitive, '_' and '-' alike, as Python's codec names).
var Encodings = []string{"utf-8", "ascii", "latin-1", "utf-16", "utf-16-le", "utf-16-be"}

// decodeText turns text/json content into a UTF-8 string. byteOrder (from
// the header) settles UTF-16 without a byte-order mark.
func decodeText(encoding, byteOrder string, b []byte) ([]byte, error) {
	switch strings.ReplaceAll(strings.ToLower(strings.TrimSpace(encoding)), "_", "-") {
	case "utf-8", "utf8", "u8":
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("the content is not valid utf-8 (bad byte at offset %d)", badUTF8(b))
		}
		return b, nil
	case "ascii", "us-ascii":
		for i, c := range b {
			if c >= 0x80 {
				return nil, fmt.Errorf("the content is not ascii (byte 0x%02x at offset %d)", c, i)
			}
		}
		return b, nil
	case "latin-1", "latin1", "iso-8859-1", "iso8859-1", "l1":
		out := make([]byte, 0, 2*len(b))
		for _, c := range b {
			out = utf8.AppendRune(out, rune(c))
		}
		return out, nil
	case "utf-16", "utf16":
		order := binary.ByteOrder(binary.LittleEndian)
		if byteOrder == "big" {
			order = binary.BigEndian
		}
		if len(b) >= 2 {
			switch {
			case b[0] == 0xff && b[1] == 0xfe:
				order, b = binary.LittleEndian, b[2:]
			case b[0] == 0xfe && b[1] == 0xff:
				order, b = binary.BigEndian, b[2:]
			}
		}
		return decodeUTF16(b, order)
	case "utf-16-le", "utf-16le":
		return decodeUTF16(b, binary.LittleEndian)
	case "utf-16-be", "utf-16be":
		return decodeUTF16(b, binary.BigEndian)
	}
	return nil, fmt.Errorf("%w %q for text/json: use one of %s", errUnknownEncoding, clip(encoding), strings.Join(Encodings, ", "))
}

func decodeUTF16(b []byte, order binary.ByteOrder) ([]byte, error) {
	if len(b)%2 != 0 {
		return nil, fmt.Errorf("the content is not valid utf-16 (odd length %d)", len(b))
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = order.Uint16(b[2*i:])
	}
	for i := 0; i < len(u); i++ {
		switch {
		case utf16.IsSurrogate(rune(u[i])) && i+1 < len(u) && u[i] < 0xdc00 && u[i+1] >= 0xdc00 && u[i+1] < 0xe000:
			i++
		case utf16.IsSurrogate(rune(u[i])):
			return nil, fmt.Errorf("the content is not valid utf-16 (lone surrogate at offset %d)", 2*i)
		}
	}
	return []byte(string(utf16.Decode(u))), nil
}

func badUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}
