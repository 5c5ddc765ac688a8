package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Dialer connects to a loopback server, spreading connections over several
// 127.0.0.x source addresses when asked: each source address has its own
// range of ephemeral ports, so tens of thousands of connections (or of
// closed ones waiting in TIME_WAIT) do not run out of ports.
type Dialer struct {
	// Sources is how many source addresses to use, 127.0.0.2 onwards, when
	// the target is an IPv4 loopback address; 0 or 1 lets the kernel choose.
	Sources int
	next    atomic.Uint32
}

// Dial connects to addr over TCP.
func (d *Dialer) Dial(ctx context.Context, addr string) (net.Conn, error) {
	var nd net.Dialer
	if d != nil && d.Sources > 1 {
		if ap, err := netip.ParseAddrPort(addr); err == nil && ap.Addr().Is4() && ap.Addr().IsLoopback() {
			i := d.next.Add(1) % uint32(d.Sources)
			src := netip.AddrFrom4([4]byte{127, 0, 0, byte(2 + i)})
			nd.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
		}
	}
	c, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return c, nil
}

// Pattern returns n bytes of printable text.
func Pattern(n int) []byte {
	const alpha = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-\n"
	b := make([]byte, n)
	for i := range b {
		b[i] = alpha[i%len(alpha)]
	}
	return b
}

// Stream sends chunk-sized writes over one connection to the echo server at
// addr for d while another goroutine reads the echo back, and returns the
// echoed bytes per second (each byte crossed loopback twice).
func Stream(ctx context.Context, addr string, chunk int, d time.Duration) (float64, error) {
	c, err := (*Dialer)(nil).Dial(ctx, addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	msg := Pattern(chunk)
	var got atomic.Int64
	rerr := make(chan error, 1)
	go func() {
		buf := make([]byte, 256<<10)
		for {
			n, err := c.Read(buf)
			got.Add(int64(n))
			if err != nil {
				rerr <- err
				return
			}
		}
	}()
	start := time.Now()
	_ = c.SetWriteDeadline(start.Add(d))
	for ctx.Err() == nil {
		if _, err := c.Write(msg); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			return 0, fmt.Errorf("stream: write: %w", err)
		}
	}
	n, el := got.Load(), time.Since(start)
	c.Close()
	<-rerr
	if n == 0 {
		return 0, errors.New("stream: nothing came back")
	}
	return float64(n) / el.Seconds(), nil
}

// PingPong runs conns connections to the echo server at addr, each sending
// size bytes and reading them back, over and over, for d. It returns the
// round trips per second over all connections.
func PingPong(ctx context.Context, addr string, conns, size int, d time.Duration) (float64, error) {
	msg := Pattern(size)
	return Requests(ctx, addr, Workload{Conns: conns, Duration: d, KeepAlive: true, Request: msg,
		Response: func(r io.Reader, buf []byte) error {
			_, err := io.ReadFull(r, buf[:size])
			return err
		}})
}

// RoundTrips sends n messages of size bytes one after the other on one
// connection to the echo server at addr, each after the previous echo came
// back, and returns each round-trip time. The first warm round trips are
// not recorded.
func RoundTrips(ctx context.Context, addr string, size, warm, n int) ([]time.Duration, error) {
	c, err := (*Dialer)(nil).Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	msg, got := Pattern(size), make([]byte, size)
	rtts := make([]time.Duration, 0, n)
	for i := range warm + n {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		t0 := time.Now()
		if _, err := c.Write(msg); err != nil {
			return nil, fmt.Errorf("round trip: write: %w", err)
		}
		if _, err := io.ReadFull(c, got); err != nil {
			return nil, fmt.Errorf("round trip: read: %w", err)
		}
		if i >= warm {
			rtts = append(rtts, time.Since(t0))
		}
	}
	return rtts, nil
}

// Workload is a request/response load: Conns workers each send Request and
// read one response with Response, over and over, for Duration.
type Workload struct {
	Conns    int
	Duration time.Duration
	// KeepAlive reuses each worker's connection; without it every request
	// has a connection of its own (connect, request, response, close).
	KeepAlive bool
	// Dialer spreads new connections over source addresses (nil: kernel's choice).
	Dialer  *Dialer
	Request []byte
	// Response reads one whole response from r; buf is the worker's scratch
	// buffer (64 KiB). For a connection per request, r is a fresh reader.
	Response func(r io.Reader, buf []byte) error
}

// stallLimit is how long a load waits for a server that stopped answering.
const stallLimit = 10 * time.Second

// Requests runs w against the server at addr and returns the requests
// answered per second.
func Requests(ctx context.Context, addr string, w Workload) (float64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		done    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
		start   = make(chan struct{})
	)
	fail := func(err error) {
		errOnce.Do(func() { first = err; cancel() })
	}
	var stop atomic.Bool
	for range w.Conns {
		var c net.Conn
		if w.KeepAlive {
			var err error
			if c, err = w.Dialer.Dial(ctx, addr); err != nil {
				cancel()
				wg.Wait()
				return 0, err
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64<<10)
			<-start
			if c != nil {
				defer c.Close()
				// A server that stops answering fails the run instead of hanging it.
				_ = c.SetDeadline(time.Now().Add(w.Duration + stallLimit))
			}
			for !stop.Load() && ctx.Err() == nil {
				cc := c
				if cc == nil {
					var err error
					if cc, err = w.Dialer.Dial(ctx, addr); err != nil {
						fail(err)
						return
					}
					_ = cc.SetDeadline(time.Now().Add(stallLimit))
				}
				_, err := cc.Write(w.Request)
				if err == nil {
					err = w.Response(cc, buf)
				}
				if c == nil {
					cc.Close()
				}
				if err != nil {
					if !stop.Load() {
						fail(fmt.Errorf("request: %w", err))
					}
					return
				}
				done.Add(1)
			}
		}()
	}
	t0 := time.Now()
	close(start)
	timer := time.NewTimer(w.Duration)
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
	n, el := done.Load(), time.Since(t0)
	stop.Store(true)
	wg.Wait()
	if first != nil {
		return 0, first
	}
	return float64(n) / el.Seconds(), nil
}
