package chat

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"socketlab/services/chat/irc"
	"socketlab/services/internal/peer"
	"socketlab/services/internal/service"
)

// errKilled ends the read loop of a client the server cut off (SendQ
// exceeded, write error); client.deadReason says why.
var errKilled = errors.New("killed")

// client is one connection. Its reader is the connection's handler
// goroutine; its writer (flush) runs only while its send queue is not empty,
// so an idle client costs one parked goroutine and a 512-byte line buffer.
type client struct {
	srv    *Server
	conn   *service.Conn
	host   string // the IP address, as IRC shows it
	addr   string // address and port as seen, e.g. [::1]:53124
	family string
	start  time.Time

	// Guarded by srv.mu; written only by the reader goroutine, which may
	// therefore read them without the lock.
	nick, user, realname, prefix string
	registered                   bool
	chans                        map[*channel]struct{}
	away                         string
	modes                        string

	// lines: a line-mode client (LineServer), which reads plain lines
	// rather than IRC. Set before the client is seen by others.
	lines bool

	// Reader goroutine only.
	capNeg   bool
	quitMsg  string
	tokens   float64
	lastFill time.Time
	pingSent bool

	lastSpoke atomic.Int64 // unix nanoseconds of the last PRIVMSG, for WHOIS

	// The send queue, guarded by qmu.
	qmu      sync.Mutex
	q        [][]byte
	qbytes   int
	writing  bool          // a flush goroutine is running
	closing  bool          // finish has queued the last line; nothing more is queued
	kicked   bool          // a write was cut short: the stream may end mid-line
	kickSeen bool          // the flusher has seen the write the kick cut short
	reason   string        // why the server cut the client off
	killed   chan struct{} // closed when cut off; made on demand
	flushed  chan struct{} // closed when the last line is out; made by finish
	dead     atomic.Bool
	room     chan struct{} // signalled after each write, for waitRoom; made on demand
	writeBy  time.Time     // the write deadline flush set last; the flusher only

	buf [irc.MaxLine]byte
}

func newClient(s *Server, sc *service.Conn) *client {
	return &client{
		srv:    s,
		conn:   sc,
		host:   hostOf(sc.RemoteAddr()),
		addr:   peer.String(sc.RemoteAddr()),
		family: peer.Family(sc.RemoteAddr()),
		start:  time.Now(),
	}
}

// splitLines calls fn with each line of c.buf[:n], ended by CR or LF (CR alone
// ends a line too, so that no client can smuggle a second line inside a
// message to others), skipping the first when discard says it is the rest
// of an overlong line. It moves an unfinished line to the start of buf and
// returns its length and whether the next line is still to be skipped.
func (c *client) splitLines(n int, discard bool, fn func(line []byte) error) (int, bool, error) {
	start := 0
	for i := 0; i < n; i++ {
		if b := c.buf[i]; b != '\r' && b != '\n' {
			continue
		}
		line := c.buf[start:i]
		start = i + 1
		if discard {
			discard = false
			continue
		}
		if err := fn(line); err != nil {
			return 0, discard, err
		}
	}
	return copy(c.buf[:], c.buf[start:n]), discard, nil
}

// serve reads lines until the client quits, fails, is cut off or the
// server shuts down, and returns why.
func (c *client) serve(ctx context.Context) error {
	s := c.srv
	deadline := c.start.Add(s.RegisterTimeout)
	n := 0                              // bytes of an unfinished line at the start of buf
	discard := false                    // inside an overlong line, until its end
	handle := func(line []byte) error { // made once: not an allocation per read
		if len(line) == 0 {
			return nil
		}
		if len(line) > irc.MaxLine-2 {
			c.num("417", "Input line was too long")
			return nil
		}
		if err := c.throttle(ctx); err != nil {
			return err
		}
		return c.handleLine(line)
	}
	for {
		_ = c.conn.SetReadDeadline(deadline)
		// Shutdown and kill set the deadline to now after setting their
		// flags: checking them after our SetReadDeadline closes the race.
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if c.dead.Load() {
			return errKilled
		}
		m, err := c.conn.Read(c.buf[n:])
		var lerr error
		n, discard, lerr = c.splitLines(n+m, discard, handle)
		if lerr != nil {
			return lerr
		}
		if n > irc.MaxLine-2 {
			if !discard {
				c.num("417", "Input line was too long")
			}
			discard, n = true, 0
		}
		if m > 0 {
			c.pingSent = false
			if c.registered {
				deadline = time.Now().Add(s.PingInterval)
			}
		}
		if err == nil {
			continue
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return err
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case c.dead.Load():
			return errKilled
		case !c.registered:
			return reasonError("Registration timeout")
		case c.pingSent:
			return reasonError(fmt.Sprintf("Ping timeout: %d seconds", int(s.PingTimeout.Seconds())))
		}
		c.send(encode("", "PING", true, s.Name))
		c.pingSent = true
		deadline = time.Now().Add(s.PingTimeout)
	}
}

// throttle delays the next line once the client has used up its burst:
// lines are read at FloodRate, so a flooder's own socket fills and TCP flow
// control slows it down; nothing is dropped.
func (c *client) throttle(ctx context.Context) error {
	s := c.srv
	if s.FloodRate <= 0 {
		return nil
	}
	burst := float64(max(s.FloodBurst, 1))
	now := time.Now()
	if c.lastFill.IsZero() {
		c.tokens = burst
	} else {
		c.tokens = min(burst, c.tokens+now.Sub(c.lastFill).Seconds()*s.FloodRate)
	}
	c.lastFill = now
	if c.tokens < 1 {
		wait := time.Duration((1 - c.tokens) / s.FloodRate * float64(time.Second))
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.killedChan():
			return errKilled
		}
		c.tokens, c.lastFill = 1, time.Now()
	}
	c.tokens--
	return nil
}

func (c *client) killedChan() <-chan struct{} {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.killed == nil {
		c.killed = make(chan struct{})
		if c.dead.Load() {
			close(c.killed)
		}
	}
	return c.killed
}

// reasonError ends a connection for a reason the server gives in words.
type reasonError string

func (e reasonError) Error() string { return string(e) }

// quitReason is what the others are told when a connection ends with err.
func quitReason(err error) string {
	var re reasonError
	switch {
	case errors.As(err, &re):
		return string(re)
	case errors.Is(err, syscall.ECONNRESET):
		return "Connection reset by peer"
	case errors.Is(err, syscall.EPIPE):
		return "Broken pipe"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "Write timeout"
	}
	return "Read error"
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// send queues b (one or more whole lines, never modified afterwards, so one
// slice may be queued to many clients) without blocking. A client whose
// queue would pass SendQ is cut off instead.
func (c *client) send(b []byte) {
	if c.lines {
		if b = c.plainLines(b); b == nil {
			return
		}
	}
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.closing || c.dead.Load() {
		return
	}
	if c.qbytes+len(b) > c.srv.SendQ {
		c.killLocked("SendQ exceeded", true)
		return
	}
	c.q = append(c.q, b)
	c.qbytes += len(b)
	if !c.writing {
		c.writing = true
		go c.flush()
	}
}

// killLocked cuts the client off: it wakes the reader, which then leaves
// the channels and says goodbye. With kick, the queue is dropped and a
// write blocked on a peer that does not read is interrupted. c.qmu is held.
func (c *client) killLocked(reason string, kick bool) {
	if c.dead.Load() {
		return
	}
	c.reason = reason
	c.dead.Store(true)
	if kick {
		clear(c.q)
		c.q, c.qbytes, c.kicked = nil, 0, true
		_ = c.conn.SetWriteDeadline(time.Now())
	}
	if c.killed != nil {
		close(c.killed)
	}
	_ = c.conn.SetReadDeadline(time.Now())
}

func (c *client) deadReason() string {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return c.reason
}

// flush writes the queue until it is empty, coalescing queued lines into one
// write, then exits.
func (c *client) flush() {
	var pb *[]byte
	defer func() {
		if pb != nil {
			bufPool.Put(pb)
		}
	}()
	for {
		c.qmu.Lock()
		if len(c.q) == 0 {
			c.writing = false
			if cap(c.q) > 64 {
				c.q = nil // a burst is over: do not keep its memory
			}
			closing := c.closing
			c.qmu.Unlock()
			if closing {
				close(c.flushed)
			}
			return
		}
		var out []byte
		if len(c.q) == 1 {
			out = c.q[0]
			c.q[0] = nil
			c.q = c.q[:0]
		} else {
			if pb == nil {
				pb = bufPool.Get().(*[]byte)
			}
			out = (*pb)[:0]
			i := 0
			for ; i < len(c.q) && len(out)+len(c.q[i]) <= cap(out); i++ {
				out = append(out, c.q[i]...)
			}
			k := copy(c.q, c.q[i:])
			clear(c.q[k:])
			c.q = c.q[:k]
		}
		c.qbytes -= len(out)
		closing := c.closing
		c.qmu.Unlock()
		if closing {
			_ = c.conn.SetWriteDeadline(time.Now().Add(c.srv.Linger))
		} else if now := time.Now(); c.writeBy.Sub(now) < c.srv.WriteTimeout {
			// As for the idle timeout on reads, the deadline moves only
			// when less than WriteTimeout is left: a client that takes
			// nothing is cut off after 1 to 1.125 times WriteTimeout.
			wt := c.srv.WriteTimeout
			c.writeBy = now.Add(wt + wt/8)
			_ = c.conn.SetWriteDeadline(c.writeBy)
			if c.dead.Load() { // a kick raced with us: keep its deadline
				_ = c.conn.SetWriteDeadline(time.Now())
			}
		}
		_, err := c.conn.Write(out)
		if room := c.roomChan(); room != nil {
			select {
			case room <- struct{}{}:
			default:
			}
		}
		if err != nil {
			c.qmu.Lock()
			if c.kicked && !c.kickSeen {
				// The kick cut this write short on purpose: what is queued
				// now, the ERROR line, still has its chance.
				c.kickSeen = true
				c.qmu.Unlock()
				continue
			}
			clear(c.q)
			c.q, c.qbytes, c.writing = nil, 0, false
			closing = c.closing
			if !closing {
				c.killLocked(quitReason(err), false)
			}
			c.qmu.Unlock()
			if closing {
				close(c.flushed)
			}
			return
		}
	}
}

func (c *client) roomChan() chan struct{} {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return c.room
}

// waitRoom blocks the reader until the send queue holds at most a quarter
// of SendQ, so that a long reply (LIST) goes out only as fast as the client
// takes it. It reports false when the client was cut off meanwhile.
func (c *client) waitRoom() bool {
	c.qmu.Lock()
	if c.room == nil {
		c.room = make(chan struct{}, 1)
	}
	room := c.room
	c.qmu.Unlock()
	killed := c.killedChan()
	for {
		c.qmu.Lock()
		ok := c.qbytes <= c.srv.SendQ/4
		c.qmu.Unlock()
		switch {
		case c.dead.Load():
			return false
		case ok:
			return true
		}
		select {
		case <-room:
		case <-killed:
		}
	}
}

// finish queues the last line (if any), waits until the queue is out or
// Linger has passed, then half-closes and reads what the peer still sends:
// closing a socket with unread input would send a reset that can destroy
// the last line before the peer reads it.
func (c *client) finish(final string) {
	end := time.Now().Add(c.srv.Linger)
	c.qmu.Lock()
	c.closing = true
	c.flushed = make(chan struct{})
	if final != "" && c.lines {
		final = string(c.plainLines([]byte(final)))
	}
	if final != "" {
		if c.kicked {
			final = "\r\n" + final // the cut-short write may have left half a line
		}
		c.q = append(c.q, []byte(final))
	}
	if !c.writing {
		c.writing = true
		go c.flush()
	}
	flushed := c.flushed
	c.qmu.Unlock()
	t := time.NewTimer(c.srv.Linger)
	defer t.Stop()
	select {
	case <-flushed:
	case <-t.C:
		return
	}
	if c.conn.CloseWrite() != nil {
		return
	}
	// Until the peer closes too, or has been quiet for a moment (nc, for
	// one, keeps its side open), but no longer than Linger in all.
	for {
		dl := time.Now().Add(quietDrain)
		if dl.After(end) {
			dl = end
		}
		_ = c.conn.SetReadDeadline(dl)
		if _, err := c.conn.Read(c.buf[:]); err != nil {
			return
		}
	}
}

// quietDrain is how long a closing connection may stay silent before it is
// closed without waiting for the peer's own close.
const quietDrain = 100 * time.Millisecond
