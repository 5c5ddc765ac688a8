package chat

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"socketlab/services/chat/irc"
	"socketlab/services/internal/probe"
)

const shellHelp = `commands:
  text            say text in the current channel
  /join #chan     join a channel; it becomes the current one
  /part [#chan]   leave the current (or named) channel
  /msg NICK text  private message (a #channel works too)
  /me text        an action: "* you text"
  /nick NEW       change your nick
  /topic [text]   show or set the current channel's topic
  /names /who /list, /whois NICK
  /raw LINE       send a raw IRC line (see the wire with --show-raw)
  /quit [message] leave (Ctrl-D and Ctrl-C too)`

// Interactive runs a chat session for a person: each line read from in is
// said in the current channel or is a /command; what arrives is printed to
// out with its time and sender. It returns the exit status: 0 when the
// person quit, 1 when the connection failed or the server closed it.
func Interactive(ctx context.Context, o probe.Options, target string, sc Script, showRaw bool, in io.Reader, out, errw io.Writer) int {
	r := probe.New("chat", "tcp", target)
	cctx, cancel := o.Context(ctx)
	defer cancel()
	c, err := probe.Dial(cctx, o, r, "tcp", target, Port)
	if err != nil {
		fmt.Fprintf(errw, "chat: %v\n", err)
		return 1
	}
	sh := &shell{out: out}
	s := newSession(c, r, o)
	sh.s = s
	if showRaw {
		s.showRaw = writerFunc(func(p []byte) { sh.print(strings.TrimRight(string(p), "\n")) })
	}
	s.onLine = func(at time.Time, line string, m *irc.Message) {
		if showRaw {
			sh.print("<< " + line)
		}
		if t := Format(at, m, ""); t != "" {
			sh.print(t)
		}
	}
	s.start()
	defer s.close()
	stop := context.AfterFunc(cctx, func() { s.wake() })
	defer stop()
	sh.print(fmt.Sprintf("connected to %s over %s from %s", r.Remote, r.Family, r.Local))
	nick := sc.Nick
	for try := 0; ; try++ {
		err := s.register(cctx, nick, sc.User, sc.Realname)
		if err == nil {
			break
		}
		if errors.Is(err, errNickInUse) && try < 3 {
			nick += "_"
			sh.print("nick taken; trying " + nick)
			continue
		}
		fmt.Fprintf(errw, "chat: %v\n", err)
		return 1
	}
	for _, ch := range sc.Join {
		if ch == "" {
			continue
		}
		if err := s.join(cctx, ch); err != nil {
			sh.print("! " + err.Error())
			continue
		}
		if sh.current == "" {
			sh.current = ch
		}
	}
	if sc.To != "" {
		sh.current = sc.To
	}
	if sh.current != "" {
		sh.print("you are " + s.me() + " in " + sh.current + ": type to talk, /help for commands")
	} else {
		sh.print("you are " + s.me() + ": /join #lab to talk, /help for commands")
	}

	lines := make(chan string)
	done := make(chan struct{})
	defer close(done)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-done:
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			s.quit("Ctrl-C")
			return 0
		case <-s.stopped:
			fmt.Fprintf(errw, "chat: %v\n", s.closedError(s.readErr))
			return 1
		case line, ok := <-lines:
			if !ok {
				s.quit(sc.Quit)
				return 0
			}
			if quit := sh.input(line); quit != "" {
				s.quit(quit)
				return 0
			}
		}
	}
}

type writerFunc func(p []byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

// shell turns what a person types into IRC lines.
type shell struct {
	s       *session
	out     io.Writer
	mu      sync.Mutex
	current string
}

func (sh *shell) print(line string) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	fmt.Fprintln(sh.out, line)
}

func (s *session) me() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nick
}

// input handles one typed line; it returns the quit message when the person
// wants to leave.
func (sh *shell) input(line string) (quit string) {
	line = strings.TrimRight(line, "\r")
	if strings.TrimSpace(line) == "" {
		return ""
	}
	now := time.Now().Format("15:04:05") + " "
	if !strings.HasPrefix(line, "/") || strings.HasPrefix(line, "//") {
		if strings.HasPrefix(line, "//") {
			line = line[1:]
		}
		if sh.current == "" {
			sh.print("! not in a channel: /join #lab first, or /msg NICK text")
			return ""
		}
		sh.send("PRIVMSG " + sh.current + " :" + line)
		sh.print(now + sh.current + " <" + sh.s.me() + "> " + line)
		return ""
	}
	cmd, rest, _ := strings.Cut(line[1:], " ")
	rest = strings.TrimSpace(rest)
	arg, text, _ := strings.Cut(rest, " ")
	switch strings.ToLower(cmd) {
	case "join", "j":
		if arg == "" {
			sh.print("! /join #channel")
			return ""
		}
		sh.send("JOIN " + arg)
		sh.current = arg
	case "part", "leave":
		ch, reason := sh.current, rest
		if irc.IsChannel(arg) {
			ch, reason = arg, text
		}
		if ch == "" {
			sh.print("! /part #channel")
			return ""
		}
		if reason != "" {
			sh.send("PART " + ch + " :" + reason)
		} else {
			sh.send("PART " + ch)
		}
		if irc.Fold(ch) == irc.Fold(sh.current) {
			sh.current = ""
		}
	case "msg", "query":
		if arg == "" || text == "" {
			sh.print("! /msg NICK text")
			return ""
		}
		sh.send("PRIVMSG " + arg + " :" + text)
		sh.print(now + "(to " + arg + ") <" + sh.s.me() + "> " + text)
	case "me":
		if sh.current == "" {
			sh.print("! not in a channel")
			return ""
		}
		sh.send("PRIVMSG " + sh.current + " :\x01ACTION " + rest + "\x01")
		sh.print(now + sh.current + " * " + sh.s.me() + " " + rest)
	case "nick":
		if arg == "" {
			sh.print("! /nick NEWNICK")
			return ""
		}
		sh.send("NICK " + arg)
	case "topic":
		switch {
		case sh.current == "":
			sh.print("! not in a channel")
		case rest == "":
			sh.send("TOPIC " + sh.current)
		default:
			sh.send("TOPIC " + sh.current + " :" + rest)
		}
	case "names", "who":
		if rest == "" {
			rest = sh.current
		}
		sh.send(strings.ToUpper(cmd) + " " + rest)
	case "whois":
		sh.send("WHOIS " + rest)
	case "list":
		sh.send("LIST")
	case "raw", "quote":
		if rest != "" {
			sh.send(rest)
		}
	case "quit", "exit":
		if rest == "" {
			rest = "bye"
		}
		return rest
	case "help", "?":
		sh.print(shellHelp)
	default:
		sh.print("! unknown command /" + cmd + "; /help lists them")
	}
	return ""
}

func (sh *shell) send(line string) {
	if err := sh.s.send(line); err != nil {
		sh.print("! " + err.Error())
	}
}
