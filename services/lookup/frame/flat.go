package frame

// Kinds of value ScanFlat reports.
const (
	FlatString = iota // a JSON string without escapes: val is its text
	FlatInt           // a JSON integer: val is its digits, with '-' if negative
	FlatOther         // true, false or null: val is the literal
)

// ScanFlat walks b, which must be valid UTF-8, as a JSON object whose values
// are all simple: strings without escape sequences, integers, true, false or
// null. It calls f for each member in order and returns true when b is
// exactly such an object. It returns false as soon as it meets anything
// else (an escape, a fraction, a nested value, a syntax error), so the
// caller can fall back on encoding/json, which then gives the same result
// or the exact error. It allocates nothing.
func ScanFlat(b []byte, f func(key []byte, kind int, val []byte)) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	for {
		key, j, ok := scanString(b, i)
		if !ok {
			return false
		}
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return false
		}
		var (
			kind int
			val  []byte
		)
		switch c := b[i]; {
		case c == '"':
			val, j, ok = scanString(b, i)
			kind = FlatString
		case c == '-' || c >= '0' && c <= '9':
			val, j, ok = scanInt(b, i)
			kind = FlatInt
		default:
			val, j, ok = scanLiteral(b, i)
			kind = FlatOther
		}
		if !ok {
			return false
		}
		f(key, kind, val)
		i = skipSpace(b, j)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return skipSpace(b, i+1) == len(b)
		default:
			return false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString reads a string without escapes or control characters at b[i].
func scanString(b []byte, i int) (val []byte, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return nil, j, false
		}
	}
	return nil, len(b), false
}

// scanInt reads a JSON integer (no fraction or exponent) at b[i].
func scanInt(b []byte, i int) (val []byte, next int, ok bool) {
	j := i
	if b[j] == '-' {
		j++
	}
	start := j
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	switch {
	case j == start, j-start > 1 && b[start] == '0':
		return nil, j, false
	case j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E'):
		return nil, j, false
	}
	return b[i:j], j, true
}

func scanLiteral(b []byte, i int) (val []byte, next int, ok bool) {
	for _, lit := range []string{"true", "false", "null"} {
		if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
			return b[i : i+len(lit)], i + len(lit), true
		}
	}
	return nil, i, false
}

// parseFlatHeader is ParseHeader's fast path: a header of simple values
// whose four fields are present and valid. ok is false for anything else,
// which ParseHeader then decodes with encoding/json to report the error.
func parseFlatHeader(b []byte) (h Header, ok bool) {
	var seen, bad int
	flat := ScanFlat(b, func(key []byte, kind int, val []byte) {
		switch string(key) {
		case FieldByteOrder:
			seen |= 1
			if kind != FlatString || (string(val) != "little" && string(val) != "big") {
				bad |= 1
				return
			}
			bad &^= 1
			h.ByteOrder = intern(val)
		case FieldContentType:
			seen |= 2
			if kind != FlatString || len(val) == 0 {
				bad |= 2
				return
			}
			bad &^= 2
			h.ContentType = intern(val)
		case FieldContentEncoding:
			seen |= 4
			if kind != FlatString {
				bad |= 4
				return
			}
			bad &^= 4
			h.ContentEncoding = intern(val)
		case FieldContentLength:
			seen |= 8
			n, ok := atoi(val)
			if kind != FlatInt || !ok {
				bad |= 8
				return
			}
			bad &^= 8
			h.ContentLength = n
		}
	})
	return h, flat && seen == 15 && bad == 0
}

// atoi parses a non-negative decimal integer that fits an int.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 18 || b[0] == '-' {
		return 0, false
	}
	n := 0
	for _, c := range b {
		n = n*10 + int(c-'0')
	}
	return n, true
}

// intern returns the common header values without allocating.
func intern(b []byte) string {
	switch string(b) {
	case "little":
		return "little"
	case "big":
		return "big"
	case "text/json":
		return "text/json"
	case "utf-8":
		return "utf-8"
	case "binary":
		return "binary"
	case "binary/custom-client-binary-type":
		return "binary/custom-client-binary-type"
	case "binary/custom-server-binary-type":
		return "binary/custom-server-binary-type"
	}
	return string(b)
}
