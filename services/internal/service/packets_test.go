package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

type datagramLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *datagramLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *datagramLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDatagramsBurst sends bursts of datagrams at once, so that the server
// takes several in one read: every datagram but the ones the handler drops
// gets its own reply, to its own sender, and one log line.
func TestDatagramsBurst(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			t.Parallel()
			var logs datagramLog
			d := &Datagrams{
				Name: "test",
				Log:  slog.New(slog.NewJSONHandler(&logs, nil)),
				Handle: func(src netip.AddrPort, in, out []byte) ([]byte, string) {
					if bytes.HasPrefix(in, []byte("drop")) {
						return nil, "dropped"
					}
					return append(append(out[:0], "re "...), in...), "replied"
				},
			}
			pc, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
			if err != nil {
				t.Skip(err)
			}
			go d.ServePacket(pc)
			defer d.Shutdown(context.Background())
			const clients, each = 3, 40
			var conns []net.Conn
			for range clients {
				c, err := net.Dial("udp", pc.LocalAddr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				conns = append(conns, c)
			}
			for i := range each {
				for k, c := range conns {
					msg := fmt.Sprintf("c%d m%d", k, i)
					if i%5 == 4 {
						msg = "drop " + msg
					}
					if _, err := c.Write([]byte(msg)); err != nil {
						t.Fatal(err)
					}
				}
			}
			want := each - each/5
			for k, c := range conns {
				buf := make([]byte, 100)
				for i := range want {
					_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
					n, err := c.Read(buf)
					if err != nil {
						t.Fatalf("client %d, reply %d of %d: %v", k, i+1, want, err)
					}
					if got := string(buf[:n]); !strings.HasPrefix(got, fmt.Sprintf("re c%d m", k)) {
						t.Fatalf("client %d got %q", k, got)
					}
				}
				_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				if n, err := c.Read(buf); err == nil {
					t.Errorf("client %d: a reply to a dropped datagram: %q", k, buf[:n])
				}
			}
			d.Shutdown(context.Background()) // logs the sums of the drops
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if len(lines) != clients*want+1 {
				t.Fatalf("%d log lines; want one per datagram answered, %d, and one with the drops:\n%s", len(lines), clients*want, logs.String())
			}
			for _, l := range lines {
				var e struct {
					Msg, Peer, Family, Reason string
					In                        int `json:"bytes_in"`
					Out                       int `json:"bytes_out"`
					Count                     int
					Reasons                   map[string]int
				}
				if err := json.Unmarshal([]byte(l), &e); err != nil {
					t.Fatal(err)
				}
				if e.Msg == "datagrams dropped" {
					if drops := clients * each / 5; e.Count != drops || e.Reasons["dropped"] != drops {
						t.Errorf("drops logged as %s; want a count of %d", l, drops)
					}
					continue
				}
				ap, err := netip.ParseAddrPort(e.Peer)
				if err != nil || ap.Addr().String() != host {
					t.Errorf("log peer %q; want %s and a port", e.Peer, host)
				}
				switch e.Reason {
				case "replied":
					if e.Out != e.In+3 {
						t.Errorf("log: %d bytes in, %d out; want %d out", e.In, e.Out, e.In+3)
					}
				default:
					t.Errorf("log reason %q", e.Reason)
				}
			}
		})
	}
}

// TestDatagramsMappedSource: on a dual-stack socket an IPv4 client is
// seen, and answered, as IPv4.
func TestDatagramsMappedSource(t *testing.T) {
	pc, err := net.ListenPacket("udp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	d := &Datagrams{Handle: func(src netip.AddrPort, in, out []byte) ([]byte, string) {
		return append(out[:0], src.Addr().String()...), "replied"
	}}
	go d.ServePacket(pc)
	defer d.Shutdown(context.Background())
	_, port, _ := net.SplitHostPort(pc.LocalAddr().String())
	c, err := net.Dial("udp4", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("who am i"))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 100)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "127.0.0.1" {
		t.Errorf("reply %q, %v; want 127.0.0.1", buf[:n], err)
	}
}
