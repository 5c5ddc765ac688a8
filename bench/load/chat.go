package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// JoinIRC registers nick on the IRC server behind c and joins channel (none
// if empty), reading until the server has answered: the end of NAMES after
// a JOIN, the end of the MOTD (376 or 422) otherwise.
func JoinIRC(c net.Conn, br *bufio.Reader, nick, channel string) error {
	hello := "NICK " + nick + "\r\nUSER " + nick + " 0 * :socketlab bench\r\n"
	done := map[string]bool{"376": true, "422": true} // end of MOTD, no MOTD
	if channel != "" {
		hello += "JOIN " + channel + "\r\n"
		done = map[string]bool{"366": true} // end of NAMES
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, hello); err != nil {
		return fmt.Errorf("irc %s: register: %w", nick, err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("irc %s: waiting for the server: %w", nick, err)
		}
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "PING":
			io.WriteString(c, "PONG"+line[4:])
		case len(f) > 0 && f[0] == "ERROR":
			return fmt.Errorf("irc %s: server said %q", nick, line)
		case len(f) > 1 && done[f[1]]:
			return nil
		case len(f) > 1 && len(f[1]) == 3 && f[1][0] >= '4' && f[1][0] <= '5' && f[1] != "422":
			return fmt.Errorf("irc %s: server said %q", nick, line)
		}
	}
}

// Fanout is a chat fan-out load: Members join Channel, one more client
// joins and sends PRIVMSGs to the channel, and every member's client
// measures when each message arrives.
type Fanout struct {
	Addr    string
	Channel string
	// Members receive; the last Stalled of them stop reading once joined.
	// They connect with a receive buffer of StalledBuffer bytes and a
	// maximum segment size of StalledMSS (0: the kernel's defaults): on
	// loopback (MSS 64 KiB) the server's send buffer to a client that does
	// not read would otherwise grow past a megabyte before its send queue
	// starts to fill.
	Members, Stalled          int
	StalledBuffer, StalledMSS int
	// Rate is the messages per second the sender sends (0: as fast as the
	// window lets it).
	Rate float64
	// Window caps the messages sent but not yet received by every reading
	// member, so that the load never overruns the server's send queues.
	Window   int
	Duration time.Duration
	// Size is the length of each message's text (at least 40).
	Size int
	// SampleEvery records the latency of one message in this many.
	SampleEvery int
	// Nick prefixes every nick of this load, so that loads that follow one
	// another do not collide with nicks the server has yet to release.
	Nick   string
	Dialer *Dialer
}

// FanoutResult is what a fan-out load measured.
type FanoutResult struct {
	Sent      int64
	Delivered int64 // lines received by the reading members while sending
	PerSec    float64
	// Latencies of the sampled deliveries to the reading members.
	Latencies []time.Duration
	// CutOff counts stalled members the server disconnected with "SendQ exceeded".
	CutOff int
}

type member struct {
	c    net.Conn
	br   *bufio.Reader
	got  atomic.Int64
	lat  []time.Duration
	_    [64]byte // keep the hot counters of neighbours on separate cache lines
	stal bool
}

// Run connects the members and the sender, sends for f.Duration, and
// returns the deliveries per second and latencies. It closes every
// connection before returning.
func (f Fanout) Run(ctx context.Context) (FanoutResult, error) {
	var res FanoutResult
	if f.Size < 40 {
		f.Size = 40
	}
	if f.SampleEvery < 1 {
		f.SampleEvery = 1
	}
	if f.Window < 1 {
		f.Window = 64
	}
	members := make([]*member, f.Members)
	defer func() {
		for _, m := range members {
			if m != nil {
				m.c.Close()
			}
		}
	}()
	// Join in parallel, a few at a time: every JOIN is announced to the
	// members already in the channel, who read it in their own goroutines.
	var (
		wg      sync.WaitGroup
		readers sync.WaitGroup
		mu      sync.Mutex
		first   error
		sem     = make(chan struct{}, 16)
		stop    atomic.Bool
		stamp   = func() int64 { return time.Now().UnixNano() }
	)
	for i := range members {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			stalled := i >= f.Members-f.Stalled
			c, err := f.dial(ctx, stalled)
			if err == nil {
				m := &member{c: c, br: bufio.NewReaderSize(c, 64<<10), stal: stalled}
				err = JoinIRC(c, m.br, f.Nick+"m"+strconv.Itoa(i), f.Channel)
				if err == nil {
					members[i] = m
					if !stalled {
						readers.Add(1)
						go func() { defer readers.Done(); m.read(&stop, f.SampleEvery, stamp) }()
					}
				} else {
					c.Close()
				}
			}
			if err != nil {
				mu.Lock()
				first = cmpErr(first, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	stopReaders := func() {
		stop.Store(true)
		for _, m := range members {
			if m != nil && !m.stal {
				_ = m.c.SetReadDeadline(time.Now())
			}
		}
		readers.Wait()
	}
	if first != nil {
		stopReaders()
		return res, fmt.Errorf("fan-out: %d members: %w", f.Members, first)
	}
	sc, err := f.Dialer.Dial(ctx, f.Addr)
	if err != nil {
		stopReaders()
		return res, err
	}
	defer sc.Close()
	if err := JoinIRC(sc, bufio.NewReader(sc), f.Nick+"s", f.Channel); err != nil {
		stopReaders()
		return res, err
	}
	go io.Copy(io.Discard, sc) // QUITs of cut-off members, PINGs
	// Let the members read the sender's JOIN before counting.
	time.Sleep(100 * time.Millisecond)
	for _, m := range members {
		m.got.Store(0)
	}

	minGot := func() int64 {
		low := int64(-1)
		for _, m := range members {
			if m.stal {
				continue
			}
			if g := m.got.Load(); low < 0 || g < low {
				low = g
			}
		}
		return low
	}
	total := func() int64 {
		var n int64
		for _, m := range members {
			if !m.stal {
				n += m.got.Load()
			}
		}
		return n
	}
	pad := bytes.Repeat([]byte("x"), f.Size-30)
	out := make([]byte, 0, 64<<10)
	t0 := time.Now()
	end := t0.Add(f.Duration)
	var sent int64
	for now := t0; now.Before(end); now = time.Now() {
		if ctx.Err() != nil {
			stopReaders()
			return res, ctx.Err()
		}
		due := int64(1 << 62)
		if f.Rate > 0 {
			due = int64(f.Rate*now.Sub(t0).Seconds()) + 1 - sent
		}
		room := int64(f.Window) - (sent - minGot())
		n := min(due, room, 256)
		if n <= 0 {
			time.Sleep(100 * time.Microsecond)
			continue
		}
		out = out[:0]
		ts := stamp()
		for range n {
			sent++
			out = append(out, "PRIVMSG "+f.Channel+" :"...)
			out = strconv.AppendInt(out, ts, 10)
			out = append(out, ' ')
			out = strconv.AppendInt(out, sent, 10)
			out = append(out, ' ')
			out = append(out, pad...)
			out = append(out, '\r', '\n')
		}
		if _, err := sc.Write(out); err != nil {
			stopReaders()
			return res, fmt.Errorf("fan-out: send: %w", err)
		}
	}
	res.Delivered, res.Sent = total(), sent
	res.PerSec = float64(res.Delivered) / time.Since(t0).Seconds()
	// Wait for the messages in flight, for the latencies of the last ones.
	for wait := time.Now().Add(5 * time.Second); minGot() < sent && time.Now().Before(wait); {
		time.Sleep(time.Millisecond)
	}
	stopReaders()
	var cut atomic.Int64
	for _, m := range members {
		if !m.stal {
			res.Latencies = append(res.Latencies, m.lat...)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if m.cutOff() {
				cut.Add(1)
			}
		}()
	}
	wg.Wait()
	res.CutOff = int(cut.Load())
	return res, nil
}

func (f Fanout) dial(ctx context.Context, stalled bool) (net.Conn, error) {
	if !stalled || f.StalledBuffer <= 0 && f.StalledMSS <= 0 {
		return f.Dialer.Dial(ctx, f.Addr)
	}
	// Both must be set before connecting: they shape the window and the
	// MSS announced in the SYN.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var errs [2]error
		err := rc.Control(func(fd uintptr) {
			if f.StalledBuffer > 0 {
				errs[0] = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, f.StalledBuffer)
			}
			if f.StalledMSS > 0 {
				errs[1] = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, f.StalledMSS)
			}
		})
		return cmpErr(err, cmpErr(errs[0], errs[1]))
	}}
	c, err := d.DialContext(ctx, "tcp", f.Addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", f.Addr, err)
	}
	return c, nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

var privmsg = []byte(" PRIVMSG ")

// read counts the channel messages that arrive and samples their latency
// from the send time they carry, until stop.
func (m *member) read(stop *atomic.Bool, every int, now func() int64) {
	for !stop.Load() {
		line, err := m.br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
		i := bytes.Index(line, privmsg)
		if i < 0 {
			continue
		}
		j := bytes.Index(line[i:], []byte(" :"))
		if j < 0 {
			continue
		}
		text := line[i+j+2:]
		sp := bytes.IndexByte(text, ' ')
		if sp < 0 {
			continue
		}
		n := m.got.Add(1)
		if n%int64(every) == 0 {
			if ts, ok := atoi(text[:sp]); ok {
				m.lat = append(m.lat, time.Duration(now()-ts))
			}
		}
	}
}

func atoi(b []byte) (int64, bool) {
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, len(b) > 0
}

// cutOff reports whether the server sent this stalled member "SendQ
// exceeded" and closed.
func (m *member) cutOff() bool {
	_ = m.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	b, _ := io.ReadAll(io.LimitReader(m.br, 64<<20))
	return bytes.Contains(b, []byte("SendQ exceeded"))
}
