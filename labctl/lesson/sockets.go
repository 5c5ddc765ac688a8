package lesson

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// ProcNetCommand prints a node's sockets, as the kernel lists them, for
// Listening: the node's network namespace, whatever process reads it.
var ProcNetCommand = []string{"cat", "/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6"}

// Socket is a socket a program listens on (TCP) or receives on (UDP).
type Socket struct {
	Transport string // tcp or udp
	Addr      netip.AddrPort
}

// Listening reads the listening TCP sockets and the bound, unconnected UDP
// sockets from the text of /proc/net/{tcp,tcp6,udp,udp6} (ProcNetCommand).
// Each file's header says which it is (a UDP file's ends in "drops"); the
// state column then tells a TCP listener (0A) and an unconnected UDP socket
// (07, no remote port) from the rest.
func Listening(text string) []Socket {
	var out []Socket
	transport := ""
	for line := range strings.SplitSeq(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		if f[0] == "sl" {
			transport = "tcp"
			if strings.Contains(line, "drops") {
				transport = "udp"
			}
			continue
		}
		local, remote, state := f[1], f[2], f[3]
		switch {
		case transport == "tcp" && state == "0A":
		case transport == "udp" && state == "07" && strings.HasSuffix(remote, ":0000"):
		default:
			continue
		}
		ap, err := parseHexAddrPort(local)
		if err != nil || ap.Addr() == dockerDNS {
			continue
		}
		out = append(out, Socket{Transport: transport, Addr: ap})
	}
	return out
}

// dockerDNS is the address of Docker's embedded DNS server in every node on
// a user-defined network: its sockets (on random ports) are not the
// program's.
var dockerDNS = netip.AddrFrom4([4]byte{127, 0, 0, 11})

// parseHexAddrPort reads the kernel's "0100007F:0007" (IPv4) or 32 hex
// digits and a port (IPv6): the address in host byte order, 32 bits at a
// time (little-endian here), the port in big-endian hex.
func parseHexAddrPort(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("%q: no port", s)
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: port: %w", s, err)
	}
	b, err := hex.DecodeString(a)
	if err != nil || len(b) != 4 && len(b) != 16 {
		return netip.AddrPort{}, fmt.Errorf("%q: not an address", s)
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	addr, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// PickPort picks the port the program serves the lesson on from its sockets:
// the suite's transport, the lesson's usual port when the program uses it,
// else the lowest. It returns 0 when the program has no such socket, and
// the sockets on the port it picked.
func (s *Suite) PickPort(socks []Socket) (int, []Socket) {
	var ports []int
	for _, k := range socks {
		if k.Transport == s.Transport {
			ports = append(ports, int(k.Addr.Port()))
		}
	}
	if len(ports) == 0 {
		return 0, nil
	}
	port := slices.Min(ports)
	if slices.Contains(ports, s.Port) {
		port = s.Port
	}
	var on []Socket
	for _, k := range socks {
		if k.Transport == s.Transport && int(k.Addr.Port()) == port {
			on = append(on, k)
		}
	}
	return port, on
}

// Describe says in a line where the program listens and what that means
// for its clients: "listens on [::]:7 (every address, IPv6 and IPv4 unless
// the socket is IPV6_V6ONLY)".
func Describe(socks []Socket) string {
	var addrs []string
	loopOnly, v4, v6 := true, false, false
	for _, k := range socks {
		addrs = append(addrs, k.Addr.String())
		a := k.Addr.Addr()
		if !a.IsLoopback() {
			loopOnly = false
		}
		if a.Is4() {
			v4 = true
		} else {
			v6 = true
		}
	}
	verb := "listens on"
	if len(socks) > 0 && socks[0].Transport == "udp" {
		verb = "receives on"
	}
	line := fmt.Sprintf("%s %s %s", socks[0].Transport, verb, strings.Join(addrs, ", "))
	switch {
	case loopOnly:
		return line + " (loopback only: no other node can reach it)"
	case v4 && !v6:
		return line + " (IPv4 only)"
	case v6 && !v4:
		return line + " (IPv6, and IPv4 too unless the socket is IPV6_V6ONLY)"
	}
	return line
}
