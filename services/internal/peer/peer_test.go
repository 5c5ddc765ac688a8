package peer

import (
	"net"
	"net/netip"
	"testing"
)

func TestStringAndFamily(t *testing.T) {
	cases := []struct {
		name      string
		addr      net.Addr
		want, fam string
	}{
		{"v4", &net.TCPAddr{IP: net.ParseIP("127.0.0.1").To4(), Port: 80}, "127.0.0.1:80", IPv4},
		{"v4-mapped", &net.TCPAddr{IP: net.ParseIP("::ffff:127.0.0.1"), Port: 9999}, "127.0.0.1:9999", IPv4},
		{"v6", &net.UDPAddr{IP: net.ParseIP("::1"), Port: 7}, "[::1]:7", IPv6},
		{"v6-zone", &net.UDPAddr{IP: net.ParseIP("fe80::1"), Port: 7, Zone: "eth0"}, "[fe80::1%eth0]:7", IPv6},
		{"unix", &net.UnixAddr{Name: "/tmp/s", Net: "unix"}, "/tmp/s", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := String(c.addr); got != c.want {
				t.Errorf("String = %q, want %q", got, c.want)
			}
			if got := Family(c.addr); got != c.fam {
				t.Errorf("Family = %q, want %q", got, c.fam)
			}
		})
	}
}

// Per-source limits count an IPv4 address, or an IPv6 /64, as one source.
func TestSource(t *testing.T) {
	for _, c := range []struct{ a, b string }{
		{"127.0.0.1:1", "127.0.0.1:2"},
		{"[::ffff:10.0.0.1]:1", "10.0.0.1:2"},
		{"[2001:db8:1:2::1]:1", "[2001:db8:1:2:ffff::9]:2"},
		{"[fe80::1%eth0]:1", "[fe80::2]:2"},
	} {
		a, b := net.TCPAddrFromAddrPort(netip.MustParseAddrPort(c.a)), net.TCPAddrFromAddrPort(netip.MustParseAddrPort(c.b))
		if Source(a) != Source(b) || !Source(a).IsValid() {
			t.Errorf("%s and %s: sources %s and %s, want one", c.a, c.b, Source(a), Source(b))
		}
	}
	for _, c := range []struct{ a, b string }{
		{"127.0.0.1:1", "127.0.0.2:1"},
		{"[2001:db8:1:2::1]:1", "[2001:db8:1:3::1]:1"},
	} {
		a, b := net.TCPAddrFromAddrPort(netip.MustParseAddrPort(c.a)), net.TCPAddrFromAddrPort(netip.MustParseAddrPort(c.b))
		if Source(a) == Source(b) {
			t.Errorf("%s and %s: one source %s, want two", c.a, c.b, Source(a))
		}
	}
}
