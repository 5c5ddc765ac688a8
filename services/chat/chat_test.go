package chat

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"socketlab/services/internal/peer"
	"socketlab/services/internal/svctest"
)

func TestRegistration(t *testing.T) {
	for _, fam := range svctest.Families {
		t.Run(fam, func(t *testing.T) {
			t.Parallel()
			addr := newServer(t, svctest.Loopbacks[fam], nil)
			c := dial(t, addr)
			c.send("NICK ada", "USER ada 0 * :Ada Lovelace")
			host := hostOf(c.c.LocalAddr())
			want := []string{
				":test.chat 001 ada :Welcome to the socketlab IRC network, ada!~ada@" + host,
				":test.chat 002 ada :Your host is test.chat, running version " + Version,
			}
			for _, w := range want {
				if got := c.line(); got != w {
					t.Fatalf("got %q, want %q", got, w)
				}
			}
			c.expect(" 003 ada :This server was created ")
			c.expect(" 004 ada test.chat " + Version + " ")
			c.expect(" 005 ada CASEMAPPING=rfc1459 ")
			motd := c.expect(" 372 ada ")
			if want := "from " + c.c.LocalAddr().String() + " over " + fam; !strings.HasSuffix(motd, want) {
				t.Errorf("MOTD line %q does not end with %q", motd, want)
			}
			c.expect(" 376 ada :End of /MOTD command.")
		})
	}
}

func TestNoMOTD(t *testing.T) {
	addr := newServer(t, "127.0.0.1", func(s *Server) { s.MOTD = nil })
	c := dial(t, addr)
	c.send("NICK ada", "USER ada 0 * :Ada")
	c.expect(":test.chat 422 ada :MOTD File is missing")
}

// Stock clients open with CAP LS; registration waits for CAP END.
func TestCapNegotiation(t *testing.T) {
	addr := newServer(t, "::1", nil)
	c := dial(t, addr)
	c.send("CAP LS 302", "NICK ada", "USER ada 0 * :Ada")
	if got := c.line(); got != ":test.chat CAP * LS :" {
		t.Fatalf("got %q", got)
	}
	c.send("PING :before-end")
	if got := c.line(); got != ":test.chat PONG test.chat :before-end" {
		t.Fatalf("registered before CAP END? got %q", got)
	}
	c.send("CAP END")
	c.expect(" 001 ada ")
}

func TestNicks(t *testing.T) {
	addr := newServer(t, "127.0.0.1", nil)
	register(t, addr, "Ada")
	register(t, addr, "[bot]")
	cases := []struct{ nick, want string }{
		{"Ada", ":test.chat 433 * Ada :Nickname is already in use"},
		{"ada", ":test.chat 433 * ada :Nickname is already in use"},
		{"ADA", ":test.chat 433 * ADA :Nickname is already in use"},
		{"{BOT}", ":test.chat 433 * {BOT} :Nickname is already in use"}, // RFC 1459: {} are the lower case of []
		{"1ada", ":test.chat 432 * 1ada :Erroneous nickname"},
		{"a!b", ":test.chat 432 * a!b :Erroneous nickname"},
		{"", ":test.chat 431 * :No nickname given"},
	}
	for _, tc := range cases {
		t.Run(tc.want[12:15]+" "+tc.nick, func(t *testing.T) {
			t.Parallel()
			c := dial(t, addr)
			c.send(strings.TrimSpace("NICK " + tc.nick))
			if got := c.line(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNickChangeSeenByChannel(t *testing.T) {
	addr := newServer(t, "::1", nil)
	a, b := register(t, addr, "ada"), register(t, addr, "bob")
	a.send("JOIN #lab")
	a.expect(" 366 ")
	b.send("JOIN #lab")
	a.expect(":bob!")
	a.send("NICK Countess")
	want := ":ada!~ada@0::1 NICK :Countess"
	if got := a.expect(" NICK "); got != want {
		t.Errorf("ada got %q, want %q", got, want)
	}
	if got := b.expect(" NICK "); got != want {
		t.Errorf("bob got %q, want %q", got, want)
	}
	// The old nick is free again; case changes of one's own nick are fine.
	register(t, addr, "ada")
	a.send("NICK countess")
	a.expect(":Countess!~ada@0::1 NICK :countess")
}

func TestChannelMessage(t *testing.T) {
	for _, fam := range svctest.Families {
		t.Run(fam, func(t *testing.T) {
			t.Parallel()
			addr := newServer(t, svctest.Loopbacks[fam], nil)
			users := []*ircConn{register(t, addr, "ada"), register(t, addr, "bob"), register(t, addr, "cy")}
			for _, u := range users {
				u.send("JOIN #lab")
				u.expect(" 366 " + u.nick + " #lab :End of /NAMES list")
			}
			users[2].sync()
			users[0].send("PRIVMSG #lab :hello, lab")
			want := ":ada!~ada@" + hostOf(users[0].c.LocalAddr()) + " PRIVMSG #lab :hello, lab"
			for _, u := range users[1:] {
				if got := u.expect("PRIVMSG"); got != want {
					t.Errorf("%s got %q, want %q", u.nick, got, want)
				}
			}
			// The sender does not get its own message back.
			for _, l := range users[0].sync() {
				if strings.Contains(l, "PRIVMSG") {
					t.Errorf("sender got %q", l)
				}
			}
			// A NOTICE travels the same way; a private message reaches one.
			users[1].send("NOTICE #lab :note", "PRIVMSG ada :psst")
			users[2].expect(" NOTICE #lab :note")
			users[0].expect(" NOTICE #lab :note")
			if got := users[0].expect("PRIVMSG"); !strings.HasSuffix(got, " PRIVMSG ada :psst") {
				t.Errorf("private message: %q", got)
			}
			for _, l := range users[2].sync() {
				if strings.Contains(l, "psst") {
					t.Errorf("cy saw a private message: %q", l)
				}
			}
		})
	}
}

func TestPartAndQuitSeenByOthers(t *testing.T) {
	addr := newServer(t, "127.0.0.1", nil)
	a, b, c := register(t, addr, "ada"), register(t, addr, "bob"), register(t, addr, "cy")
	for _, u := range []*ircConn{a, b, c} {
		u.send("JOIN #lab,#side")
		u.expect(" 366 " + u.nick + " #side ")
	}
	b.send("PART #lab :lunch")
	for _, u := range []*ircConn{a, b, c} {
		if got := u.expect(" PART "); got != ":bob!~bob@127.0.0.1 PART #lab :lunch" {
			t.Errorf("%s got %q", u.nick, got)
		}
	}
	// bob is still in #side with both: each sees the QUIT once.
	b.send("QUIT :gone fishing")
	if got := b.closed(); got != "ERROR :Closing Link: 127.0.0.1 (Quit: gone fishing)\r\n" {
		t.Errorf("bob got %q before the close", got)
	}
	for _, u := range []*ircConn{a, c} {
		if got := u.expect(" QUIT "); got != ":bob!~bob@127.0.0.1 QUIT :Quit: gone fishing" {
			t.Errorf("%s got %q", u.nick, got)
		}
		for _, l := range u.sync() {
			if strings.Contains(l, "QUIT") {
				t.Errorf("%s got a second QUIT: %q", u.nick, l)
			}
		}
	}
	// A connection that just drops is announced too.
	c.c.Close()
	if got := a.expect(" QUIT "); got != ":cy!~cy@127.0.0.1 QUIT :Connection closed" {
		t.Errorf("ada got %q", got)
	}
}

func TestLineLength(t *testing.T) {
	addr := newServer(t, "::1", nil)
	a, b := register(t, addr, "ada"), register(t, addr, "bob")
	a.send("JOIN #lab")
	a.expect(" 366 ")
	b.send("JOIN #lab")
	b.expect(" 366 ")
	a.expect(":bob!")
	head := "PRIVMSG #lab :"
	// 512 bytes with CR-LF: the longest line allowed.
	text := strings.Repeat("x", 510-len(head))
	a.send(head + text)
	got := b.expect("PRIVMSG")
	if len(got)+2 > 512 || !strings.HasPrefix(got, ":ada!~ada@0::1 PRIVMSG #lab :xxx") {
		t.Errorf("relayed line (%d bytes): %q", len(got)+2, got)
	}
	if !strings.HasSuffix(got, "x") || len(got)+2 != 512 {
		t.Errorf("relayed line should be cut to exactly 512 bytes, is %d", len(got)+2)
	}
	// 513 bytes: 417, and the connection goes on.
	for _, n := range []int{511, 2000} {
		a.send(head + strings.Repeat("y", n-len(head)))
		if got := a.line(); got != ":test.chat 417 ada :Input line was too long" {
			t.Errorf("%d-byte line: got %q", n+2, got)
		}
		if l := a.sync(); len(l) != 0 {
			t.Errorf("after the long line: %q", l)
		}
	}
	for _, l := range b.sync() {
		if strings.Contains(l, "yyy") {
			t.Errorf("part of an overlong line was relayed: %q", l)
		}
	}
}

func TestErrorNumerics(t *testing.T) {
	addr := newServer(t, "127.0.0.1", nil)
	register(t, addr, "bob")
	pre := dial(t, addr)
	for _, line := range []string{"JOIN #lab", "PRIVMSG bob :hi", "FOO"} {
		pre.send(line)
		if got := pre.line(); got != ":test.chat 451 * :You have not registered" {
			t.Errorf("%s before registering: got %q", line, got)
		}
	}
	c := register(t, addr, "ada")
	cases := []struct{ send, want string }{
		{"FOO bar", "421 ada FOO :Unknown command"},
		{"JOIN", "461 ada JOIN :Not enough parameters"},
		{"USER a b c d", "462 ada :You may not reregister"},
		{"PRIVMSG", "411 ada :No recipient given (PRIVMSG)"},
		{"PRIVMSG #lab", "412 ada :No text to send"},
		{"PRIVMSG #lab :", "412 ada :No text to send"},
		{"PRIVMSG nobody :hi", "401 ada nobody :No such nick/channel"},
		{"PRIVMSG #nowhere :hi", "401 ada #nowhere :No such nick/channel"},
		{"PRIVMSG #lab :hi", "404 ada #lab :Cannot send to channel"},
		{"JOIN lab", "403 ada lab :No such channel"},
		{"PART #nowhere", "403 ada #nowhere :No such channel"},
		{"PART #lab", "442 ada #lab :You're not on that channel"},
		{"TOPIC #lab :mine", "442 ada #lab :You're not on that channel"},
		{"WHOIS", "431 ada :No nickname given"},
		{"WHOIS nobody", "401 ada nobody :No such nick/channel"},
		{"PING", "409 ada :No origin specified"},
		{"MODE bob +i", "502 ada :Can't change mode for other users"},
		{"MODE #lab +m", "482 ada #lab :You're not channel operator"},
		{"NOTICE nobody :hi", ""}, // a NOTICE never gets an error back
	}
	for _, tc := range cases {
		c.send(tc.send)
		got := c.sync()
		var want []string
		if tc.want != "" {
			want = []string{":test.chat " + tc.want}
		}
		if len(got) == 0 && len(want) == 0 {
			continue
		}
		if len(got) < 1 || len(want) < 1 || got[0] != want[0] {
			t.Errorf("%s: got %q, want %q", tc.send, got, want)
		}
	}
}

func TestPing(t *testing.T) {
	addr := newServer(t, "::1", nil)
	c := dial(t, addr)
	c.send("PING :are-you-there")
	if got := c.line(); got != ":test.chat PONG test.chat :are-you-there" {
		t.Errorf("got %q", got)
	}
}

// The server PINGs a silent client, keeps one that answers, and drops one
// that does not.
func TestServerPingAndTimeouts(t *testing.T) {
	addr := newServer(t, "127.0.0.1", func(s *Server) { s.PingInterval, s.PingTimeout = 200*time.Millisecond, time.Second })
	t.Run("answers", func(t *testing.T) {
		t.Parallel()
		c := register(t, addr, "ada")
		for range 2 {
			if got := c.line(); got != "PING :test.chat" {
				t.Fatalf("got %q, want a PING", got)
			}
			c.send("PONG :test.chat")
		}
	})
	t.Run("silent", func(t *testing.T) {
		t.Parallel()
		c := register(t, addr, "bob")
		c.expect("PING :test.chat")
		if got := c.closed(); got != "ERROR :Closing Link: 127.0.0.1 (Ping timeout: 1 seconds)\r\n" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("never registers", func(t *testing.T) {
		t.Parallel()
		addr := newServer(t, "127.0.0.1", func(s *Server) { s.RegisterTimeout = 300 * time.Millisecond })
		c := dial(t, addr)
		c.send("NICK cy")
		if got := c.closed(); got != "ERROR :Closing Link: 127.0.0.1 (Registration timeout)\r\n" {
			t.Errorf("got %q", got)
		}
	})
}

func TestTopicNamesWhoWhois(t *testing.T) {
	addr := newServer(t, "127.0.0.1", func(s *Server) { s.Topic = "be nice" })
	a, b := register(t, addr, "ada"), register(t, addr, "bob")
	a.send("JOIN #lab")
	if got := a.expect(" 332 "); got != ":test.chat 332 ada #lab :be nice" {
		t.Errorf("topic on join: %q", got)
	}
	if got := a.expect(" 353 "); got != ":test.chat 353 ada = #lab :ada" {
		t.Errorf("names on join: %q", got)
	}
	b.send("JOIN #lab")
	b.expect(" 366 ")
	b.send("TOPIC #lab :sockets all day")
	for _, u := range []*ircConn{a, b} {
		if got := u.expect(" TOPIC "); got != ":bob!~bob@127.0.0.1 TOPIC #lab :sockets all day" {
			t.Errorf("%s got %q", u.nick, got)
		}
	}
	a.sync()
	a.send("TOPIC #lab", "NAMES #lab", "WHO #lab", "WHOIS bob", "LIST", "AWAY :brb", "ISON bob nobody ada")
	got := a.sync()
	want := []string{
		"332 ada #lab :sockets all day",
		"333 ada #lab bob :",
		"353 ada = #lab :ada bob",
		"366 ada #lab :End of /NAMES list",
		"352 ada #lab ~ada 127.0.0.1 test.chat ada H :0 Test ada",
		"352 ada #lab ~bob 127.0.0.1 test.chat bob H :0 Test bob",
		"315 ada #lab :End of WHO list",
		"311 ada bob ~bob 127.0.0.1 * :Test bob",
		"378 ada bob :is connecting from " + b.c.LocalAddr().String() + " over IPv4",
		"319 ada bob :#lab",
		"312 ada bob test.chat :socketlab chat",
		"317 ada bob ",
		"318 ada bob :End of /WHOIS list",
		"321 ada Channel :Users  Name",
		"322 ada #lab 2 :sockets all day",
		"323 ada :End of /LIST",
		"306 ada :You have been marked as being away",
		"303 ada :bob ada",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], ":test.chat "+want[i]) {
			t.Errorf("line %d: got %q, want %q...", i, got[i], want[i])
		}
	}
	b.send("PRIVMSG ada :you there?")
	if got := b.expect(" 301 "); got != ":test.chat 301 bob ada :brb" {
		t.Errorf("away reply: %q", got)
	}
}

func TestNamesSplitAcrossLines(t *testing.T) {
	addr := newServer(t, "127.0.0.1", nil)
	var nicks []string
	for i := range 60 {
		n := fmt.Sprintf("user%02d_%s", i, strings.Repeat("x", 20))
		nicks = append(nicks, n)
		c := register(t, addr, n)
		c.send("JOIN #lab")
		c.expect(" 366 ")
	}
	c := register(t, addr, "ada")
	c.send("NAMES #lab")
	var listed []string
	for _, l := range c.sync() {
		if len(l)+2 > 512 {
			t.Errorf("%d-byte line", len(l)+2)
		}
		if _, names, ok := strings.Cut(l, " 353 ada = #lab :"); ok {
			listed = append(listed, strings.Fields(names)...)
		}
	}
	if !slices.Equal(listed, nicks) {
		t.Errorf("NAMES listed %d nicks, want %d", len(listed), len(nicks))
	}
}

func TestInvalidUTF8PassesThrough(t *testing.T) {
	addr := newServer(t, "::1", nil)
	a, b := register(t, addr, "ada"), register(t, addr, "bob")
	a.send("JOIN #caf\xc3\xa9")
	a.expect(" 366 ")
	b.send("JOIN #CAF\xc3\xa9") // only ASCII letters fold
	b.expect(" 366 ")
	a.sync()
	b.send("PRIVMSG #caf\xc3\xa9 :\xff\xfe caf\xc3 \x01ACTION\x01", "PRIVMSG #lab\xff :x")
	if got := a.expect("PRIVMSG"); got != ":bob!~bob@0::1 PRIVMSG #caf\xc3\xa9 :\xff\xfe caf\xc3 \x01ACTION\x01" {
		t.Errorf("got %q", got)
	}
	b.expect(" 401 bob #lab\xff ")
}

// A CR alone ends a line: nobody can slip a forged second line inside a
// message to others.
func TestNoLineInjection(t *testing.T) {
	addr := newServer(t, "127.0.0.1", nil)
	a, b := register(t, addr, "ada"), register(t, addr, "bob")
	a.send("JOIN #lab")
	a.expect(" 366 ")
	b.send("JOIN #lab")
	b.expect(" 366 ")
	a.expect(":bob!")
	b.send("PRIVMSG #lab :hi\r:test.chat NOTICE ada :forged")
	b.sync()
	got := a.sync()
	want := []string{":bob!~bob@127.0.0.1 PRIVMSG #lab :hi", ":bob!~bob@127.0.0.1 NOTICE ada :forged"}
	if !slices.Equal(got, want) {
		t.Errorf("ada got %q, want %q", got, want)
	}
}

func TestFloodIsThrottledNotDropped(t *testing.T) {
	addr := newServer(t, "127.0.0.1", func(s *Server) { s.FloodBurst, s.FloodRate = 5, 40 })
	c := dial(t, addr)
	const n = 25
	var lines []string
	for i := range n {
		lines = append(lines, fmt.Sprintf("PING :%d", i))
	}
	start := time.Now()
	c.send(lines...)
	for i := range n {
		if got, want := c.line(), fmt.Sprintf(":test.chat PONG test.chat :%d", i); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	// 5 at once, then 40 a second: the last 20 take at least half a second.
	if took := time.Since(start); took < 450*time.Millisecond {
		t.Errorf("%d lines answered in %v: not throttled", n, took)
	}
}

func TestPerIPLimit(t *testing.T) {
	for _, fam := range svctest.Families {
		t.Run(fam, func(t *testing.T) {
			t.Parallel()
			addr := newServer(t, svctest.Loopbacks[fam], func(s *Server) { s.MaxPerIP = 2 })
			a, _ := dial(t, addr), register(t, addr, "bob")
			a.send("PING :1")
			a.expect("PONG")
			third := dial(t, addr)
			host := hostOf(third.c.LocalAddr())
			if got := third.closed(); got != "ERROR :Closing Link: "+host+" (Too many connections from your address)\r\n" {
				t.Errorf("third connection got %q", got)
			}
			a.send("QUIT")
			a.closed()
			// The slot is free again (the server counts the close a moment later).
			deadline := time.Now().Add(5 * time.Second)
			for {
				c := dial(t, addr)
				c.send("PING :again")
				l, err := c.r.ReadString('\n')
				if err == nil && strings.Contains(l, "PONG") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no connection accepted after one closed: %q %v", l, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

func TestIPKeyCountsIPv6Per64(t *testing.T) {
	key := func(s string) netip.Prefix {
		return peer.Source(net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)))
	}
	if key("[2001:db8:1:2::1]:1") != key("[2001:db8:1:2:ffff::9]:2") {
		t.Error("two addresses of one /64 counted apart")
	}
	if key("[2001:db8:1:2::1]:1") == key("[2001:db8:1:3::1]:1") {
		t.Error("two /64s counted together")
	}
	if key("[::ffff:10.0.0.1]:1") != key("10.0.0.1:2") || key("10.0.0.1:1") == key("10.0.0.2:1") {
		t.Error("IPv4 addresses must count one by one, mapped or not")
	}
}

func TestShutdownTellsEveryClient(t *testing.T) {
	s := &Server{Name: "test.chat", Channels: []string{"#lab"}, MOTD: []string{"hi"}}
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	addr := ln.Addr().String()
	a, b := register(t, addr, "ada"), dial(t, addr)
	a.send("JOIN #lab")
	a.expect(" 366 ")
	b.send("PING :accepted")
	b.expect("PONG")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	for _, c := range []*ircConn{a, b} {
		if got := c.closed(); got != "ERROR :Server shutting down\r\n" {
			t.Errorf("got %q", got)
		}
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("still accepting after Shutdown")
	}
}

// Random bytes, NULs, bare CRs, overlong lines and half-commands do not
// upset the server: it still answers, and the others still chat.
func TestGarbageDoesNotUpsetTheServer(t *testing.T) {
	addr := newServer(t, "127.0.0.1", nil)
	a, b := register(t, addr, "ada"), register(t, addr, "bob")
	a.send("JOIN #lab")
	a.expect(" 366 ")
	b.send("JOIN #lab")
	b.expect(" 366 ")
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"PRIVMSG", "#lab", ":", " ", "\r", "\n", "\x00", "JOIN", "NICK", "\xff", "@", ",", "#", "0", "MODE", "TOPIC", "WHO", "PART"}
	for range 200 {
		var line strings.Builder
		for range rng.IntN(20) {
			line.WriteString(pieces[rng.IntN(len(pieces))])
		}
		if rng.IntN(20) == 0 {
			line.WriteString(strings.Repeat("z", 600))
		}
		line.WriteString("\r\n")
		b.c.Write([]byte(line.String()))
	}
	b.sync()
	a.sync()
	if _, err := b.c.Write([]byte("JOIN #lab\r\nPRIVMSG #lab :still here\r\n")); err != nil {
		t.Fatal(err)
	}
	a.expect(" PRIVMSG #lab :still here")
}
