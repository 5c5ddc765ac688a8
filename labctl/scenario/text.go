package scenario

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// notText reports the first place where data is not UTF-8 text as YAML
// takes it: a byte that is not UTF-8, a NUL, or another control character
// (tab, line feed and carriage return are text). nil when data is text.
// yaml.v3 says only "invalid leading UTF-8 octet", without a line.
func notText(data []byte) *Error {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		var reason, hint string
		switch {
		case r == utf8.RuneError && size <= 1:
			reason = fmt.Sprintf("byte 0x%02x is not UTF-8", data[i])
			hint = "the file must be UTF-8 text"
			if data[i] >= 0xa0 {
				hint += "; it looks like Latin-1: convert it, e.g. iconv -f latin1 -t utf-8"
			}
		case r == 0:
			reason = "a NUL byte"
			hint = "the file must be UTF-8 text: is it a binary file, or saved as UTF-16?"
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r', r == 0x7f, r >= 0x80 && r <= 0x9f && r != 0x85:
			reason = fmt.Sprintf("control character %U", r)
			hint = "the file must be UTF-8 text without control characters: remove it"
		default:
			i += size
			continue
		}
		line := bytes.Count(data[:i], []byte("\n")) + 1
		col := utf8.RuneCount(data[bytes.LastIndexByte(data[:i], '\n')+1:i]) + 1
		return &Error{Line: line, Column: col, Reason: reason, Hint: hint}
	}
	return nil
}

// nonASCII describes the first letter of word that is not ASCII, as in
// `"wеlcome" has the Cyrillic letter "е", U+0435`, or "" when word is
// ASCII. A name that looks right but does not match usually holds one.
func nonASCII(word string) string {
	for _, r := range word {
		if r < utf8.RuneSelf {
			continue
		}
		what := "the non-ASCII character"
		for _, s := range []struct {
			name  string
			table *unicode.RangeTable
		}{{"Cyrillic", unicode.Cyrillic}, {"Greek", unicode.Greek}, {"Armenian", unicode.Armenian}} {
			if unicode.Is(s.table, r) {
				what = "the " + s.name + " letter"
			}
		}
		if what == "the non-ASCII character" && unicode.IsLetter(r) {
			what = "the non-ASCII letter"
		}
		return fmt.Sprintf("%q has %s %q, %U", word, what, string(r), r)
	}
	return ""
}

// lookalikes are the letters of other scripts that look like ASCII ones,
// the usual homoglyphs of a name copied from a web page or a chat.
var lookalikes = strings.NewReplacer(
	"а", "a", "в", "b", "е", "e", "к", "k", "м", "m", "н", "h", "о", "o", "р", "p", "с", "c", "т", "t",
	"у", "y", "х", "x", "і", "i", "ј", "j", "ѕ", "s", "ԁ", "d", "ɡ", "g",
	"α", "a", "ε", "e", "ι", "i", "κ", "k", "ν", "v", "ο", "o", "ρ", "p", "τ", "t", "υ", "u", "χ", "x",
)
