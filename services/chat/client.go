package chat

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"socketlab/internal/result"
	"socketlab/services/chat/irc"
	"socketlab/services/internal/probe"
)

// Step kinds of a Script.
const (
	StepSay      = "say"       // PRIVMSG the Script's target
	StepSend     = "send"      // a raw IRC line
	StepExpect   = "expect"    // wait for a line containing Arg
	StepExpectRE = "expect-re" // wait for a line matching Arg
	StepWaitFor  = "wait-for"  // wait until nick Arg is in one of our channels
	StepSleep    = "sleep"     // pause for Arg (a duration)
)

// Step is one action of a Script.
type Step struct {
	Kind string
	Arg  string
	re   *regexp.Regexp
	d    time.Duration
}

// Script is a scripted chat session: register as Nick, join the channels,
// run Steps in order, stay Linger, then quit.
type Script struct {
	Nick, User, Realname string
	Join                 []string
	// To is where Say steps go; default the first channel in Join.
	To    string
	Steps []Step
	// Wait bounds each Expect, ExpectRE and WaitFor step.
	Wait   time.Duration
	Linger time.Duration
	Quit   string
}

// NewStep checks and returns a step of kind with its argument.
func NewStep(kind, arg string) (Step, error) {
	st := Step{Kind: kind, Arg: arg}
	var err error
	switch kind {
	case StepExpectRE:
		st.re, err = regexp.Compile(arg)
	case StepSleep:
		st.d, err = time.ParseDuration(arg)
	case StepWaitFor:
		if !irc.ValidNick(arg) {
			err = fmt.Errorf("%q is not a nickname", arg)
		}
	case StepSend:
		if strings.ContainsAny(arg, "\r\n") {
			err = fmt.Errorf("one line only")
		}
	case StepSay, StepExpect:
	default:
		err = fmt.Errorf("unknown step %q", kind)
	}
	return st, err
}

// stepFlag is a repeatable flag that appends its kind of step to one shared
// list, so that --say, --expect... run in the order they were given.
type stepFlag struct {
	kind, typ string
	steps     *[]Step
}

func (f *stepFlag) String() string { return "" }
func (f *stepFlag) Type() string   { return f.typ }
func (f *stepFlag) Set(v string) error {
	st, err := NewStep(f.kind, v)
	if err != nil {
		return err
	}
	*f.steps = append(*f.steps, st)
	return nil
}

// ClientCommand is "sock chat": an interactive IRC client for a person, or
// with --say/--expect/--json a scripted one for scenario steps.
func ClientCommand() *cobra.Command {
	var (
		o       probe.Options
		sc      Script
		showRaw bool
	)
	cmd := &cobra.Command{
		Use:   "chat HOST[:PORT]",
		Short: "Chat over IRC (TCP 6667): interactively, or scripted for scenario steps",
		Long: "Connect to an IRC server (the lab's chat, or any), register a nick and join #lab.\n\n" +
			"Interactive (the default): type a line to say it in the current channel; incoming\n" +
			"messages are printed with their time and sender. Commands: /join #chan, /part,\n" +
			"/msg NICK text, /me, /nick NEW, /topic [text], /names, /who, /whois NICK, /list,\n" +
			"/raw LINE, /quit [message], /help. --show-raw prints every line on the wire.\n\n" +
			"Scripted (with --say, --expect, --expect-re, --wait-for, --send, --sleep or --json):\n" +
			"register, join, run those steps in the order given, then quit. --expect waits (up to\n" +
			"--wait) for a received line containing the text, after the line the previous --expect\n" +
			"matched; --wait-for waits until a nick is in one of our channels. Exit status 0 when\n" +
			"every step succeeded, 1 otherwise; --json prints one object with every line sent and\n" +
			"received, the expectations met and the messages seen.",
		Example: "  sock chat localhost                       # talk in #lab as $USER\n" +
			"  sock chat -6 chat --nick ada --join '#lab'\n" +
			"  sock chat chat --nick bob --wait-for ada --say 'hi ada' --expect 'PRIVMSG #lab :hello bob' --json\n" +
			"  sock chat chat --nick ada --expect 'PRIVMSG #lab :hi ada' --say 'hello bob' --wait 30s",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if sc.Nick == "" {
				sc.Nick = defaultNick()
			}
			if !irc.ValidNick(sc.Nick) {
				fmt.Fprintf(cmd.ErrOrStderr(), "chat: --nick %q is not a nickname: a letter or []\\`_^{|} first, then letters, digits, -; at most %d\n", sc.Nick, irc.NickLen)
				return probe.Exit(2)
			}
			if sc.User == "" {
				sc.User = strings.ToLower(sc.Nick)
			}
			if sc.Realname == "" {
				sc.Realname = "socketlab sock chat"
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if len(sc.Steps) > 0 || o.JSON {
				r := Run(ctx, o, args[0], sc, humanPrinter(cmd.OutOrStdout(), o.JSON))
				return probe.Exit(r.Report(o, cmd.OutOrStdout(), cmd.ErrOrStderr(), func(w io.Writer) {
					for _, e := range expectations(r) {
						fmt.Fprintf(w, "%s %q: met after %.0f ms\n", e["step"], e["expect"], e["at_ms"])
					}
				}))
			}
			return probe.Exit(Interactive(ctx, o, args[0], sc, showRaw, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
	o.Register(cmd.Flags())
	fs := cmd.Flags()
	fs.StringVarP(&sc.Nick, "nick", "n", "", "nickname (default: $USER, or guest)")
	fs.StringVar(&sc.User, "user", "", "user name sent in USER (default: the nick)")
	fs.StringVar(&sc.Realname, "realname", "", "real name sent in USER")
	fs.StringArrayVarP(&sc.Join, "join", "j", []string{"#lab"}, "channel to join; repeat for more; --join '' for none")
	fs.StringVar(&sc.To, "to", "", "where --say and typed lines go (default: the first channel joined)")
	fs.Var(&stepFlag{StepSay, "text", &sc.Steps}, "say", "step: say text to --to (repeatable)")
	fs.Var(&stepFlag{StepSend, "line", &sc.Steps}, "send", "step: send a raw IRC line, e.g. 'TOPIC #lab :hi' (repeatable)")
	fs.Var(&stepFlag{StepExpect, "text", &sc.Steps}, "expect", "step: wait for a received line containing text (repeatable)")
	fs.Var(&stepFlag{StepExpectRE, "regexp", &sc.Steps}, "expect-re", "step: wait for a received line matching a regular expression")
	fs.Var(&stepFlag{StepWaitFor, "nick", &sc.Steps}, "wait-for", "step: wait until nick is in one of our channels")
	fs.Var(&stepFlag{StepSleep, "duration", &sc.Steps}, "sleep", "step: pause")
	fs.DurationVar(&sc.Wait, "wait", 10*time.Second, "how long each --expect or --wait-for step may wait")
	fs.DurationVar(&sc.Linger, "linger", 0, "stay connected this long after the steps (scripted mode)")
	fs.StringVar(&sc.Quit, "quit", "bye", "quit message")
	fs.BoolVar(&showRaw, "show-raw", false, "interactive: also print every raw line, >> sent and << received")
	return cmd
}

func defaultNick() string {
	if u := os.Getenv("USER"); irc.ValidNick(u) && u != "root" {
		return u
	}
	return "guest"
}

// humanPrinter prints incoming lines for a person, unless the output is JSON.
func humanPrinter(w io.Writer, json bool) func(time.Time, string, *irc.Message) {
	if json {
		return nil
	}
	var mu sync.Mutex
	return func(at time.Time, line string, m *irc.Message) {
		if t := Format(at, m, ""); t != "" {
			mu.Lock()
			fmt.Fprintln(w, t)
			mu.Unlock()
		}
	}
}

// Run runs a scripted session against target and returns its result:
// Details has nick, channels, expectations (each with the line that met it
// and when) and messages (every PRIVMSG and NOTICE seen). onLine, if not
// nil, sees each line as it arrives. Connecting, registering and joining
// are bounded by o.Timeout, each waiting step by sc.Wait.
func Run(ctx context.Context, o probe.Options, target string, sc Script, onLine func(time.Time, string, *irc.Message)) *probe.Result {
	r := probe.New("chat", "tcp", target)
	r.Detail("nick", sc.Nick)
	sctx, cancel := o.Context(ctx)
	defer cancel()
	c, err := probe.Dial(sctx, o, r, "tcp", target, Port)
	if err != nil {
		r.Fail(err)
		return r
	}
	s := newSession(c, r, o)
	s.onLine = onLine
	s.start()
	defer func() {
		s.close()
		finishResult(r, s)
	}()
	stop := context.AfterFunc(sctx, func() { s.wake() })
	defer stop()
	if err := s.register(sctx, sc.Nick, sc.User, sc.Realname); err != nil {
		r.Fail(err)
		return r
	}
	var joined []string
	for _, ch := range sc.Join {
		if ch == "" {
			continue
		}
		if err := s.join(sctx, ch); err != nil {
			r.Fail(err)
			s.quit(sc.Quit)
			return r
		}
		joined = append(joined, ch)
	}
	r.Detail("channels", joined)
	to := sc.To
	if to == "" && len(joined) > 0 {
		to = joined[0]
	}
	if err := runSteps(ctx, s, sc, to); err != nil {
		r.Fail(err)
	} else if sc.Linger > 0 {
		sleep(ctx, sc.Linger)
	}
	s.quit(sc.Quit)
	return r
}

func runSteps(ctx context.Context, s *session, sc Script, to string) error {
	var met []map[string]any
	defer func() { s.r.Detail("expectations", met) }()
	cursor := 0
	for _, st := range sc.Steps {
		switch st.Kind {
		case StepSay:
			if to == "" {
				return probe.Errorf(result.Usage, "--say needs a channel (--join) or a --to target")
			}
			if err := s.send("PRIVMSG " + to + " :" + st.Arg); err != nil {
				return err
			}
		case StepSend:
			if err := s.send(st.Arg); err != nil {
				return err
			}
		case StepSleep:
			if err := sleep(ctx, st.d); err != nil {
				return err
			}
		case StepExpect, StepExpectRE, StepWaitFor:
			wctx, cancel := context.WithTimeout(ctx, sc.Wait)
			stop := context.AfterFunc(wctx, func() { s.wake() })
			from := cursor
			if st.Kind == StepWaitFor {
				from = 0
			}
			i, err := s.waitFor(wctx, from, func(l *received) bool {
				switch st.Kind {
				case StepExpect:
					return strings.Contains(l.line, st.Arg)
				case StepExpectRE:
					return st.re.MatchString(l.line)
				}
				_, ok := s.members[irc.Fold(st.Arg)] // s.mu is held
				return ok
			})
			stop()
			cancel()
			if err != nil {
				if ctx.Err() == nil && wctx.Err() != nil {
					what := map[string]string{StepExpect: "a line containing %q", StepExpectRE: "a line matching %q", StepWaitFor: "%s in our channels"}[st.Kind]
					return probe.Errorf(result.Timeout, "no "+what+" within %s", st.Arg, sc.Wait)
				}
				return err
			}
			l := s.line(i)
			if st.Kind != StepWaitFor {
				cursor = i + 1
			}
			met = append(met, map[string]any{"step": st.Kind, "expect": st.Arg, "line": l.line, "at_ms": msAfter(s.r, l.at)})
		}
	}
	return nil
}

func msAfter(r *probe.Result, at time.Time) float64 {
	return r.Since() - float64(time.Since(at).Microseconds())/1000
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// finishResult fills the result's text fields and the messages seen.
func finishResult(r *probe.Result, s *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var in strings.Builder
	msgs := []map[string]any{}
	for _, l := range s.lines {
		in.WriteString(l.line)
		in.WriteByte('\n')
		if l.msg.Command == "PRIVMSG" || l.msg.Command == "NOTICE" {
			msgs = append(msgs, map[string]any{
				"at_ms": msAfter(r, l.at), "command": l.msg.Command,
				"from": nickOf(l.msg.Prefix), "to": l.msg.Param(0), "text": l.msg.Param(1),
			})
		}
	}
	r.Received = in.String()
	s.wmu.Lock()
	if len(s.sent) > 0 {
		r.Sent = strings.Join(s.sent, "\n") + "\n"
	}
	s.wmu.Unlock()
	r.Detail("messages", msgs)
}

func expectations(r *probe.Result) []map[string]any {
	e, _ := r.Details["expectations"].([]map[string]any)
	return e
}

// Format renders an incoming message for a person: time, where, who, what.
// It returns "" for lines a person does not need (PING, end-of-list
// numerics). me is our nick, to tell private messages apart.
func Format(at time.Time, m *irc.Message, me string) string {
	t := at.Format("15:04:05") + " "
	nick := nickOf(m.Prefix)
	text := m.Param(len(m.Params) - 1)
	switch m.Command {
	case "PRIVMSG", "NOTICE":
		body := m.Param(1)
		action := strings.HasPrefix(body, "\x01ACTION ") && strings.HasSuffix(body, "\x01")
		if action {
			body = strings.TrimSuffix(strings.TrimPrefix(body, "\x01ACTION "), "\x01")
		}
		where := m.Param(0)
		if !irc.IsChannel(where) {
			where = "(private)"
		}
		switch {
		case m.Command == "NOTICE":
			return t + where + " -" + nick + "- " + body
		case action:
			return t + where + " * " + nick + " " + body
		}
		return t + where + " <" + nick + "> " + body
	case "JOIN":
		return t + m.Param(0) + " --> " + nick + " joined (" + m.Prefix + ")"
	case "PART":
		return t + m.Param(0) + " <-- " + nick + " left" + paren(m.Param(1))
	case "QUIT":
		return t + "<-- " + nick + " quit" + paren(m.Param(0))
	case "NICK":
		return t + "--- " + nick + " is now known as " + m.Param(0)
	case "TOPIC":
		return t + m.Param(0) + " --- " + nick + " set the topic: " + m.Param(1)
	case "ERROR":
		return t + "! server closed the link: " + m.Param(0)
	case "PING", "PONG", "CAP", "MODE", "004", "005", "333", "366", "315", "318", "329", "375", "376", "321", "323", "":
		return ""
	case "332":
		return t + m.Param(1) + " topic: " + text
	case "353":
		return t + m.Param(2) + " members: " + text
	case "352":
		return t + m.Param(1) + " " + m.Param(5) + " " + m.Param(2) + "@" + m.Param(3) + " " + text
	case "322":
		return t + m.Param(1) + " (" + m.Param(2) + " users) " + text
	case "311":
		return t + m.Param(1) + " is " + m.Param(2) + "@" + m.Param(3) + " (" + text + ")"
	case "319":
		return t + m.Param(1) + " is in " + text
	}
	if len(m.Command) == 3 && m.Command[0] >= '4' {
		args := ""
		if len(m.Params) > 2 {
			args = strings.Join(m.Params[1:len(m.Params)-1], " ")
		}
		return t + "! " + strings.TrimSpace(args+" "+text) + " (" + m.Command + ")"
	}
	if len(m.Command) == 3 && len(m.Params) > 1 {
		return t + "* " + strings.Join(m.Params[1:], " ")
	}
	return t + m.String()
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}
