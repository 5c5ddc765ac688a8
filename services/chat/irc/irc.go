// Package irc reads and writes IRC protocol lines (RFC 1459 and RFC 2812,
// section 2.3): an optional prefix, a command, and up to 15 parameters, the
// last of which may contain spaces. It also names things the way IRC servers
// compare them: nicknames and channels are case-insensitive under the RFC 1459
// casemapping, where {}|^ are the lower case of []\~.
//
// IRC is a byte protocol: the parser passes text through as it came, valid
// UTF-8 or not. Only CR, LF and NUL can never be part of a message.
package irc

import (
	"errors"
	"strings"
)

// MaxLine is the longest line the RFCs allow, CR-LF included.
const MaxLine = 512

// MaxParams is the most parameters a message may carry.
const MaxParams = 15

// Errors returned by Parse.
var (
	ErrEmpty     = errors.New("irc: empty line")
	ErrNoCommand = errors.New("irc: no command")
	ErrBadChar   = errors.New("irc: NUL, CR or LF inside a line")
	ErrCommand   = errors.New("irc: command is neither letters nor a 3-digit numeric")
)

// Message is one IRC message.
type Message struct {
	// Prefix is the source without the leading colon ("nick!user@host" or a
	// server name); empty when the line had none.
	Prefix string
	// Command is the command in upper case ("PRIVMSG") or a 3-digit numeric.
	Command string
	// Params are the parameters; the trailing one (after " :") is the last.
	Params []string
}

// Param returns parameter i, or "" when there are fewer.
func (m *Message) Param(i int) string {
	if i < len(m.Params) {
		return m.Params[i]
	}
	return ""
}

// Parse parses one line without its line ending (a trailing CR or LF is
// tolerated and dropped). IRCv3 message tags (a leading '@' word) are
// skipped. Surplus spaces between words are ignored, as servers do. After 14
// middle parameters, the rest of the line is the 15th, as RFC 2812 says.
func Parse(line string) (Message, error) {
	line = strings.TrimRight(line, "\r\n")
	if strings.ContainsAny(line, "\x00\r\n") {
		return Message{}, ErrBadChar
	}
	var m Message
	rest := strings.TrimLeft(line, " ")
	if rest == "" {
		return m, ErrEmpty
	}
	if rest[0] == '@' {
		_, rest = cut(rest)
	}
	if rest != "" && rest[0] == ':' {
		m.Prefix, rest = cut(rest)
		m.Prefix = m.Prefix[1:]
	}
	m.Command, rest = cut(rest)
	if m.Command == "" {
		return m, ErrNoCommand
	}
	if !validCommand(m.Command) {
		return m, ErrCommand
	}
	m.Command = strings.ToUpper(m.Command)
	for rest != "" {
		if rest[0] == ':' {
			m.Params = append(m.Params, rest[1:])
			break
		}
		if len(m.Params) == MaxParams-1 {
			m.Params = append(m.Params, rest)
			break
		}
		var p string
		p, rest = cut(rest)
		m.Params = append(m.Params, p)
	}
	return m, nil
}

// cut splits s at its first space, dropping the spaces that follow.
func cut(s string) (word, rest string) {
	i := strings.IndexByte(s, ' ')
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i+1:], " ")
}

func validCommand(c string) bool {
	if len(c) == 3 && isDigit(c[0]) && isDigit(c[1]) && isDigit(c[2]) {
		return true
	}
	for i := 0; i < len(c); i++ {
		if !isLetter(c[i]) {
			return false
		}
	}
	return true
}

func isDigit(b byte) bool  { return '0' <= b && b <= '9' }
func isLetter(b byte) bool { return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' }

// Append appends m as one line with CR-LF to b. The last parameter is
// written as a trailing parameter (" :text") when it must be (it is empty,
// has a space or starts with ':') or when trailing is true. Append does not
// check that m is valid; Valid does.
func (m *Message) Append(b []byte, trailing bool) []byte {
	if m.Prefix != "" {
		b = append(b, ':')
		b = append(b, m.Prefix...)
		b = append(b, ' ')
	}
	b = append(b, m.Command...)
	for i, p := range m.Params {
		b = append(b, ' ')
		if i == len(m.Params)-1 && (trailing || p == "" || p[0] == ':' || strings.IndexByte(p, ' ') >= 0) {
			b = append(b, ':')
		}
		b = append(b, p...)
	}
	return append(b, '\r', '\n')
}

// String returns m as a line without CR-LF.
func (m *Message) String() string {
	b := m.Append(nil, false)
	return string(b[:len(b)-2])
}

// Valid reports whether m can be written as a line that parses back to m:
// a command, no NUL/CR/LF anywhere, no space in the prefix or in any
// parameter but the last, no empty or ':'-led parameter but the last, and at
// most MaxParams parameters. It does not check the length.
func (m *Message) Valid() bool {
	if !validCommand(m.Command) || m.Command == "" || len(m.Params) > MaxParams {
		return false
	}
	if strings.ContainsAny(m.Prefix, "\x00\r\n ") {
		return false
	}
	for i, p := range m.Params {
		if strings.ContainsAny(p, "\x00\r\n") {
			return false
		}
		if i < len(m.Params)-1 && (p == "" || p[0] == ':' || strings.IndexByte(p, ' ') >= 0) {
			return false
		}
	}
	return true
}

// Fold returns s in the RFC 1459 casemapping's lower case: A-Z become a-z,
// and []\~ become {}|^. Two nicknames or channels are the same name when
// their folds are equal.
func Fold(s string) string {
	for i := 0; i < len(s); i++ {
		if fold(s[i]) != s[i] {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = fold(b[j])
			}
			return string(b)
		}
	}
	return s
}

func fold(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	case c == '[':
		return '{'
	case c == ']':
		return '}'
	case c == '\\':
		return '|'
	case c == '~':
		return '^'
	}
	return c
}

// NickLen is the longest nickname this server accepts (RFC 2812 says 9;
// today's servers allow about 30 and announce it in RPL_ISUPPORT).
const NickLen = 30

// ValidNick reports whether s is a nickname by RFC 2812's grammar:
// a letter or one of []\`_^{|} first, then letters, digits, those specials
// and '-', at most NickLen bytes.
func ValidNick(s string) bool {
	if s == "" || len(s) > NickLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := isLetter(c) || strings.IndexByte("[]\\`_^{|}", c) >= 0 ||
			i > 0 && (isDigit(c) || c == '-')
		if !ok {
			return false
		}
	}
	return true
}

// ChannelLen is the longest channel name this server accepts, '#' included.
const ChannelLen = 50

// ValidChannel reports whether s is a channel name this server accepts:
// '#' then at least one byte that is none of NUL, BEL, CR, LF, space, comma
// or colon (RFC 2812 section 1.3), at most ChannelLen bytes.
func ValidChannel(s string) bool {
	if len(s) < 2 || len(s) > ChannelLen || s[0] != '#' {
		return false
	}
	return !strings.ContainsAny(s[1:], "\x00\x07\r\n ,:")
}

// IsChannel reports whether target names a channel rather than a nickname.
func IsChannel(target string) bool {
	return strings.HasPrefix(target, "#") || strings.HasPrefix(target, "&")
}
