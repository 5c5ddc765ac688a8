package chat

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// LIST of 10,000 channels reaches a client that reads it, whole, without
// "SendQ exceeded": it is sent only as fast as the client takes it.
func TestListOfTenThousandChannels(t *testing.T) {
	const n = 10000
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("#room-%05d", i)
	}
	addr := newServer(t, "127.0.0.1", func(s *Server) { s.Channels = names; s.Topic = "a topic of some length, as channels have" })
	c := register(t, addr, "ada")
	c.send("LIST")
	got := 0
	for {
		l := c.line()
		switch {
		case strings.Contains(l, " 322 ada "):
			got++
		case strings.Contains(l, " 323 ada "):
			if got != n {
				t.Fatalf("LIST: %d channels, want %d", got, n)
			}
			return
		case strings.HasPrefix(l, "ERROR"):
			t.Fatalf("LIST of %d channels: %s after %d lines", n, l, got)
		}
	}
}

// Past MaxServerChannels, JOIN of a new channel is refused with 405; joining
// one that exists still works.
func TestServerWideChannelCap(t *testing.T) {
	addr := newServer(t, "127.0.0.1", func(s *Server) { s.MaxServerChannels = 3 })
	c := register(t, addr, "ada")
	c.send("JOIN #a", "JOIN #b") // with #lab, 3 channels
	c.expect(" 366 ada #b ")
	c.send("JOIN #c")
	if l := c.expect(" 405 "); !strings.Contains(l, "405 ada #c :The server has as many channels as it may hold") {
		t.Errorf("JOIN over the server's cap: %q", l)
	}
	d := register(t, addr, "bob")
	d.send("JOIN #a")
	d.expect(" 366 bob #a ")
}

// With default flood control, a member that never reads is cut off in
// bounded time, having been sent a bounded number of bytes, while the
// channel goes on: the others see it quit with the reason.
func TestStalledMemberIsCutOff(t *testing.T) {
	addr := newServer(t, "127.0.0.1", func(s *Server) {
		s.FloodBurst, s.FloodRate = 20, 4 // the binary's defaults
		s.WriteTimeout = 2 * time.Second
	})
	stalled := register(t, addr, "stalled")
	stalled.send("JOIN #lab")
	stalled.expect(" 366 stalled #lab ")
	watcher := register(t, addr, "watcher")
	watcher.send("JOIN #lab")
	watcher.expect(" 366 watcher #lab ")

	const talkers = 20
	stop := make(chan struct{})
	defer close(stop)
	var sent atomic.Int64
	for i := range talkers {
		c := register(t, addr, fmt.Sprintf("talker%d", i))
		c.send("JOIN #lab")
		go io.Copy(io.Discard, c.c) // talkers read, as they should
		go func() {
			line := []byte("PRIVMSG #lab :" + strings.Repeat("x", 400) + "\r\n")
			for {
				select {
				case <-stop:
					return
				default:
				}
				c.c.SetWriteDeadline(time.Now().Add(time.Second))
				if n, err := c.c.Write(line); err == nil {
					sent.Add(int64(n))
				} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
					return
				}
			}
		}()
	}

	start := time.Now()
	const within = 30 * time.Second
	watcher.c.SetReadDeadline(start.Add(within))
	for {
		l, err := watcher.r.ReadString('\n')
		if err != nil {
			t.Fatalf("the member that never reads was not cut off within %s (%d bytes of messages sent to the channel): %v", within, sent.Load(), err)
		}
		if strings.HasPrefix(l, ":stalled!") && strings.Contains(l, " QUIT ") {
			if !strings.Contains(l, "Write timeout") && !strings.Contains(l, "SendQ exceeded") {
				t.Errorf("quit line %q: want the reason", l)
			}
			t.Logf("cut off after %v: %s", time.Since(start).Round(100*time.Millisecond), strings.TrimSpace(l))
			break
		}
	}
	// What reached the stalled member's socket is bounded: about SendQ's
	// worth and the kernel buffers of both sides.
	stalled.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ := io.Copy(io.Discard, bufio.NewReader(stalled.c))
	if n > 2<<20 {
		t.Errorf("the stalled member's socket held %d bytes; want at most 2 MiB", n)
	}
}
