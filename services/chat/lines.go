package chat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"socketlab/services/chat/irc"
	"socketlab/services/internal/service"
)

// LinePort is the port of the plain line mode: the lesson's chat port.
const LinePort = 1042

// linePause is how long a line without a newline may wait for the rest:
// after it, what arrived is taken as the line, so that a lesson's client
// that sends "hello" with no newline and waits for the answer gets one.
const linePause = 250 * time.Millisecond

// LineServer is the chat's plain line mode, for a lesson's client or nc: no
// IRC on the wire. Each line a client sends is said in the room (the
// server's first channel, #lab) under a guest nick, guest1, guest2..., and
// answered with the line as the room shows it ("<guest1> hello"); from then
// on the client gets what is said there, one plain line each. IRC users see
// the guest join, talk and quit like anyone else. A client that sends
// nothing joins nothing (so a healthcheck, or a port scan, is not seen in
// the room).
type LineServer struct {
	s     *Server
	conns service.ConnServer
}

// Lines returns the line mode of s, to serve on its own listener. Its limits
// are s's: the send queue, flood control, the caps on connections.
func (s *Server) Lines() *LineServer {
	s.init()
	ls := &LineServer{s: s}
	ls.conns = service.ConnServer{
		Name:     "chat",
		Log:      s.Log,
		MaxConns: s.MaxConns,
		Handler:  func(ctx context.Context, sc *service.Conn) error { return s.handleConn(ctx, sc, true) },
		Reject:   func(c net.Conn, _ error) { io.WriteString(c, "* the server is full; try again later\n") },
	}
	return ls
}

// Serve accepts line-mode clients on l until Shutdown; it then returns
// service.ErrServerClosed.
func (ls *LineServer) Serve(l net.Listener) error { return ls.conns.Serve(l) }

// Shutdown tells every line-mode client the server is going and closes its
// connection, as Server.Shutdown does for IRC clients.
func (ls *LineServer) Shutdown(ctx context.Context) error { return ls.conns.Shutdown(ctx) }

// room is the channel line-mode clients talk in.
func (s *Server) room() string {
	if len(s.Channels) > 0 {
		return s.Channels[0]
	}
	return "#lab"
}

// serveLines is serve for a line-mode client: every line is a message to
// the room, no command is understood.
func (c *client) serveLines(ctx context.Context) error {
	n := 0
	discard := false
	say := func(line []byte) error { return c.sayLine(ctx, line) }
	for {
		if n > 0 {
			_ = c.conn.SetReadDeadline(time.Now().Add(linePause))
		} else {
			_ = c.conn.SetReadDeadline(time.Time{})
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if c.dead.Load() {
			return errKilled
		}
		m, err := c.conn.Read(c.buf[n:])
		var lerr error
		n, discard, lerr = c.splitLines(n+m, discard, say)
		if lerr != nil {
			return lerr
		}
		if n > irc.MaxLine-2 {
			// Too long for one IRC message: say what fits, drop the rest of the line.
			if err := c.sayLine(ctx, c.buf[:n]); err != nil {
				return err
			}
			discard, n = true, 0
		}
		if err == nil {
			continue
		}
		var ne net.Error
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case c.dead.Load():
			return errKilled
		case errors.As(err, &ne) && ne.Timeout() && n > 0:
			// The sender paused mid-line: what came is the line.
			if err := c.sayLine(ctx, c.buf[:n]); err != nil {
				return err
			}
			n, discard = 0, false
		case errors.As(err, &ne) && ne.Timeout():
		default:
			if n > 0 && errors.Is(err, io.EOF) {
				_ = c.sayLine(ctx, c.buf[:n]) // a last line without a newline
			}
			return err
		}
	}
}

// sayLine says line in the room, joining it first under a guest nick, and
// answers the sender with the line as the room shows it.
func (c *client) sayLine(ctx context.Context, line []byte) error {
	text := strings.TrimSpace(strings.ToValidUTF8(string(line), "\uFFFD"))
	if text == "" {
		return nil
	}
	if err := c.throttle(ctx); err != nil {
		return err
	}
	if !c.registered {
		c.registerGuest()
		c.join(c.srv.room())
	}
	c.lastSpoke.Store(time.Now().UnixNano())
	c.toChannel("PRIVMSG", c.srv.room(), text, false)
	c.send(encode(c.prefix, "PRIVMSG", true, c.srv.room(), text)) // the answer: shown as the room shows it
	return nil
}

// registerGuest gives a line-mode client the first free nick guest1,
// guest2... and registers it without the IRC welcome.
func (c *client) registerGuest() {
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		s.guests++
		nick := fmt.Sprintf("guest%d", s.guests)
		if _, taken := s.nicks[irc.Fold(nick)]; taken {
			continue
		}
		c.nick, c.user, c.realname = nick, "~guest", "line mode on port "+c.localPort()
		c.setPrefix()
		s.nicks[irc.Fold(nick)] = c
		c.registered = true
		s.users++
		return
	}
}

func (c *client) localPort() string {
	_, p, _ := net.SplitHostPort(c.conn.LocalAddr().String())
	return p
}

// plainLines turns lines queued for a line-mode client (IRC on the wire,
// shared with IRC clients) into what it reads: one plain line per event
// that concerns a person, nothing for the rest.
func (c *client) plainLines(b []byte) []byte {
	var out []byte
	for _, l := range strings.Split(strings.TrimRight(string(b), "\r\n"), "\r\n") {
		m, err := irc.Parse(l)
		if err != nil {
			continue
		}
		if t := c.plain(&m); t != "" {
			out = append(append(out, t...), '\n')
		}
	}
	return out
}

// plain is one IRC message as a line-mode client reads it, or "".
func (c *client) plain(m *irc.Message) string {
	nick := nickOf(m.Prefix)
	switch m.Command {
	case "PRIVMSG", "NOTICE":
		body := m.Param(1)
		if strings.HasPrefix(body, "\x01ACTION ") && strings.HasSuffix(body, "\x01") {
			return "* " + nick + " " + strings.TrimSuffix(strings.TrimPrefix(body, "\x01ACTION "), "\x01")
		}
		if !irc.IsChannel(m.Param(0)) {
			return "(private) <" + nick + "> " + body
		}
		return "<" + nick + "> " + body
	case "JOIN":
		if nick == c.nick {
			return "* you are " + c.nick + " in " + m.Param(0) + ": each line you send is said there, and you read what is said"
		}
		return "* " + nick + " joined"
	case "PART":
		return "* " + nick + " left" + paren(m.Param(1))
	case "QUIT":
		return "* " + nick + " quit" + paren(m.Param(0))
	case "NICK":
		return "* " + nick + " is now known as " + m.Param(0)
	case "TOPIC":
		return "* " + nick + " set the topic: " + m.Param(1)
	case "332":
		return "* topic: " + m.Param(2)
	case "353":
		return "* here: " + m.Param(3)
	case "ERROR":
		return "* the server closed the link: " + m.Param(0)
	}
	return ""
}
