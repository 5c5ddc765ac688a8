package chat

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"socketlab/services/internal/service"
	"socketlab/services/internal/svctest"
)

// newLineServer serves a chat server's IRC port and its line mode, and
// returns both addresses.
func newLineServer(t *testing.T) (ircAddr, lineAddr string) {
	t.Helper()
	s := &Server{Name: "test.chat", Channels: []string{"#lab"}, MOTD: []string{"hi"}}
	ircAddr = svctest.ServeTCP(t, s, "127.0.0.1")
	lineAddr = svctest.ServeTCP(t, s.Lines(), "127.0.0.1")
	return ircAddr, lineAddr
}

// plainConn is a line-mode client, as nc or a lesson's program is.
type plainConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialPlain(t *testing.T, addr string) *plainConn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &plainConn{t, c, bufio.NewReader(c)}
}

// expect reads lines until one equals want; it fails with what came.
func (p *plainConn) expect(want string) {
	p.t.Helper()
	_ = p.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var seen []string
	for {
		l, err := p.r.ReadString('\n')
		if err != nil {
			p.t.Fatalf("no line %q (%v); got:\n%s", want, err, strings.Join(seen, "\n"))
		}
		if l = strings.TrimSuffix(l, "\n"); l == want {
			return
		}
		seen = append(seen, l)
	}
}

// TestLineMode: a plain line on the line port is said in #lab under a guest
// nick and answered; IRC users see it and are seen; a second plain client
// shares the room; a line without a newline is answered too.
func TestLineMode(t *testing.T) {
	ircAddr, lineAddr := newLineServer(t)
	ada := register(t, ircAddr, "ada")
	ada.send("JOIN #lab")
	ada.expect(" 366 ada #lab ")

	// The lesson's client: sends a line, waits for one reply.
	g1 := dialPlain(t, lineAddr)
	g1.c.Write([]byte("hello from the lesson\n"))
	g1.expect("* you are guest1 in #lab: each line you send is said there, and you read what is said")
	g1.expect("<guest1> hello from the lesson")
	ada.expect(":guest1!~guest@127.0.0.1 JOIN #lab")
	ada.expect(":guest1!~guest@127.0.0.1 PRIVMSG #lab :hello from the lesson")

	ada.send("PRIVMSG #lab :hi guest1")
	g1.expect("<ada> hi guest1")

	// A second one, with no newline at all (Python's sendall(b"hi")).
	g2 := dialPlain(t, lineAddr)
	g2.c.Write([]byte("no newline here"))
	g2.expect("<guest2> no newline here")
	g1.expect("* guest2 joined")
	g1.expect("<guest2> no newline here")
	ada.expect("PRIVMSG #lab :no newline here")

	g2.c.Close()
	g1.expect("* guest2 quit (Connection closed)")
	ada.expect(":guest2!~guest@127.0.0.1 QUIT :Connection closed")
}

// TestLineModeSilentClientJoinsNothing: a connection that sends nothing (a
// healthcheck, a port scan) is never seen in the room, and is closed
// cleanly when it closes.
func TestLineModeSilentClientJoinsNothing(t *testing.T) {
	ircAddr, lineAddr := newLineServer(t)
	ada := register(t, ircAddr, "ada")
	ada.send("JOIN #lab")
	ada.expect(" 366 ada #lab ")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := service.CheckTCP(ctx, lineAddr); err != nil {
		t.Fatalf("healthcheck of the line mode: %v", err)
	}
	if got := ada.sync(); len(got) != 0 {
		t.Errorf("the room saw a silent connection: %q", got)
	}
}
