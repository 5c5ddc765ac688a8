// Package socktable reads a network namespace's socket tables, the
// kernel's /proc/net/tcp, tcp6, udp and udp6 (what ss -ltun shows), and
// tells which sockets other hosts can reach: a server bound to a loopback
// address answers only its own host.
package socktable

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Socket is a socket that waits for peers: a TCP listener or an
// unconnected UDP socket.
type Socket struct {
	// Proto is "tcp" or "udp".
	Proto string `json:"proto"`
	// Local is the address and port it is bound to; 0.0.0.0 or :: is every
	// address of the namespace.
	Local netip.AddrPort `json:"local"`
}

// Reachable tells whether other hosts can reach s: it is bound to every
// address, or to one that is not a loopback address.
func (s Socket) Reachable() bool { return !s.Local.Addr().Unmap().IsLoopback() }

func (s Socket) String() string { return s.Proto + " " + s.Local.String() }

// Kernel socket states (include/net/tcp_states.h): a TCP listener, and an
// unconnected UDP socket (UDP has no state of its own; it is TCP_CLOSE).
const (
	stateListen = 0x0A
	stateClose  = 0x07
)

// files are the tables Read reads, with their protocol.
var files = []struct{ name, proto string }{{"tcp", "tcp"}, {"tcp6", "tcp"}, {"udp", "udp"}, {"udp6", "udp"}}

// Read reads the tables under proc (e.g. "/proc/self": the reading
// process's network namespace) and returns the TCP listeners and the
// unconnected UDP sockets. A table that is missing (no IPv6) is empty.
func Read(proc string) ([]Socket, error) {
	var all []Socket
	for _, f := range files {
		path := filepath.Join(proc, "net", f.name)
		file, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("socket table: %w", err)
		}
		socks, err := Parse(f.proto, file)
		file.Close()
		if err != nil {
			return nil, fmt.Errorf("socket table %s: %w", path, err)
		}
		all = append(all, socks...)
	}
	return all, nil
}

// Parse reads one table in the kernel's format (a header line, then one
// line per socket: sl local_address rem_address st ...) and returns the
// sockets of proto ("tcp" or "udp") that wait for peers.
func Parse(proto string, r io.Reader) ([]Socket, error) {
	want := stateListen
	if proto == "udp" {
		want = stateClose
	}
	var out []Socket
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if n == 1 || len(f) < 4 {
			continue // the header
		}
		st, err := strconv.ParseUint(f[3], 16, 8)
		if err != nil {
			return nil, fmt.Errorf("line %d: state %q: %w", n, f[3], err)
		}
		if int(st) != want {
			continue
		}
		local, err := parseAddrPort(f[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: local address: %w", n, err)
		}
		remote, err := parseAddrPort(f[2])
		if err != nil {
			return nil, fmt.Errorf("line %d: remote address: %w", n, err)
		}
		if remote.Port() != 0 {
			continue // a connected UDP socket talks to one peer: no server
		}
		out = append(out, Socket{Proto: proto, Local: local})
	}
	return out, sc.Err()
}

// parseAddrPort reads "0100007F:1F90" (IPv4) or 32 hex digits and a port
// (IPv6): the address as the kernel holds it, in 32-bit words of host byte
// order (little-endian on every machine Docker runs on), the port in hex.
func parseAddrPort(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("%q has no port", s)
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: port: %w", s, err)
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("%q: not an IPv4 or IPv6 address", s)
	}
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(raw[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// On returns the sockets of socks of proto bound to port.
func On(socks []Socket, proto string, port uint16) []Socket {
	var out []Socket
	for _, s := range socks {
		if s.Proto == proto && s.Local.Port() == port {
			out = append(out, s)
		}
	}
	return out
}
