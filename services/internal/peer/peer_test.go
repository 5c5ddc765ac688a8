package peer

import (
	"net"
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
