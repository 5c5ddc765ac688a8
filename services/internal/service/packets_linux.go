package service

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"socketlab/services/internal/peer"
)

// batchSize is how many datagrams one recvmmsg takes, and one sendmmsg
// answers, at most.
const batchSize = 16

// batch holds what one recvmmsg and one sendmmsg need: a slot per datagram
// with its buffers and the sender's raw address, which the reply goes back
// to as it came (so a dual-stack socket needs no mapping).
type batch struct {
	in, out [batchSize][]byte
	names   [batchSize]unix.RawSockaddrInet6
	iovs    [batchSize]unix.Iovec
	hdrs    [batchSize]unix.Mmsghdr
	// replies are the slots answered, in order, for sendmmsg.
	rhdrs [batchSize]unix.Mmsghdr
	riovs [batchSize]unix.Iovec
	slot  [batchSize]int
	sent  [batchSize]int
	notes [batchSize]string
	srcs  [batchSize]netip.AddrPort
	quiet [batchSize]bool // no reply: counted, not logged
	// oob receives each datagram's destination address (IP_PKTINFO,
	// IPV6_PKTINFO) when the log wants it.
	oob [batchSize][oobSize]byte
}

// oobSize holds one IPV6_PKTINFO control message (a 16-byte header and a
// 20-byte in6_pktinfo, aligned to 8), the larger of the two kinds.
const oobSize = 40

// serveBatches is ServePacket's loop on Linux: one recvmmsg takes every
// datagram waiting (up to batchSize) and one sendmmsg sends their replies,
// so a busy server makes two system calls per batch instead of two per
// datagram. ok is false when the socket gives no raw access; the caller
// then serves datagrams one at a time.
func (d *Datagrams) serveBatches(uc *net.UDPConn, local string) (ok bool, err error) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return false, nil
	}
	var port uint16
	if la, ok := peer.AddrPort(uc.LocalAddr()); ok {
		port = la.Port()
	}
	// The log names the address each datagram was sent to, not the
	// wildcard the socket is bound to: ask the kernel for it, only when
	// there is a log (a --quiet server pays nothing).
	pktinfo := d.Log != nil && enablePktinfo(rc)
	b := new(batch)
	for i := range batchSize {
		b.in[i] = make([]byte, 65536)
		b.out[i] = make([]byte, 65536)
		b.iovs[i].Base = &b.in[i][0]
		b.hdrs[i].Hdr.Iov = &b.iovs[i]
		b.hdrs[i].Hdr.SetIovlen(1)
		b.hdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	}
	for {
		for i := range batchSize {
			b.iovs[i].SetLen(len(b.in[i]))
			b.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
			if pktinfo {
				b.hdrs[i].Hdr.Control = &b.oob[i][0]
				b.hdrs[i].Hdr.SetControllen(oobSize)
			}
		}
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			r, _, e := syscall.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), batchSize, unix.MSG_DONTWAIT, 0, 0)
			if e == syscall.EAGAIN {
				return false
			}
			n, rerr = int(r), nil
			if e != 0 {
				n, rerr = 0, e
			}
			return true
		})
		if err != nil {
			if d.closing.Load() {
				return true, ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return true, err
		}
		if rerr != nil {
			// ICMP errors about earlier replies and the like concern one
			// peer, not the socket.
			continue
		}
		replies := 0
		for i := range n {
			src, ok := sockaddrAddrPort(&b.names[i], b.hdrs[i].Hdr.Namelen)
			b.srcs[i], b.sent[i] = src, 0
			b.quiet[i] = true
			if !ok {
				d.dropped("unknown address family")
				continue
			}
			reply, note := d.Handle(src, b.in[i][:b.hdrs[i].Len], b.out[i])
			b.notes[i] = note
			if reply == nil {
				d.dropped(note)
				continue
			}
			b.quiet[i] = false
			h := &b.rhdrs[replies]
			*h = unix.Mmsghdr{}
			h.Hdr.Name, h.Hdr.Namelen = b.hdrs[i].Hdr.Name, b.hdrs[i].Hdr.Namelen
			b.riovs[replies] = unix.Iovec{}
			if len(reply) > 0 {
				b.riovs[replies].Base = &reply[0]
				b.riovs[replies].SetLen(len(reply))
			}
			h.Hdr.Iov = &b.riovs[replies]
			h.Hdr.SetIovlen(1)
			b.slot[replies] = i
			replies++
		}
		for done := 0; done < replies; {
			var k int
			var werr error
			err := rc.Write(func(fd uintptr) bool {
				r, _, e := syscall.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.rhdrs[done])), uintptr(replies-done), 0, 0, 0)
				if e == syscall.EAGAIN {
					return false
				}
				k, werr = int(r), nil
				if e != 0 {
					k, werr = 0, e
				}
				return true
			})
			if err != nil {
				if d.closing.Load() {
					return true, ErrServerClosed
				}
				return true, err
			}
			for j := done; j < done+k; j++ {
				b.sent[b.slot[j]] = int(b.riovs[j].Len)
			}
			done += k
			if werr != nil { // the reply at done failed: note it, go on with the next
				b.notes[b.slot[done]] = "reply failed: " + werr.Error()
				done++
			}
		}
		if d.Log != nil {
			for i := range n {
				if b.quiet[i] {
					continue // counted by d.dropped
				}
				to := local
				if dst, ok := pktinfoDst(b.oob[i][:b.hdrs[i].Hdr.Controllen]); ok {
					to = netip.AddrPortFrom(dst, port).String()
				}
				d.Log.LogAttrs(context.Background(), slog.LevelInfo, "datagram", HealthMark([]slog.Attr{
					slog.String("peer", b.srcs[i].String()),
					slog.String("local", to),
					slog.String("family", peer.FamilyOf(b.srcs[i].Addr())),
					slog.Int("bytes_in", int(b.hdrs[i].Len)),
					slog.Int("bytes_out", b.sent[i]),
					slog.String("reason", b.notes[i]),
				}, b.srcs[i].Addr())...)
			}
		}
	}
}

// enablePktinfo asks the kernel to tell each datagram's destination
// address: IP_PKTINFO for IPv4 datagrams (on a dual-stack socket too) and
// IPV6_RECVPKTINFO for IPv6 ones. It reports whether either is on.
func enablePktinfo(rc syscall.RawConn) bool {
	on := false
	_ = rc.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1) == nil {
			on = true
		}
		if unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1) == nil {
			on = true
		}
	})
	return on
}

// pktinfoDst finds the destination address in the control messages oob of
// one datagram, without allocating.
func pktinfoDst(oob []byte) (netip.Addr, bool) {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if h.Len < unix.SizeofCmsghdr || int(h.Len) > len(oob) {
			return netip.Addr{}, false
		}
		data := oob[unix.CmsgLen(0):h.Len]
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
			return netip.AddrFrom4(pi.Addr), true
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
			return netip.AddrFrom16(pi.Addr).Unmap(), true
		}
		next := unix.CmsgSpace(int(h.Len) - unix.CmsgLen(0))
		if next > len(oob) {
			break
		}
		oob = oob[next:]
	}
	return netip.Addr{}, false
}

// sockaddrAddrPort converts the raw source address recvmmsg filled in,
// unmapping IPv4-mapped IPv6 addresses as ReadFromUDPAddrPort's callers do.
func sockaddrAddrPort(sa *unix.RawSockaddrInet6, n uint32) (netip.AddrPort, bool) {
	switch {
	case sa.Family == unix.AF_INET && n >= unix.SizeofSockaddrInet4:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port), true
	case sa.Family == unix.AF_INET6 && n >= unix.SizeofSockaddrInet6:
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		ip := netip.AddrFrom16(sa.Addr)
		if ip.Is4In6() {
			ip = ip.Unmap()
		} else if sa.Scope_id != 0 {
			ip = ip.WithZone(zoneName(sa.Scope_id))
		}
		return netip.AddrPortFrom(ip, port), true
	}
	return netip.AddrPort{}, false
}

// zoneName names the interface of a link-local address's scope, as the net
// package does.
func zoneName(index uint32) string {
	if ifi, err := net.InterfaceByIndex(int(index)); err == nil {
		return ifi.Name
	}
	return strconv.FormatUint(uint64(index), 10)
}
