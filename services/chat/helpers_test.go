package chat

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"socketlab/services/internal/svctest"
)

// newServer serves a chat server with #lab on an ephemeral port of host,
// flood control and the per-IP cap off unless mod sets them.
func newServer(t testing.TB, host string, mod func(*Server)) string {
	t.Helper()
	s := &Server{Name: "test.chat", Channels: []string{"#lab"}, MOTD: []string{"from {addr} over {family}"}}
	if mod != nil {
		mod(s)
	}
	return svctest.ServeTCP(t, s, host)
}

// ircConn is a raw IRC connection for tests: write lines, read lines.
type ircConn struct {
	t    testing.TB
	c    net.Conn
	r    *bufio.Reader
	nick string
}

func dial(t testing.TB, addr string) *ircConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &ircConn{t: t, c: c, r: bufio.NewReader(c)}
}

// register connects and registers nick, and reads up to the end of the MOTD.
func register(t testing.TB, addr, nick string) *ircConn {
	t.Helper()
	c := dial(t, addr)
	c.nick = nick
	c.send("NICK "+nick, "USER "+strings.ToLower(nick)+" 0 * :Test "+nick)
	c.expect(" 376 " + nick + " ")
	return c
}

func (c *ircConn) send(lines ...string) {
	c.t.Helper()
	_ = c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.c.Write([]byte(strings.Join(lines, "\r\n") + "\r\n")); err != nil {
		c.t.Fatalf("%s: write: %v", c.nick, err)
	}
}

// line reads the next line (without CR-LF), failing after 5 s.
func (c *ircConn) line() string {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("%s: read: %v (partial %q)", c.nick, err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

// expect reads lines until one contains want and returns it; it fails with
// every line read when none does within 5 s.
func (c *ircConn) expect(want string) string {
	c.t.Helper()
	var seen []string
	_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("%s: no line containing %q (%v); got:\n%s", c.nick, want, err, strings.Join(seen, "\n"))
		}
		l = strings.TrimRight(l, "\r\n")
		if strings.Contains(l, want) {
			return l
		}
		seen = append(seen, l)
	}
}

// sync sends a PING and returns every line received before its PONG: what
// the server sent this client so far.
func (c *ircConn) sync() []string {
	c.t.Helper()
	c.send("PING :sync-" + c.nick)
	var got []string
	for {
		l := c.line()
		if strings.HasSuffix(l, " PONG test.chat :sync-"+c.nick) {
			return got
		}
		got = append(got, l)
	}
}

// closed reads until the server closes the connection and returns what came.
func (c *ircConn) closed() string {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := c.r.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				c.t.Fatalf("%s: server did not close; got %q", c.nick, b.String())
			}
			return b.String()
		}
	}
}
