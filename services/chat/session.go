package chat

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"socketlab/internal/result"
	"socketlab/services/chat/irc"
	"socketlab/services/internal/probe"
)

// session is the client side of one IRC connection: a reader goroutine that
// answers PINGs and records every line, and methods that send and wait.
type session struct {
	conn    net.Conn
	r       *probe.Result
	o       probe.Options
	onLine  func(at time.Time, line string, m *irc.Message) // called by the reader; may be nil
	showRaw io.Writer                                       // echo of sent lines; may be nil

	wmu  sync.Mutex
	sent []string

	mu      sync.Mutex
	lines   []received
	notify  chan struct{} // a line arrived or the connection ended
	done    bool          // the reader has stopped
	readErr error
	stopped chan struct{}     // closed when the reader has returned
	members map[string]string // folded nick -> nick, in our channels
	nick    string
}

// errNickInUse is behind the error of a registration refused with 433.
var errNickInUse = errors.New("nick in use")

type received struct {
	at   time.Time
	line string
	msg  irc.Message
}

func newSession(c net.Conn, r *probe.Result, o probe.Options) *session {
	return &session{conn: c, r: r, o: o, notify: make(chan struct{}, 1), stopped: make(chan struct{}),
		members: map[string]string{}}
}

// start runs the reader.
func (s *session) start() {
	go func() {
		defer close(s.stopped)
		br := bufio.NewReaderSize(s.conn, 4096)
		for {
			line, err := br.ReadString('\n')
			if len(line) > 0 {
				s.r.FirstByte()
				s.record(strings.TrimRight(line, "\r\n"))
			}
			if err != nil {
				s.mu.Lock()
				s.done, s.readErr = true, err
				s.mu.Unlock()
				s.wake()
				return
			}
		}
	}()
}

func (s *session) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *session) record(line string) {
	now := time.Now()
	m, err := irc.Parse(line)
	s.mu.Lock()
	s.r.BytesReceived += int64(len(line)) + 2
	s.lines = append(s.lines, received{now, line, m})
	if err == nil {
		s.track(&m)
	}
	s.mu.Unlock()
	if s.onLine != nil {
		s.onLine(now, line, &m)
	}
	if err == nil && m.Command == "PING" {
		s.send("PONG :" + m.Param(0))
	}
	s.wake()
}

// track follows who is in our channels, for --wait-for. s.mu is held.
func (s *session) track(m *irc.Message) {
	nick := nickOf(m.Prefix)
	switch m.Command {
	case "001":
		s.nick = m.Param(0)
	case "353":
		for _, n := range strings.Fields(m.Param(3)) {
			n = strings.TrimLeft(n, "@+")
			s.members[irc.Fold(n)] = n
		}
	case "JOIN":
		s.members[irc.Fold(nick)] = nick
	case "PART", "QUIT":
		delete(s.members, irc.Fold(nick))
	case "NICK":
		delete(s.members, irc.Fold(nick))
		s.members[irc.Fold(m.Param(0))] = m.Param(0)
		if irc.Fold(nick) == irc.Fold(s.nick) {
			s.nick = m.Param(0)
		}
	}
}

// nickOf returns the nick of a "nick!user@host" prefix.
func nickOf(prefix string) string {
	n, _, _ := strings.Cut(prefix, "!")
	return n
}

// send writes one line; sending after the connection died reports the error.
func (s *session) send(line string) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.showRaw != nil {
		fmt.Fprintf(s.showRaw, ">> %s\n", line)
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(max(s.o.Timeout, time.Second)))
	n, err := io.WriteString(s.conn, line+"\r\n")
	s.r.BytesSent += int64(n)
	s.sent = append(s.sent, line)
	if err != nil {
		return probe.Explain(err, s.r.Remote, s.o.Timeout)
	}
	return nil
}

// waitFor waits until match accepts a line at or after index from, and
// returns that line's index. It fails when ctx ends or the server closes.
func (s *session) waitFor(ctx context.Context, from int, match func(*received) bool) (int, error) {
	for {
		s.mu.Lock()
		for i := from; i < len(s.lines); i++ {
			if match(&s.lines[i]) {
				s.mu.Unlock()
				return i, nil
			}
		}
		from = len(s.lines)
		done, rerr := s.done, s.readErr
		s.mu.Unlock()
		if done {
			return -1, s.closedError(rerr)
		}
		select {
		case <-s.notify:
		case <-ctx.Done():
			return -1, ctx.Err()
		}
	}
}

// closedError says how the server ended the session, quoting its ERROR line.
func (s *session) closedError(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.lines) - 1; i >= 0 && i >= len(s.lines)-3; i-- {
		if s.lines[i].msg.Command == "ERROR" {
			return probe.Errorf(result.Protocol, "%s closed the connection: ERROR %s", s.r.Remote, s.lines[i].msg.Param(0))
		}
	}
	if errors.Is(err, io.EOF) {
		return probe.Errorf(result.Protocol, "%s closed the connection", s.r.Remote)
	}
	return probe.Explain(err, s.r.Remote, s.o.Timeout)
}

func (s *session) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lines)
}

// register sends NICK and USER and waits for the welcome (001) or a refusal.
func (s *session) register(ctx context.Context, nick, user, realname string) error {
	from := s.count()
	if err := s.send("NICK " + nick); err != nil {
		return err
	}
	if err := s.send("USER " + user + " 0 * :" + realname); err != nil {
		return err
	}
	i, err := s.waitFor(ctx, from, func(l *received) bool {
		switch l.msg.Command {
		case "001", "431", "432", "433", "451", "461", "ERROR":
			return true
		}
		return false
	})
	if err != nil {
		return s.waitError(err, "the welcome (001)")
	}
	m := s.line(i).msg
	switch m.Command {
	case "001":
		s.r.Detail("registered_ms", s.r.Since())
		return nil
	case "433":
		return &probe.Error{Kind: result.Protocol, Msg: "nick " + nick + " is already in use (433)", Err: errNickInUse}
	case "432":
		return probe.Errorf(result.Usage, "nick %q is not allowed (432): a letter or []\\`_^{|} first, then letters, digits, -", nick)
	case "ERROR":
		return probe.Errorf(result.Protocol, "%s refused us: ERROR %s", s.r.Remote, m.Param(0))
	}
	return probe.Errorf(result.Protocol, "registration refused: %s", s.line(i).line)
}

// join joins channel and waits for the end of its NAMES list, or a refusal.
func (s *session) join(ctx context.Context, channel string) error {
	from := s.count()
	if err := s.send("JOIN " + channel); err != nil {
		return err
	}
	i, err := s.waitFor(ctx, from, func(l *received) bool {
		switch l.msg.Command {
		case "366", "403", "405", "471", "473", "474", "475":
			return irc.Fold(l.msg.Param(1)) == irc.Fold(channel)
		case "461", "451", "ERROR":
			return true
		}
		return false
	})
	if err != nil {
		return s.waitError(err, "the NAMES list of "+channel)
	}
	if m := s.line(i).msg; m.Command != "366" {
		return probe.Errorf(result.Protocol, "cannot join %s: %s", channel, s.line(i).line)
	}
	return nil
}

func (s *session) line(i int) received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lines[i]
}

func (s *session) waitError(err error, what string) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return probe.Errorf(result.Timeout, "no %s from %s within %s", what, s.r.Remote, s.o.Timeout)
	}
	return err
}

// quit says goodbye and waits briefly for the server to close.
func (s *session) quit(msg string) {
	if s.send("QUIT :"+msg) != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _ = s.waitFor(ctx, s.count(), func(*received) bool { return false })
}

// close closes the connection and waits for the reader to stop.
func (s *session) close() {
	s.conn.Close()
	<-s.stopped
}
