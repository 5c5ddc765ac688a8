package chat

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"socketlab/services/internal/service"
	"socketlab/services/internal/svctest"
)

// A client that stops reading is cut off with "ERROR :SendQ exceeded" once
// its queue is full, while another member keeps receiving every message
// promptly and the sender is never held up.
func TestSlowReaderIsCutOff(t *testing.T) {
	for _, fam := range svctest.Families {
		t.Run(fam, func(t *testing.T) {
			addr := newServer(t, svctest.Loopbacks[fam], func(s *Server) { s.SendQ, s.SendBuffer, s.Linger = 32<<10, 16<<10, 3*time.Second })
			fast, bob := register(t, addr, "fast"), register(t, addr, "bob")
			slow := dialSmallWindow(t, addr)
			slow.nick = "sloth"
			slow.send("NICK sloth", "USER sloth 0 * :Sloth", "JOIN #lab")
			slow.expect(" 366 sloth #lab ")
			for _, c := range []*ircConn{fast, bob} {
				c.send("JOIN #lab")
				c.expect(" 366 " + c.nick + " #lab ")
			}
			fast.sync()
			// sloth reads no more from here on.

			const n = 3000
			pad := strings.Repeat("p", 80)
			type result struct {
				got   int
				lat   []time.Duration
				quit  string
				order error
			}
			res := make(chan result, 1)
			var fastGot atomic.Int64
			var readerDone atomic.Bool
			go func() {
				var r result
				defer readerDone.Store(true)
				for r.got < n || r.quit == "" {
					_ = fast.c.SetReadDeadline(time.Now().Add(10 * time.Second))
					l, err := fast.r.ReadString('\n')
					if err != nil {
						r.order = fmt.Errorf("read after %d messages: %v (last line %q)", r.got, err, l)
						break
					}
					if strings.HasPrefix(l, "ERROR") {
						r.order = fmt.Errorf("fast reader cut off after %d messages: %q", r.got, l)
						break
					}
					if strings.Contains(l, " QUIT ") {
						r.quit = strings.TrimRight(l, "\r\n")
						continue
					}
					_, text, ok := strings.Cut(l, " PRIVMSG #lab :")
					if !ok {
						continue
					}
					f := strings.Fields(text)
					seq, _ := strconv.Atoi(f[0])
					sent, _ := strconv.ParseInt(f[1], 10, 64)
					if seq != r.got && r.order == nil {
						r.order = fmt.Errorf("message %d arrived as number %d", seq, r.got)
					}
					r.lat = append(r.lat, time.Since(time.Unix(0, sent)))
					r.got++
					fastGot.Store(int64(r.got))
				}
				res <- r
			}()
			w := bufio.NewWriter(bob.c)
			start := time.Now()
			for i := range n {
				fmt.Fprintf(w, "PRIVMSG #lab :%d %d %s\r\n", i, time.Now().UnixNano(), pad)
				if i%25 == 24 {
					w.Flush()
					// The sender stays at most 125 messages (18 KB) ahead of
					// the fast reader, so that only the slow one can overflow
					// its 32 KB SendQ however loaded this machine is.
					for int64(i)-fastGot.Load() > 100 && !readerDone.Load() {
						time.Sleep(time.Millisecond)
					}
				}
			}
			w.Flush()
			sendTook := time.Since(start)
			r := <-res
			if r.order != nil {
				t.Fatal(r.order)
			}
			if want := ":sloth!~sloth@" + hostOf(slow.c.LocalAddr()) + " QUIT :SendQ exceeded"; r.quit != want {
				t.Errorf("fast saw %q, want %q", r.quit, want)
			}
			slices.Sort(r.lat)
			p50, p99 := r.lat[len(r.lat)/2], r.lat[len(r.lat)*99/100]
			t.Logf("%d messages sent in %v; fast reader latency p50 %v p99 %v max %v", n, sendTook, p50, p99, r.lat[len(r.lat)-1])
			if p99 > 2*time.Second {
				t.Errorf("fast reader p99 latency %v: it was held up by the slow one", p99)
			}

			// sloth finds the ERROR line at the end of what it was sent.
			rest := slow.closed()
			if !strings.HasSuffix(rest, "\r\nERROR :SendQ exceeded\r\n") {
				t.Errorf("slow reader's stream ends with %q", rest[max(0, len(rest)-200):])
			}
		})
	}
}

// dialSmallWindow connects with a 4 KiB receive buffer, set before the
// handshake so that the TCP window really is small.
func dialSmallWindow(t *testing.T, addr string) *ircConn {
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &ircConn{t: t, c: c, r: bufio.NewReader(c)}
}

// 500 members in one channel, half over IPv4, half over IPv6 (one server on
// each loopback): every member gets every message, in order.
func TestFiveHundredInOneChannel(t *testing.T) {
	if testing.Short() {
		t.Skip("500 connections: skipped with -short")
	}
	const members, msgs = 500, 20
	s := &Server{Name: "test.chat", Channels: []string{"#lab"}, MOTD: []string{"hi"}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln6, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	s.init()
	go s.Serve(ln)
	// A second acceptor on ::1 for the same server: one chat network
	// reached over both families.
	s6 := &service.ConnServer{Name: "chat", Handler: s.handle}
	go s6.Serve(ln6)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		s6.Shutdown(ctx)
	})
	addrs := []string{ln.Addr().String(), ln6.Addr().String()}

	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, members)
	ready := make(chan struct{}, members)
	goAhead := make(chan struct{})
	for i := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- member(addrs[i%2], fmt.Sprintf("m%03d", i), msgs, ready, goAhead)
		}()
	}
	for range members {
		select {
		case <-ready:
		case err := <-errs:
			t.Fatal(err)
		}
	}
	joined := time.Since(start)
	sender := register(t, addrs[0], "sender")
	sender.send("JOIN #lab")
	sender.expect(" 366 ")
	close(goAhead)
	for i := range msgs {
		sender.send(fmt.Sprintf("PRIVMSG #lab :message %d", i))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	t.Logf("%d members joined in %v; %d messages to all in %v", members, joined, msgs, time.Since(start)-joined)
}

// member registers, joins #lab, and reads until it has every message.
func member(addr, nick string, msgs int, ready chan<- struct{}, goAhead <-chan struct{}) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "NICK %s\r\nUSER %s 0 * :m\r\nJOIN #lab\r\n", nick, nick)
	r := bufio.NewReader(c)
	next := 0
	joined := false
	for next < msgs {
		l, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("%s: %v after %d messages", nick, err, next)
		}
		if !joined && strings.Contains(l, " 366 "+nick+" #lab ") {
			joined = true
			ready <- struct{}{}
			<-goAhead
		}
		if _, text, ok := strings.Cut(l, " PRIVMSG #lab :"); ok {
			if want := fmt.Sprintf("message %d\r\n", next); text != want {
				return fmt.Errorf("%s: got %q, want %q", nick, text, want)
			}
			next++
		}
	}
	return nil
}

// BenchmarkFanout measures deliveries per second: one sender, a channel of
// 500 members reading as fast as they can.
func BenchmarkFanout(b *testing.B) {
	const members = 500
	addr := newServer(b, "127.0.0.1", func(s *Server) { s.SendQ = 1 << 20 })
	var wg sync.WaitGroup
	counts := make(chan int, members)
	for i := range members {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "NICK b%d\r\nUSER b 0 * :b\r\nJOIN #lab\r\n", i)
		r := bufio.NewReaderSize(c, 64<<10)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				b.Fatal(err)
			}
			if strings.Contains(l, " 366 ") {
				break
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for {
				l, err := r.ReadSlice('\n')
				if err != nil {
					counts <- n
					return
				}
				if !bytes.Contains(l, []byte(" PRIVMSG ")) {
					continue
				}
				if bytes.HasSuffix(l, []byte(" :last\r\n")) {
					counts <- n
					return
				}
				n++
			}
		}()
	}
	sender := register(b, addr, "sender")
	sender.send("JOIN #lab")
	sender.expect(" 366 ")
	time.Sleep(200 * time.Millisecond) // let the JOIN floods drain
	line := []byte("PRIVMSG #lab :" + strings.Repeat("x", 60) + "\r\n")
	w := bufio.NewWriterSize(sender.c, 64<<10)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		w.Write(line)
	}
	w.WriteString("PRIVMSG #lab :last\r\n")
	w.Flush()
	wg.Wait()
	took := time.Since(start)
	close(counts)
	total := 0
	for n := range counts {
		total += n
	}
	if total != b.N*members {
		b.Fatalf("%d deliveries, want %d: some members were cut off", total, b.N*members)
	}
	b.ReportMetric(float64(b.N*members)/took.Seconds(), "deliveries/s")
}
