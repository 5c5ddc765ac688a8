package irc

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		name string
		line string
		want Message
		err  error
	}{
		{"command only", "QUIT", Message{Command: "QUIT"}, nil},
		{"lower case command", "privmsg #lab :hi", Message{Command: "PRIVMSG", Params: []string{"#lab", "hi"}}, nil},
		{"prefix and trailing", ":ada!~ada@0::1 PRIVMSG #lab :hello there", Message{Prefix: "ada!~ada@0::1", Command: "PRIVMSG", Params: []string{"#lab", "hello there"}}, nil},
		{"numeric", ":srv 001 ada :Welcome", Message{Prefix: "srv", Command: "001", Params: []string{"ada", "Welcome"}}, nil},
		{"empty trailing", "TOPIC #lab :", Message{Command: "TOPIC", Params: []string{"#lab", ""}}, nil},
		{"trailing keeps colons and spaces", "PRIVMSG #a ::) a  b ", Message{Command: "PRIVMSG", Params: []string{"#a", ":) a  b "}}, nil},
		{"extra spaces", "  JOIN   #a   ", Message{Command: "JOIN", Params: []string{"#a"}}, nil},
		{"CRLF tolerated", "PING :x\r\n", Message{Command: "PING", Params: []string{"x"}}, nil},
		{"tags skipped", "@time=2024 :n PRIVMSG #a :x", Message{Prefix: "n", Command: "PRIVMSG", Params: []string{"#a", "x"}}, nil},
		{"15th param takes the rest", "C 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", Message{Command: "C",
			Params: []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15 16"}}, nil},
		{"invalid UTF-8 passes through", "PRIVMSG #a :\xff\xfe caf\xc3", Message{Command: "PRIVMSG", Params: []string{"#a", "\xff\xfe caf\xc3"}}, nil},
		{"empty", "", Message{}, ErrEmpty},
		{"spaces", "   ", Message{}, ErrEmpty},
		{"prefix only", ":ada", Message{Prefix: "ada"}, ErrNoCommand},
		{"NUL", "PRIVMSG #a :x\x00y", Message{}, ErrBadChar},
		{"bad command", "PRIV-MSG x", Message{Command: "PRIV-MSG"}, ErrCommand},
		{"4-digit numeric", "1234 x", Message{Command: "1234"}, ErrCommand},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(c.line)
			if err != c.err {
				t.Fatalf("Parse(%q) error %v, want %v", c.line, err, c.err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Parse(%q) = %#v, want %#v", c.line, got, c.want)
			}
		})
	}
}

func TestAppend(t *testing.T) {
	cases := []struct {
		m        Message
		trailing bool
		want     string
	}{
		{Message{Prefix: "s", Command: "001", Params: []string{"ada", "Welcome"}}, true, ":s 001 ada :Welcome\r\n"},
		{Message{Command: "JOIN", Params: []string{"#lab"}}, false, "JOIN #lab\r\n"},
		{Message{Command: "PRIVMSG", Params: []string{"#lab", "two words"}}, false, "PRIVMSG #lab :two words\r\n"},
		{Message{Command: "PRIVMSG", Params: []string{"#lab", ":)"}}, false, "PRIVMSG #lab ::)\r\n"},
		{Message{Command: "TOPIC", Params: []string{"#lab", ""}}, false, "TOPIC #lab :\r\n"},
		{Message{Command: "QUIT"}, true, "QUIT\r\n"},
	}
	for _, c := range cases {
		if got := string(c.m.Append(nil, c.trailing)); got != c.want {
			t.Errorf("%#v: got %q, want %q", c.m, got, c.want)
		}
	}
}

func TestFoldAndNames(t *testing.T) {
	for _, p := range [][2]string{{"Ada", "ada"}, {"[x]\\~", "{x}|^"}, {"#LAB", "#lab"}, {"nochange", "nochange"}} {
		if got := Fold(p[0]); got != p[1] {
			t.Errorf("Fold(%q) = %q, want %q", p[0], got, p[1])
		}
	}
	for nick, ok := range map[string]bool{
		"ada": true, "Ada_1": true, "[bot]": true, "`x^": true, "a-b": true,
		"": false, "1ada": false, "-a": false, "a b": false, "a!b": false, "é": false,
		strings.Repeat("a", NickLen): true, strings.Repeat("a", NickLen+1): false,
	} {
		if ValidNick(nick) != ok {
			t.Errorf("ValidNick(%q) = %v, want %v", nick, !ok, ok)
		}
	}
	for ch, ok := range map[string]bool{
		"#lab": true, "#caf\xc3\xa9": true, "#": false, "lab": false, "#a b": false, "#a,b": false,
		"#a:b": false, "#a\x07": false, "#" + strings.Repeat("x", ChannelLen): false,
	} {
		if ValidChannel(ch) != ok {
			t.Errorf("ValidChannel(%q) = %v, want %v", ch, !ok, ok)
		}
	}
}

// FuzzParse: no input panics the parser, and whatever it accepts is written
// back as one line that parses to the same message.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"PRIVMSG #lab :hello", ":ada!~a@0::1 JOIN #lab", "PING :x", "@a=b;c :p CMD a b :c d",
		"C 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", "NICK \xff", ":", "@", " :x", "001",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		m, err := Parse(line)
		if err != nil {
			return
		}
		if len(m.Params) > MaxParams {
			t.Fatalf("%d params from %q", len(m.Params), line)
		}
		if !m.Valid() {
			t.Fatalf("Parse(%q) gave a message that cannot be written back: %#v", line, m)
		}
		out := m.Append(nil, false)
		body := string(out[:len(out)-2])
		if strings.ContainsAny(body, "\r\n\x00") {
			t.Fatalf("written line %q has a line break or NUL", out)
		}
		again, err := Parse(body)
		if err != nil || !reflect.DeepEqual(m, again) {
			t.Fatalf("round trip of %q: %q parses to %#v (%v), want %#v", line, body, again, err, m)
		}
	})
}
