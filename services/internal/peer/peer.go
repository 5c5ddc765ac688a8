// Package peer describes socket addresses the way socketlab reports them: an
// address with its port, and the IP family the traffic really used.
//
// A dual-stack listener sees IPv4 clients as IPv4-mapped IPv6 addresses
// (::ffff:127.0.0.1); peer unmaps them so that an IPv4 client is always
// reported as IPv4.
package peer

import (
	"net"
	"net/netip"
)

// Family names of the two IP families, as they appear in greetings and logs.
const (
	IPv4 = "IPv4"
	IPv6 = "IPv6"
)

// AddrPort returns the unmapped IP address and port of a TCP or UDP address.
// ok is false for any other kind of address.
func AddrPort(a net.Addr) (ap netip.AddrPort, ok bool) {
	switch a := a.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	case *net.UDPAddr:
		ap = a.AddrPort()
	default:
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}

// String formats a as host:port, with brackets around IPv6 hosts and
// IPv4-mapped addresses shown as plain IPv4.
func String(a net.Addr) string {
	if a == nil {
		return ""
	}
	if ap, ok := AddrPort(a); ok {
		return ap.String()
	}
	return a.String()
}

// Family reports IPv4 or IPv6 for a TCP or UDP address, after unmapping; it
// returns "" for other addresses.
func Family(a net.Addr) string {
	ap, ok := AddrPort(a)
	if !ok {
		return ""
	}
	return FamilyOf(ap.Addr())
}

// FamilyOf reports IPv4 or IPv6 for ip, after unmapping.
func FamilyOf(ip netip.Addr) string {
	if ip.Unmap().Is4() {
		return IPv4
	}
	return IPv6
}

// Source is what per-source limits count a connection or datagram as: its
// IPv4 address, or the /64 its IPv6 address is in (one host, or one site,
// usually holds a whole /64, so counting single IPv6 addresses would limit
// nothing). It returns the zero Prefix for an address that is not TCP or UDP.
func Source(a net.Addr) netip.Prefix {
	ap, ok := AddrPort(a)
	if !ok {
		return netip.Prefix{}
	}
	ip := ap.Addr().WithZone("")
	if ip.Is4() {
		return netip.PrefixFrom(ip, 32)
	}
	p, _ := ip.Prefix(64)
	return p
}
