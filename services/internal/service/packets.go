package service

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"socketlab/services/internal/peer"
)

// Datagrams serves a UDP socket with one loop that reuses its buffers: each
// datagram gets at most one reply, and a log line when it gets one; those
// that get none are counted and logged as sums ("datagrams dropped") once
// per DropLogInterval. On Linux the loop takes
// the datagrams waiting in one system call and sends their replies in one
// (recvmmsg, sendmmsg).
type Datagrams struct {
	// Name is the service name in log lines.
	Name string
	// Handle answers one datagram from src. It may write its reply into out
	// (which has room for 64 KiB) and returns the reply, or nil to send
	// nothing, with a short note for the log ("replied", "rate limited"...).
	Handle func(src netip.AddrPort, in, out []byte) (reply []byte, note string)
	// Log receives one line per datagram answered and the sums of those
	// dropped; nil logs nothing.
	Log *slog.Logger
	// DropLogInterval is how often the sums of dropped datagrams are
	// logged; 0 means DefaultDropLogInterval.
	DropLogInterval time.Duration

	closing atomic.Bool
	mu      sync.Mutex
	pc      *net.UDPConn
	done    chan struct{}
	drops   drops
}

// ServePacket reads datagrams from pc (which must be a *net.UDPConn) until
// Shutdown; it then returns ErrServerClosed.
func (d *Datagrams) ServePacket(pc net.PacketConn) error {
	uc, ok := pc.(*net.UDPConn)
	if !ok {
		return errors.New("datagrams: not a UDP socket")
	}
	d.mu.Lock()
	d.pc = uc
	d.done = make(chan struct{})
	d.mu.Unlock()
	defer close(d.done)
	if d.closing.Load() {
		uc.Close()
		return ErrServerClosed
	}
	local := peer.String(uc.LocalAddr())
	if ok, err := d.serveBatches(uc, local); ok {
		return err
	}
	in := make([]byte, 65536)
	out := make([]byte, 65536)
	for {
		n, src, err := uc.ReadFromUDPAddrPort(in)
		if err != nil {
			if d.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// ICMP errors from earlier replies (port unreachable) surface here
			// on some systems; they concern one peer, not the socket.
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			continue
		}
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		reply, note := d.Handle(src, in[:n], out)
		if reply == nil {
			d.dropped(note)
			continue
		}
		sent := 0
		if reply != nil {
			// Replying to the unmapped address on a dual-stack socket works:
			// the kernel maps it back.
			sent, err = uc.WriteToUDPAddrPort(reply, src)
			if err != nil {
				note = "reply failed: " + err.Error()
			}
		}
		if d.Log != nil {
			d.Log.LogAttrs(context.Background(), slog.LevelInfo, "datagram", HealthMark([]slog.Attr{
				slog.String("peer", src.String()),
				slog.String("local", local),
				slog.String("family", peer.FamilyOf(src.Addr())),
				slog.Int("bytes_in", n),
				slog.Int("bytes_out", sent),
				slog.String("reason", note),
			}, src.Addr())...)
		}
	}
}

// Shutdown closes the socket and waits for the loop to stop: a datagram is
// answered at once, so there is nothing to drain.
func (d *Datagrams) Shutdown(ctx context.Context) error {
	d.closing.Store(true)
	d.mu.Lock()
	pc, done := d.pc, d.done
	d.mu.Unlock()
	if pc == nil {
		return nil
	}
	pc.Close()
	defer d.logDrops()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
