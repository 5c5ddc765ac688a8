package responder

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"socketlab/internal/result"
	"socketlab/services/internal/probe"
	"socketlab/services/internal/svctest"
)

// defaults is the binary's configuration.
var defaults = Config{Reply: DefaultReply, Rate: 10, Burst: 20, MaxSources: 1000}

func serve(t testing.TB, cfg Config, host string) string {
	t.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svctest.ServeUDP(t, s, host)
}

// ask sends msg from c and returns the reply, or an error after wait.
func ask(c net.Conn, msg []byte, wait time.Duration) ([]byte, error) {
	if _, err := c.Write(msg); err != nil {
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 70000)
	n, err := c.Read(buf)
	return buf[:n], err
}

func TestReplyNamesSourceAndFamily(t *testing.T) {
	for _, fam := range svctest.Families {
		t.Run(fam, func(t *testing.T) {
			t.Parallel()
			c, err := net.Dial("udp", serve(t, defaults, svctest.Loopbacks[fam]))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got, err := ask(c, []byte("hello, with enough bytes for the whole line"), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("you are %s over %s; you sent 43 bytes\n", c.LocalAddr(), fam)
			if string(got) != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

// Whatever the request — empty, one byte, a full datagram — the reply is the
// whole line, ending in its newline, and never over 512 bytes.
func TestReplyIsAWholeLineOfAtMost512Bytes(t *testing.T) {
	long := Config{Reply: strings.Repeat("x", 400) + " {addr} {family} {bytes}", Rate: 0}
	for _, fam := range svctest.Families {
		for name, cfg := range map[string]Config{"default": defaults, "long template": long} {
			t.Run(fam+"/"+name, func(t *testing.T) {
				t.Parallel()
				c, err := net.Dial("udp", serve(t, cfg, svctest.Loopbacks[fam]))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				for _, n := range []int{0, 1, 2, 10, 34, 511, 513, 1500, 65000} {
					got, err := ask(c, bytes.Repeat([]byte{'a'}, n), 5*time.Second)
					if err != nil {
						t.Fatalf("request of %d bytes: %v", n, err)
					}
					tail := fmt.Sprintf(" %s %d\n", fam, n)
					if name == "default" {
						tail = fmt.Sprintf(" over %s; you sent %d bytes\n", fam, n)
					}
					if len(got) > MaxReply || !bytes.HasSuffix(got, []byte(tail)) || bytes.Count(got, []byte("\n")) != 1 {
						t.Errorf("request of %d bytes: reply of %d bytes: %q; want one whole line ending in %q, at most %d bytes", n, len(got), got, tail, MaxReply)
					}
				}
			})
		}
	}
}

// A short request gets the whole line too: what `echo x | nc -u responder
// 9999` and a learner's 2-byte datagram see.
func TestShortRequestGetsTheWholeLine(t *testing.T) {
	c, err := net.Dial("udp", serve(t, defaults, "127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := ask(c, []byte("x\n"), 5*time.Second)
	want := fmt.Sprintf("you are %s over IPv4; you sent 2 bytes\n", c.LocalAddr())
	if err != nil || string(got) != want {
		t.Errorf("reply to \"x\\n\": %q, %v; want %q", got, err, want)
	}
}

func TestTemplates(t *testing.T) {
	src := netip.MustParseAddrPort("[fe80::1:2:3:4%eth0]:65535")
	cases := []struct {
		tmpl, want, err string
	}{
		{DefaultReply, "you are [fe80::1:2:3:4%eth0]:65535 over IPv6; you sent 42 bytes\n", ""},
		{"{host}|{port}|{family}|{bytes}|{other}|{", "fe80::1:2:3:4%eth0|65535|IPv6|42|{other}|{\n", ""},
		{"", "\n", ""},
		{"two\nlines", "", "reply template must be one line"},
		{strings.Repeat("x", 450) + "{addr}", "", "reply template can fill in to 514 bytes, over the 512-byte limit"},
		{strings.Repeat("{addr}", 9), "", "over the 512-byte limit"},
	}
	for _, c := range cases {
		parts, err := parse(c.tmpl)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%.30q: error %v, want %q", c.tmpl, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%.30q: %v", c.tmpl, err)
			continue
		}
		if got := string(render(nil, parts, src, 42)); got != c.want {
			t.Errorf("%.30q: got %q, want %q", c.tmpl, got, c.want)
		}
	}
	// The widest source address of all still fits the widest template allowed.
	parts, err := parse(strings.Repeat("x", MaxReply-1-fieldWidth["{addr}"]) + "{addr}")
	if err != nil {
		t.Fatal(err)
	}
	wide := netip.MustParseAddrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%abcdefghijklmno]:65535")
	if n := len(render(nil, parts, wide, 65535)); n > MaxReply {
		t.Errorf("widest reply: %d bytes", n)
	}
}

func TestLimiter(t *testing.T) {
	l, err := NewLimiter(1, 2, 100) // 2 at once, then one a second
	if err != nil {
		t.Fatal(err)
	}
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at   time.Duration
		src  netip.Addr
		want bool
	}{
		{0, a, true}, {0, a, true}, {0, a, false}, // the burst, then nothing
		{0, b, true},                                    // another source has its own bucket
		{500 * time.Millisecond, a, false},              // half a token earned
		{time.Second, a, true}, {time.Second, a, false}, // one token a second
		{time.Hour, a, true}, {time.Hour, a, true}, {time.Hour, a, false}, // refills up to the burst only
	}
	for i, s := range steps {
		if got := l.Allow(s.src, t0.Add(s.at)); got != s.want {
			t.Errorf("step %d (%v, %s): allow %v, want %v", i, s.at, s.src, got, s.want)
		}
	}

	// The table stays bounded, and a busy source is remembered while
	// strangers come and go.
	busy := netip.MustParseAddr("198.51.100.7")
	for range 2 {
		l.Allow(busy, t0)
	}
	for i := range 10000 {
		l.Allow(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), t0)
		if i%40 == 0 && l.Allow(busy, t0) {
			t.Fatalf("after %d strangers, the exhausted source got a reply", i)
		}
		if n := l.Len(); n > 100 {
			t.Fatalf("after %d sources the table holds %d, over its bound of 100", i+1, n)
		}
	}

	if _, err := NewLimiter(1, 0, 100); err == nil {
		t.Error("burst 0 accepted")
	}
	none, _ := NewLimiter(0, 0, 0)
	for range 1000 {
		if !none.Allow(a, t0) {
			t.Fatal("rate 0 limited")
		}
	}
}

// Beyond its burst a source gets silence; another source still gets replies.
func TestRateLimitDropsBeyondBurst(t *testing.T) {
	addr := serve(t, Config{Reply: DefaultReply, Rate: 0.001, Burst: 3, MaxSources: 100}, "127.0.0.1")
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	replies := 0
	for i := range 6 {
		if _, err := ask(c, []byte("hi"), 300*time.Millisecond); err == nil {
			replies++
		} else if i < 3 {
			t.Fatalf("datagram %d within the burst: %v", i+1, err)
		}
	}
	if replies != 3 {
		t.Errorf("%d replies to 6 datagrams, want the burst of 3", replies)
	}
	other, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if got, err := ask(other, []byte("hi, from another source"), 5*time.Second); err != nil || !strings.HasPrefix(string(got), "you are 127.0.0.2:") {
		t.Errorf("another source: %q %v", got, err)
	}
}

// Datagrams from echo, daytime, chargen and time get no reply: two such
// servers would otherwise answer each other forever.
func TestDropsDatagramsFromLoopPorts(t *testing.T) {
	svctest.CheckLoopPortsDropped(t, serve(t, defaults, "127.0.0.1"))
}

// The binary is UDP only: served on PORT from the environment over both
// families, its healthcheck works, and SIGTERM ends it with status 0 at once.
func TestBinaryServesChecksAndStops(t *testing.T) {
	p := svctest.StartBinary(t, "socketlab/services/responder/cmd")
	if !strings.Contains(p.Listening, `"network":"udp"`) {
		t.Fatalf("first log line: %q", p.Listening)
	}
	port := p.Port

	for _, fam := range svctest.Families {
		c, err := net.Dial("udp", net.JoinHostPort(svctest.Loopbacks[fam], strconv.Itoa(port)))
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte("hi, from the binary's test, 40 bytes...")
		got, err := ask(c, msg, 5*time.Second)
		c.Close()
		if want := fmt.Sprintf("you are %s over %s; you sent %d bytes\n", c.LocalAddr(), fam, len(msg)); string(got) != want || err != nil {
			t.Errorf("%s: got %q %v, want %q", fam, got, err, want)
		}
		if l, ok := p.NextLog(5 * time.Second); !ok {
			t.Errorf("%s: no log line", fam)
		} else if !strings.Contains(l, `"msg":"datagram"`) || !strings.Contains(l, `"family":"`+fam+`"`) || !strings.Contains(l, `"reason":"replied"`) {
			t.Errorf("log line: %s", l)
		}
	}
	if _, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
		t.Error("a TCP connection was accepted: the responder is UDP only")
	}

	if got, want := p.Healthy(t), fmt.Sprintf("healthy: responder answers on 127.0.0.1:%d\n", port); got != want {
		t.Errorf("healthcheck: %q, want %q", got, want)
	}
	p.Stop(t, time.Second)
	p.Unhealthy(t)
}

func TestBinaryUsage(t *testing.T) {
	svctest.CheckUsage(t, "socketlab/services/responder/cmd", []svctest.Usage{
		{Name: "help names the flags", Args: []string{"--help"}, Code: 0, Want: "--max-sources"},
		{Name: "two-line reply", Args: []string{"--port", "0", "--reply", "a\nb"}, Code: 2, Want: "reply template must be one line"},
		{Name: "reply too long", Args: []string{"--port", "0", "--reply", strings.Repeat("y", 600)}, Code: 2, Want: "over the 512-byte limit"},
		{Name: "burst 0", Args: []string{"--port", "0", "--burst", "0"}, Code: 2, Want: "rate limit burst 0: want 1 or more"},
	})
}

var opts = probe.Options{Timeout: 5 * time.Second}

func TestClientAsk(t *testing.T) {
	for _, fam := range svctest.Families {
		t.Run(fam, func(t *testing.T) {
			t.Parallel()
			addr := serve(t, defaults, svctest.Loopbacks[fam])
			r := Ask(context.Background(), opts, addr, "hello there", 1)
			if !r.OK && r.Error != "" {
				t.Fatal(r.Error)
			}
			// The datagram is the message as it is: 11 bytes.
			want := fmt.Sprintf("you are %s over %s; you sent 11 bytes\n", r.Local, fam)
			if r.Received != want || r.Family != fam || r.BytesSent != 11 || r.BytesReceived != int64(len(want)) {
				t.Errorf("result: %+v", r)
			}
			if r.Details["seen_as"] != r.Local || r.Details["seen_family"] != fam || r.Details["nat"] != false {
				t.Errorf("details: %v", r.Details)
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	free := "127.0.0.1:" + strconv.Itoa(svctest.FreePort(t))
	silent := svctest.SilentUDP(t, "::1")
	loud, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { loud.Close() })
	go func() { // a responder that amplifies
		buf := make([]byte, 100)
		for {
			_, src, err := loud.ReadFrom(buf)
			if err != nil {
				return
			}
			loud.WriteTo(bytes.Repeat([]byte("!"), 600), src)
		}
	}()
	cases := []struct {
		name, target string
		o            probe.Options
		kind         result.Kind
		msg          string
	}{
		{"refused", free, opts, result.Refused, "connection refused by " + free + " (ICMP port unreachable: nothing listens there)"},
		{"silence", silent, probe.Options{Timeout: 300 * time.Millisecond}, result.Timeout, "no reply from " + silent + " within 300ms"},
		{"oversize reply", loud.LocalAddr().String(), opts, result.Protocol, loud.LocalAddr().String() + " replied with 600 bytes, over the 512-byte limit"},
		{"-4 with a v6 address", silent, probe.Options{V4: true, Timeout: time.Second}, result.Usage, "::1 is an IPv6 address but IPv4 was asked for"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := c.o.Context(context.Background())
			defer cancel()
			r := Ask(ctx, c.o, c.target, "hi", 1)
			if r.ErrorKind != c.kind || r.Error != c.msg {
				t.Errorf("got kind %q error %q\nwant kind %q error %q", r.ErrorKind, r.Error, c.kind, c.msg)
			}
		})
	}
}

// runCommand runs "sock responder args..." in process and returns stdout,
// stderr and the exit status.
func runCommand(args ...string) (string, string, int) {
	return svctest.RunCommand(ClientCommand(), "", args...)
}

func TestClientCommand(t *testing.T) {
	addr := serve(t, defaults, "::1")
	silent := svctest.SilentUDP(t, "127.0.0.1")

	out, errs, code := runCommand(addr)
	if code != 0 || !strings.HasPrefix(out, "you are [::1]:") || !strings.HasSuffix(out, " over IPv6; you sent 5 bytes\n") || errs != "" {
		t.Errorf("default message: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	out, _, code = runCommand("--json", addr, "two", "words")
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	d, _ := r["details"].(map[string]any)
	if code != 0 || r["ok"] != true || r["sent"] != "two words" || r["family"] != "IPv6" || r["network"] != "udp" ||
		d["seen_as"] != r["local"] || d["nat"] != false {
		t.Errorf("json: exit %d %s", code, out)
	}

	out, errs, code = runCommand("--timeout", "200ms", silent)
	if want := "responder: no reply from " + silent + " within 200ms\n"; code != 1 || out != "" || errs != want {
		t.Errorf("silence: exit %d, stdout %q, stderr %q; want 1 and %q", code, out, errs, want)
	}

	out, errs, code = runCommand("--json", "-4", "::1")
	json.Unmarshal([]byte(out), &r)
	if code != 2 || errs != "" || r["error_kind"] != "usage" {
		t.Errorf("usage: exit %d, stderr %q, json %s", code, errs, out)
	}
	if _, _, code := runCommand(); code != 2 {
		t.Errorf("no target: exit %d, want 2", code)
	}
}

// BenchmarkReply is one socket asking and waiting for each reply, with no
// rate limit.
func BenchmarkReply(b *testing.B) {
	addr := serve(b, Config{Reply: DefaultReply}, "127.0.0.1")
	c, err := net.Dial("udp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg, buf := bytes.Repeat([]byte("x"), 64), make([]byte, 600)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// Allow is on every datagram's path.
func BenchmarkLimiterAllow(b *testing.B) {
	l, _ := NewLimiter(1e9, 1000, 100000)
	addrs := make([]netip.Addr, 1024)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
	}
	now := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Allow(addrs[i%len(addrs)], now)
		i++
	}
}

// A flood of rate-limited datagrams is one log line with a count, not a
// line each.
func TestDroppedDatagramsAreCountedNotLogged(t *testing.T) {
	s, err := NewServer(Config{Reply: DefaultReply, Rate: 0.001, Burst: 3, MaxSources: 100})
	if err != nil {
		t.Fatal(err)
	}
	logs := &svctest.Buffer{}
	s.Log = slog.New(slog.NewJSONHandler(logs, nil))
	s.DropLogInterval = 200 * time.Millisecond
	c, err := net.Dial("udp", svctest.ServeUDP(t, s, "127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const sent = 500
	msg := []byte("x")
	for range sent {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	if !logs.Await(`"msg":"datagrams dropped"`, 5*time.Second) {
		t.Fatalf("no drop count logged within 5s; log:\n%.2000s", logs.String())
	}
	time.Sleep(300 * time.Millisecond) // a second interval, for the stragglers
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	replied, dropped := 0, 0
	for _, l := range lines {
		var e struct {
			Msg     string
			Reasons map[string]int
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		switch e.Msg {
		case "datagram":
			replied++
		case "datagrams dropped":
			dropped += e.Reasons["rate limited"]
		}
	}
	if replied != 3 || len(lines) > 3+3 {
		t.Errorf("%d log lines (%d replies) for %d datagrams and a burst of 3; want 3 replies and a count or two:\n%.2000s", len(lines), replied, sent, logs.String())
	}
	// The socket may drop some of the flood before the server reads it.
	if dropped < sent/2 || replied+dropped > sent {
		t.Errorf("%d counted as rate limited of %d sent", dropped, sent)
	}
}

// With --tries, a lost request costs a share of the timeout, not all of it:
// against a server that ignores the first datagram, three tries in 3 s get
// the reply on the second try; one try times out.
func TestClientTriesAgainAfterSilence(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() { // the first datagram from each source is "lost"
		buf := make([]byte, 100)
		seen := map[string]bool{}
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if seen[from.String()] {
				pc.WriteTo(fmt.Appendf(nil, "you sent %d bytes\n", n), from)
			}
			seen[from.String()] = true
		}
	}()
	addr := pc.LocalAddr().String()
	out, errs, code := runCommand("--json", "-t", "3s", "--tries", "3", addr, "hi")
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 {
		t.Fatalf("--tries 3: exit %d, %v, stdout %q, stderr %q", code, err, out, errs)
	}
	if r["received"] != "you sent 2 bytes\n" || r["details"].(map[string]any)["tries"] != 2.0 {
		t.Errorf("--tries 3: %v; want the reply on the second try", r)
	}
	if total := r["timings_ms"].(map[string]any)["total"].(float64); total < 900 || total > 2500 {
		t.Errorf("--tries 3 in 3s: took %.0f ms; want about one try's second", total)
	}
	_, errs, code = runCommand("-t", "1s", "--tries", "1", addr, "hi")
	if code != 1 || !strings.Contains(errs, "no reply from "+addr+" within 1s") {
		t.Errorf("one try against a server that ignores it: exit %d, stderr %q; want 1 and a timeout", code, errs)
	}
	_, errs, code = runCommand("--tries", "0", addr)
	if code != 2 || !strings.Contains(errs, "--tries 0: want 1 or more") {
		t.Errorf("--tries 0: exit %d, stderr %q; want 2 and the reason", code, errs)
	}
}
