package socktable

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
)

// Tables as the kernel writes them (captured from a lab node; columns after
// the state cut).
const (
	tcp4 = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:FF98 00000000:0000 0A 00000000:00000000 00:00000000 00000000 10001        0 1 1 0000000000000000 100 0 0 10 0
   1: 00000000:0007 00000000:0000 0A 00000000:00000000 00:00000000 00000000 10001        0 2 1 0000000000000000 100 0 0 10 0
   2: 03AEC80A:0007 02AEC80A:A2B4 01 00000000:00000000 00:00000000 00000000 10001        0 3 1 0000000000000000 20 4 30 10 -1
`
	tcp6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 10001 0 4 1
   1: 00000000000000000000000000000000:270F 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 10001 0 5 1
   2: 0000000000000000FFFF00000100007F:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 10001 0 6 1
`
	udp4 = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 0B00007F:A0D1 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 7 2 0000000000000000 0
  101: 00000000:0007 00000000:0000 07 00000000:00000000 00:00000000 00000000 10001        0 8 2 0000000000000000 0
  102: 03AEC80A:B000 05AEC80A:0035 01 00000000:00000000 00:00000000 00000000 10001        0 9 2 0000000000000000 0
`
)

func TestParse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, proto, table string
		want               []string // Socket.String, reachable marked with *
	}{
		{"tcp: listeners only, the connection left out", "tcp", tcp4, []string{"tcp 127.0.0.1:65432", "tcp 0.0.0.0:7*"}},
		{"tcp6: ::1, ::, v4-mapped loopback", "tcp", tcp6, []string{"tcp [::1]:8080", "tcp [::]:9999*", "tcp [::ffff:127.0.0.1]:8081"}},
		{"udp: unconnected sockets only", "udp", udp4, []string{"udp 127.0.0.11:41169", "udp 0.0.0.0:7*"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			socks, err := Parse(c.proto, strings.NewReader(c.table))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range socks {
				mark := ""
				if s.Reachable() {
					mark = "*"
				}
				got = append(got, s.String()+mark)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
	if _, err := Parse("tcp", strings.NewReader("header\n 0: nothex:0007 00000000:0000 0A\n")); err == nil || !strings.Contains(err.Error(), "line 2: local address") {
		t.Errorf("a bad address: err = %v, want one that names line 2", err)
	}
}

// TestReadThisNamespace: Read finds a listener this test opens, on
// loopback (not reachable) and on every address (reachable), and On picks
// it by port.
func TestReadThisNamespace(t *testing.T) {
	if _, err := os.Stat("/proc/self/net/tcp"); err != nil {
		t.Skip("no /proc/self/net/tcp here (not Linux)")
	}
	lo, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lo.Close()
	all, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	socks, err := Read("/proc/self")
	if err != nil {
		t.Fatal(err)
	}
	port := func(a net.Addr) uint16 {
		var p uint16
		fmt.Sscan(a.String()[strings.LastIndex(a.String(), ":")+1:], &p)
		return p
	}
	for _, c := range []struct {
		proto     string
		port      uint16
		reachable bool
	}{{"tcp", port(lo.Addr()), false}, {"tcp", port(all.Addr()), true}, {"udp", port(udp.LocalAddr()), false}} {
		on := On(socks, c.proto, c.port)
		if len(on) != 1 || on[0].Reachable() != c.reachable {
			t.Errorf("%s port %d: found %v, want one socket, reachable %v", c.proto, c.port, on, c.reachable)
		}
	}
}
