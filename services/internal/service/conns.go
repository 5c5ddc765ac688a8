package service

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"socketlab/services/internal/peer"
)

// ConnServer serves a TCP listener with one goroutine per connection, under
// limits, and logs one line per connection. Its Shutdown stops accepting,
// wakes handlers blocked in Read, waits for them until ctx ends, then closes
// whatever is left.
type ConnServer struct {
	// Name is the service name in log lines.
	Name string
	// Handler serves one connection. It returns nil or io.EOF when the peer
	// closed normally, or the error that ended the connection. The server
	// closes the connection after Handler returns. ctx ends at Shutdown.
	Handler func(ctx context.Context, c *Conn) error
	// Log receives one line per connection; nil logs nothing.
	Log *slog.Logger
	// MaxConns caps concurrent connections; 0 means no cap. A connection over
	// the cap is passed to Reject (if set) with ErrServerFull and closed.
	MaxConns int
	// MaxPerSource caps concurrent connections from one source, an IPv4
	// address or an IPv6 /64 (peer.Source), so that one host cannot take
	// every slot; 0 means no cap. A connection over it is passed to Reject
	// (if set) with ErrTooManyFromSource and closed.
	MaxPerSource int
	// Reject may write a last word to a connection refused by a cap; why
	// is ErrServerFull or ErrTooManyFromSource. It has a second to write.
	Reject func(c net.Conn, why error)
	// IdleTimeout closes a connection whose peer sends nothing for this long
	// (up to an eighth longer); 0 means never.
	IdleTimeout time.Duration

	mu       sync.Mutex
	ln       net.Listener
	conns    map[*Conn]struct{}
	sources  map[netip.Prefix]int // open connections per source, with MaxPerSource
	wg       sync.WaitGroup
	closing  atomic.Bool
	ctx      context.Context
	cancel   context.CancelFunc
	initOnce sync.Once
}

func (s *ConnServer) init() {
	s.initOnce.Do(func() {
		s.conns = make(map[*Conn]struct{})
		s.sources = make(map[netip.Prefix]int)
		s.ctx, s.cancel = context.WithCancel(context.Background())
	})
}

// Active reports how many connections are being served.
func (s *ConnServer) Active() int {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Serve accepts connections on l until Shutdown; it then returns ErrServerClosed.
func (s *ConnServer) Serve(l net.Listener) error {
	s.init()
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.ln = l
	s.mu.Unlock()
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			// Out of file descriptors and the like: wait and retry, as net/http does.
			if ne, ok := err.(net.Error); ok && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := &Conn{Conn: nc, idle: s.IdleTimeout, start: time.Now()}
		if s.MaxPerSource > 0 {
			c.source = peer.Source(nc.RemoteAddr())
		}
		s.mu.Lock()
		var refused error
		switch {
		case s.MaxConns > 0 && len(s.conns) >= s.MaxConns:
			refused = ErrServerFull
		case s.MaxPerSource > 0 && s.sources[c.source] >= s.MaxPerSource:
			refused = ErrTooManyFromSource
		}
		if refused != nil {
			s.mu.Unlock()
			s.refuse(c, refused)
			continue
		}
		if s.MaxPerSource > 0 {
			s.sources[c.source]++
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

func (s *ConnServer) serveConn(c *Conn) {
	defer s.wg.Done()
	err := s.Handler(s.ctx, c)
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	if c.source.IsValid() {
		if s.sources[c.source]--; s.sources[c.source] <= 0 {
			delete(s.sources, c.source)
		}
	}
	s.mu.Unlock()
	s.logConn(c, s.reason(err))
}

// ErrServerFull and ErrTooManyFromSource say why a connection was refused.
var (
	ErrServerFull        = errors.New("max connections reached")
	ErrTooManyFromSource = errors.New("too many connections from this source")
)

// refuse closes a connection over a cap, after Reject's last word.
func (s *ConnServer) refuse(c *Conn, why error) {
	if s.Reject != nil {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		s.Reject(c, why)
	}
	c.Conn.Close()
	s.logConn(c, why.Error())
}

func (s *ConnServer) reason(err error) string {
	var ne net.Error
	switch {
	case err == nil || errors.Is(err, io.EOF) || errors.Is(err, syscall.ENOTCONN):
		return "peer closed"
	case s.closing.Load():
		return "shutdown"
	case errors.As(err, &ne) && ne.Timeout():
		return "idle timeout"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset by peer"
	case errors.Is(err, syscall.EPIPE):
		return "peer stopped reading"
	default:
		return err.Error()
	}
}

func (s *ConnServer) logConn(c *Conn, reason string) {
	if s.Log == nil {
		return
	}
	attrs := []slog.Attr{
		slog.String("peer", peer.String(c.RemoteAddr())),
		slog.String("local", peer.String(c.LocalAddr())),
		slog.String("family", peer.Family(c.RemoteAddr())),
		slog.Int64("bytes_in", c.BytesIn()),
		slog.Int64("bytes_out", c.BytesOut()),
		slog.Float64("duration_ms", msSince(c.start)),
		slog.String("reason", reason),
	}
	ap, _ := peer.AddrPort(c.RemoteAddr())
	s.Log.LogAttrs(context.Background(), slog.LevelInfo, "conn", HealthMark(attrs, ap.Addr())...)
}

// Shutdown stops accepting, ends the handlers' context and wakes handlers
// blocked in Read so they can finish, and waits for them. When ctx ends first
// it closes the remaining connections and returns ctx's error.
func (s *ConnServer) Shutdown(ctx context.Context) error {
	s.init()
	s.closing.Store(true)
	s.mu.Lock()
	if s.ln != nil {
		s.ln.Close()
	}
	s.cancel()
	for c := range s.conns {
		_ = c.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.Conn.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// Conn is a served connection: it counts bytes both ways and applies the
// server's idle timeout to every Read.
type Conn struct {
	net.Conn
	idle     time.Duration
	start    time.Time
	source   netip.Prefix // counted against MaxPerSource; zero when there is no cap
	readBy   time.Time    // the read deadline Read set last; Read's goroutine only
	in, out  atomic.Int64
	stopping atomic.Bool
}

// Read reads from the peer, failing with a timeout after the idle limit.
func (c *Conn) Read(p []byte) (int, error) {
	if c.idle > 0 && !c.stopping.Load() {
		// Moving the deadline updates a runtime timer: a few percent of a
		// busy connection's time (make bench). So it moves only once less
		// than the idle time is left, to an eighth past it: a silent peer
		// is cut off after 1 to 1.125 times the idle timeout.
		if now := time.Now(); c.readBy.Sub(now) < c.idle {
			c.readBy = now.Add(c.idle + c.idle/8)
			_ = c.Conn.SetReadDeadline(c.readBy)
			if c.stopping.Load() { // Shutdown raced with us: keep its deadline.
				_ = c.Conn.SetReadDeadline(time.Now())
			}
		}
	}
	n, err := c.Conn.Read(p)
	c.in.Add(int64(n))
	return n, err
}

// Write writes to the peer.
func (c *Conn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.Add(int64(n))
	return n, err
}

// SetReadDeadline sets the read deadline. Once a handler or Shutdown sets a
// deadline, the idle timeout no longer moves it.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.stopping.Store(true)
	return c.Conn.SetReadDeadline(t)
}

// CloseWrite shuts down the sending side (TCP FIN), keeping the connection
// open for reading.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("close write: not a TCP connection")
}

// BytesIn reports the bytes read from the peer so far.
func (c *Conn) BytesIn() int64 { return c.in.Load() }

// BytesOut reports the bytes written to the peer so far.
func (c *Conn) BytesOut() int64 { return c.out.Load() }

// Since reports how long the connection has been open.
func (c *Conn) Since() time.Duration { return time.Since(c.start) }
