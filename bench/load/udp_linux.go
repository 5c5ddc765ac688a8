package load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batch is how many datagrams one sendmmsg or recvmmsg call moves at most.
const batch = 64

// UDPFlood keeps window datagrams of size bytes in flight on each of sockets
// UDP sockets connected to addr, sending one more for each reply, for d, and
// returns the replies per second. It moves datagrams in batches
// (sendmmsg/recvmmsg), so that the load costs less CPU than the server
// answering it. A socket that hears nothing for 20 ms counts its window as
// lost and sends a fresh one.
func UDPFlood(ctx context.Context, addr string, sockets, window, size int, d time.Duration) (float64, error) {
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return 0, fmt.Errorf("udp flood: %w", err)
	}
	var (
		replies atomic.Int64
		stop    atomic.Bool
		wg      sync.WaitGroup
		errs    = make(chan error, sockets)
		conns   []*net.UDPConn
	)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range sockets {
		c, err := net.DialUDP("udp", nil, raddr)
		if err != nil {
			return 0, fmt.Errorf("udp flood: %w", err)
		}
		_ = c.SetReadBuffer(4 << 20)
		_ = c.SetWriteBuffer(4 << 20)
		conns = append(conns, c)
	}
	start := make(chan struct{})
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := flood(c, window, size, &replies, &stop); err != nil {
				errs <- err
			}
		}()
	}
	t0 := time.Now()
	close(start)
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	n, el := replies.Load(), time.Since(t0)
	stop.Store(true)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, errors.New("udp flood: no reply at all")
	}
	return float64(n) / el.Seconds(), nil
}

// mmsgs is a batch of message headers over one buffer per message.
type mmsgs struct {
	hdrs []unix.Mmsghdr
	iovs []unix.Iovec
	bufs [][]byte
}

func newMmsgs(n, size int, fill []byte) *mmsgs {
	m := &mmsgs{hdrs: make([]unix.Mmsghdr, n), iovs: make([]unix.Iovec, n), bufs: make([][]byte, n)}
	for i := range n {
		m.bufs[i] = make([]byte, size)
		copy(m.bufs[i], fill)
		m.iovs[i].Base = &m.bufs[i][0]
		m.iovs[i].SetLen(size)
		m.hdrs[i].Hdr.Iov = &m.iovs[i]
		m.hdrs[i].Hdr.SetIovlen(1)
	}
	return m
}

func flood(c *net.UDPConn, window, size int, replies *atomic.Int64, stop *atomic.Bool) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	out := newMmsgs(batch, size, Pattern(size))
	in := newMmsgs(batch, 2048, nil)
	send := func(n int) error {
		refused := 0
		for n > 0 {
			sent, err := sendmmsg(rc, out.hdrs[:min(n, batch)])
			if err != nil {
				if errors.Is(err, syscall.ECONNREFUSED) && refused < 100 {
					refused++ // an ICMP error about an earlier datagram; the next may pass
					continue
				}
				return fmt.Errorf("udp flood: sendmmsg: %w", err)
			}
			n -= sent
		}
		return nil
	}
	if err := send(window); err != nil {
		return err
	}
	for !stop.Load() {
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		got, err := recvmmsg(rc, in.hdrs)
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			got = window // all lost, or the server paused: start over
		case errors.Is(err, syscall.ECONNREFUSED):
			return errors.New("udp flood: connection refused (no server on that port)")
		case err != nil:
			return fmt.Errorf("udp flood: recvmmsg: %w", err)
		default:
			replies.Add(int64(got))
		}
		if err := send(got); err != nil {
			return err
		}
	}
	return nil
}

// BatchUDPEcho serves pc as a UDP echo that moves datagrams in batches:
// one recvmmsg takes up to 64 waiting datagrams and one sendmmsg sends
// their replies. It is the reference for what a Go UDP server can reach
// on this kernel. It returns when the socket is closed.
func BatchUDPEcho(pc *net.UDPConn) error {
	rc, err := pc.SyscallConn()
	if err != nil {
		return err
	}
	m := newMmsgs(batch, 2048, nil)
	names := make([]unix.RawSockaddrInet6, batch)
	for {
		for i := range m.hdrs {
			m.hdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&names[i]))
			m.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
			m.iovs[i].SetLen(len(m.bufs[i]))
		}
		got, err := recvmmsg(rc, m.hdrs)
		var errno syscall.Errno
		if errors.As(err, &errno) {
			continue // a failed receive (an ICMP error about an earlier reply)
		}
		if err != nil {
			return err
		}
		for i := range got {
			m.iovs[i].SetLen(int(m.hdrs[i].Len))
		}
		for sent := 0; sent < got; {
			n, err := sendmmsg(rc, m.hdrs[sent:got])
			var errno syscall.Errno
			if errors.As(err, &errno) {
				n = 1 // skip the datagram that failed
			} else if err != nil {
				return err
			}
			sent += n
		}
	}
}

// recvmmsg receives up to len(hdrs) datagrams in one system call, waiting
// (through the runtime's poller) until at least one is there. A failed
// receive is returned as a syscall.Errno; other errors come from the socket
// (a deadline, a close).
func recvmmsg(rc syscall.RawConn, hdrs []unix.Mmsghdr) (int, error) {
	return mmsg(rc.Read, unix.SYS_RECVMMSG, hdrs, unix.MSG_DONTWAIT)
}

// sendmmsg sends the datagrams of hdrs in one system call, waiting while the
// socket's buffer is full; it returns how many went. Errors are as for
// recvmmsg.
func sendmmsg(rc syscall.RawConn, hdrs []unix.Mmsghdr) (int, error) {
	return mmsg(rc.Write, unix.SYS_SENDMMSG, hdrs, 0)
}

func mmsg(wait func(func(uintptr) bool) error, trap uintptr, hdrs []unix.Mmsghdr, flags uintptr) (int, error) {
	var n int
	var errno syscall.Errno
	err := wait(func(fd uintptr) bool {
		r, _, e := syscall.Syscall6(trap, fd, uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), flags, 0, 0)
		if e == syscall.EAGAIN {
			return false
		}
		if e != 0 {
			errno = e
			return true
		}
		n = int(r)
		return true
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, errno
	}
	return n, nil
}
