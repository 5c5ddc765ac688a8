package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"socketlab/internal/result"
	"socketlab/services/chat/irc"
	"socketlab/services/internal/probe"
	"socketlab/services/internal/svctest"
)

func steps(t *testing.T, kv ...string) []Step {
	t.Helper()
	var out []Step
	for i := 0; i < len(kv); i += 2 {
		st, err := NewStep(kv[i], kv[i+1])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, st)
	}
	return out
}

// Two scripted clients talk: ada waits for bob's line and answers; bob
// waits until ada is there, speaks, and waits for the answer.
func TestScriptedClientsTalk(t *testing.T) {
	for _, fam := range svctest.Families {
		t.Run(fam, func(t *testing.T) {
			t.Parallel()
			addr := newServer(t, svctest.Loopbacks[fam], nil)
			o := probe.Options{Timeout: 5 * time.Second}
			ada := Script{Nick: "ada", User: "ada", Realname: "Ada", Join: []string{"#lab"}, Wait: 5 * time.Second, Quit: "bye",
				Steps: steps(t, StepExpect, "PRIVMSG #lab :hello ada", StepSay, "hi bob")}
			bob := Script{Nick: "bob", User: "bob", Realname: "Bob", Join: []string{"#lab"}, Wait: 5 * time.Second, Quit: "bye",
				Steps: steps(t, StepWaitFor, "ada", StepSay, "hello ada", StepExpectRE, `^:ada!\S+ PRIVMSG #lab :hi bob$`)}
			var wg sync.WaitGroup
			var ra *probe.Result
			wg.Go(func() { ra = Run(context.Background(), o, addr, ada, nil) })
			rb := Run(context.Background(), o, addr, bob, nil)
			wg.Wait()
			for _, r := range []*probe.Result{ra, rb} {
				if r.Error != "" {
					t.Fatalf("%s: %s\nreceived:\n%s", r.Details["nick"], r.Error, r.Received)
				}
				if r.Family != fam {
					t.Errorf("family %q, want %q", r.Family, fam)
				}
			}
			e := expectations(rb)
			if len(e) != 2 || !strings.HasSuffix(e[1]["line"].(string), " PRIVMSG #lab :hi bob") {
				t.Errorf("bob's expectations: %v", e)
			}
			msgs := rb.Details["messages"].([]map[string]any)
			if len(msgs) != 1 || msgs[0]["from"] != "ada" || msgs[0]["text"] != "hi bob" || msgs[0]["to"] != "#lab" {
				t.Errorf("bob's messages: %v", msgs)
			}
			if !strings.Contains(rb.Sent, "PRIVMSG #lab :hello ada\n") || !strings.HasPrefix(rb.Sent, "NICK bob\nUSER bob 0 * :Bob\n") {
				t.Errorf("bob sent %q", rb.Sent)
			}
		})
	}
}

func TestScriptedClientFailures(t *testing.T) {
	addr := newServer(t, "127.0.0.1", nil)
	register(t, addr, "taken")
	o := probe.Options{Timeout: 3 * time.Second}
	cases := []struct {
		name   string
		target string
		sc     Script
		kind   result.Kind
		err    string
	}{
		{"expectation not met", addr, Script{Nick: "ada", Join: []string{"#lab"}, Wait: 300 * time.Millisecond,
			Steps: steps(t, StepExpect, "never said")}, result.Timeout, `no a line containing "never said" within 300ms`},
		{"nick taken", addr, Script{Nick: "TAKEN"}, result.Protocol, "nick TAKEN is already in use (433)"},
		{"bad channel", addr, Script{Nick: "bea", Join: []string{"lab"}}, result.Protocol, "cannot join lab: :test.chat 403 bea lab :No such channel"},
		{"nobody listening", "127.0.0.1:1", Script{Nick: "cy"}, result.Refused, "connection refused by 127.0.0.1:1"},
		{"say without channel", addr, Script{Nick: "dee", Steps: steps(t, StepSay, "hi")}, result.Usage, "--say needs a channel (--join) or a --to target"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.sc.User, tc.sc.Realname, tc.sc.Quit = "u", "r", "bye"
			r := Run(context.Background(), o, tc.target, tc.sc, nil)
			if r.ErrorKind != tc.kind || r.Error != tc.err {
				t.Errorf("got %s %q, want %s %q", r.ErrorKind, r.Error, tc.kind, tc.err)
			}
		})
	}
}

// The sock chat command line: steps run in the order given, and --json
// prints one object.
func TestClientCommandJSON(t *testing.T) {
	addr := newServer(t, "::1", nil)
	watcher := register(t, addr, "watcher")
	watcher.send("JOIN #lab")
	watcher.expect(" 366 ")
	cmd := ClientCommand()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs([]string{addr, "--nick", "ada", "--send", "TOPIC #lab :scripted", "--expect", " TOPIC #lab :scripted",
		"--say", "one", "--sleep", "10ms", "--say", "two", "--json"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	var r probe.Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v: %q", err, out.String())
	}
	if !r.OK || r.Family != "IPv6" || r.Details["nick"] != "ada" {
		t.Errorf("result: %+v", r)
	}
	want := "NICK ada\nUSER ada 0 * :socketlab sock chat\nJOIN #lab\nTOPIC #lab :scripted\nPRIVMSG #lab :one\nPRIVMSG #lab :two\nQUIT :bye\n"
	if r.Sent != want {
		t.Errorf("sent %q, want %q", r.Sent, want)
	}
	watcher.expect(" PRIVMSG #lab :one")
	watcher.expect(" PRIVMSG #lab :two")

	cmd = ClientCommand()
	cmd.SetOut(io.Discard)
	cmd.SetErr(&errb)
	cmd.SetArgs([]string{addr, "--nick", "1bad"})
	if err := cmd.Execute(); err == nil || err.(probe.ExitError).Code != 2 {
		t.Errorf("bad nick: %v, want exit status 2", err)
	}
}

func waitOutput(t *testing.T, b *svctest.Buffer, want string) {
	t.Helper()
	if !b.Await(want, 5*time.Second) {
		t.Fatalf("output lacks %q:\n%s", want, b.String())
	}
}

// A person at the terminal: typed lines become messages, commands work,
// incoming messages show with time and sender.
func TestInteractive(t *testing.T) {
	addr := newServer(t, "127.0.0.1", nil)
	bob := register(t, addr, "bob")
	bob.send("JOIN #lab")
	bob.expect(" 366 ")
	register(t, addr, "ada") // taken: the client tries ada_
	in, typed := io.Pipe()
	defer typed.Close()
	var out, errb svctest.Buffer
	status := make(chan int, 1)
	go func() {
		sc := Script{Nick: "ada", User: "ada", Realname: "Ada", Join: []string{"#lab"}, Quit: "bye"}
		status <- Interactive(context.Background(), probe.Options{Timeout: 3 * time.Second}, addr, sc, false, in, &out, &errb)
	}()
	waitOutput(t, &out, "you are ada_ in #lab")
	io.WriteString(typed, "hello everyone\n/msg bob psst\n/me waves\n")
	if got := bob.expect("PRIVMSG #lab"); got != ":ada_!~ada@127.0.0.1 PRIVMSG #lab :hello everyone" {
		t.Errorf("bob got %q", got)
	}
	bob.expect(" PRIVMSG bob :psst")
	bob.expect(" PRIVMSG #lab :\x01ACTION waves\x01")
	bob.send("PRIVMSG #lab :hi ada_", "PRIVMSG ada_ :just you")
	waitOutput(t, &out, " #lab <bob> hi ada_")
	waitOutput(t, &out, " (private) <bob> just you")
	bob.send("JOIN #side")
	bob.expect(" 366 bob #side ")
	io.WriteString(typed, "/nick countess\n/part\n/join #side\n/quit see you\n")
	if got := bob.expect(" PART "); got != ":countess!~ada@127.0.0.1 PART #lab" {
		t.Errorf("bob got %q", got)
	}
	if got := bob.expect(" QUIT "); got != ":countess!~ada@127.0.0.1 QUIT :Quit: see you" {
		t.Errorf("bob got %q", got)
	}
	if s := <-status; s != 0 {
		t.Errorf("exit status %d; stderr %q", s, errb.String())
	}
	o := out.String()
	for _, want := range []string{"nick taken; trying ada_", "#lab <ada_> hello everyone", "(to bob) <ada_> psst",
		"#lab * ada_ waves", "--- ada_ is now known as countess", "#lab <-- countess left", "#side --> countess joined"} {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}
	// Every incoming line shown starts with the time.
	for _, l := range strings.Split(strings.TrimSpace(o), "\n") {
		if strings.Contains(l, "<bob>") {
			if _, err := time.Parse("15:04:05", l[:8]); err != nil {
				t.Errorf("line without time: %q", l)
			}
		}
	}
}

func TestFormat(t *testing.T) {
	at := time.Date(2024, 1, 2, 15, 4, 5, 0, time.UTC)
	cases := map[string]string{
		":bob!~b@h PRIVMSG #lab :hi":                   "15:04:05 #lab <bob> hi",
		":bob!~b@h PRIVMSG ada :hi":                    "15:04:05 (private) <bob> hi",
		":bob!~b@h NOTICE #lab :note":                  "15:04:05 #lab -bob- note",
		":bob!~b@h PRIVMSG #lab :\x01ACTION waves\x01": "15:04:05 #lab * bob waves",
		":bob!~b@h JOIN #lab":                          "15:04:05 #lab --> bob joined (bob!~b@h)",
		":bob!~b@h QUIT :Quit: bye":                    "15:04:05 <-- bob quit (Quit: bye)",
		":s 433 * ada :Nickname is already in use":     "15:04:05 ! ada Nickname is already in use (433)",
		":s 401 ada :No such nick/channel":             "15:04:05 ! No such nick/channel (401)",
		":s 254 ada 3 :channels formed":                "15:04:05 * 3 channels formed",
		"PING :x":                                      "",
	}
	for line, want := range cases {
		m, err := irc.Parse(line)
		if err != nil {
			t.Fatal(err)
		}
		if got := Format(at, &m, "ada"); got != want {
			t.Errorf("Format(%q) = %q, want %q", line, got, want)
		}
	}
}

// The binary: PORT from the environment, both families, the healthcheck,
// and SIGTERM telling a connected client before exiting 0.
func TestBinary(t *testing.T) {
	linePort := strconv.Itoa(svctest.FreePort(t))
	p := svctest.StartBinary(t, "socketlab/services/chat/cmd", "--server-name", "bin.chat", "--flood-rate", "0", "--line-port", linePort)
	port := strconv.Itoa(p.Port)
	v4 := dial(t, net.JoinHostPort("127.0.0.1", port))
	v6 := dial(t, net.JoinHostPort("::1", port))
	v4.nick, v6.nick = "four", "six"
	for _, c := range []*ircConn{v4, v6} {
		c.send("NICK "+c.nick, "USER x 0 * :x", "JOIN #lab")
		c.expect(" 366 " + c.nick + " #lab ")
	}
	v4.expect(":six!~x@0::1 JOIN #lab")
	v4.send("PRIVMSG #lab :over IPv4")
	if got := v6.expect("PRIVMSG"); got != ":four!~x@127.0.0.1 PRIVMSG #lab :over IPv4" {
		t.Errorf("got %q", got)
	}

	// The line mode, on its own port: a plain line is said in #lab.
	g := dialPlain(t, net.JoinHostPort("::1", linePort))
	g.c.Write([]byte("plain hello\n"))
	g.expect("<guest1> plain hello")
	if got := v4.expect("PRIVMSG"); got != ":guest1!~guest@0::1 PRIVMSG #lab :plain hello" {
		t.Errorf("got %q", got)
	}
	v6.expect(":guest1!~guest@0::1 PRIVMSG #lab :plain hello")

	p.Healthy(t, "--line-port", linePort)

	p.Terminate(t)
	for _, c := range []*ircConn{v4, v6} {
		if got := c.closed(); got != "ERROR :Server shutting down\r\n" {
			t.Errorf("%s got %q on SIGTERM", c.nick, got)
		}
	}
	g.expect("* the server closed the link: Server shutting down")
	p.Wait(t, 3*time.Second)
}

func TestBinaryRejectsBadFlags(t *testing.T) {
	svctest.CheckUsage(t, "socketlab/services/chat/cmd", []svctest.Usage{
		{Name: "channel without #", Args: []string{"--channel", "lab", "--port", "0"}, Code: 2, Want: `--channel "lab": a channel name starts with #`},
		{Name: "server name with a colon", Args: []string{"--server-name", "a:b", "--port", "0"}, Code: 2, Want: `--server-name "a:b": want a host-like name`},
		{Name: "sendq under a line", Args: []string{"--sendq", "100", "--port", "0"}, Code: 2, Want: "--sendq 100: must hold at least one line"},
	})
}
