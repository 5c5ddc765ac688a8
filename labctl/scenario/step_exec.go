package scenario

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ExecStep runs a command in a node and judges its output and exit
// status: exec: [python3, /lab/client.py].
type ExecStep struct {
	// Argv is the command, as a list: no shell splits it.
	Argv []string
	// Expect judges its standard output (Contains, Equals, Matches), its
	// standard error (Stderr), its exit status (Exit, 0 when nil), its time
	// (Within) and the wire; nil: it must exit 0.
	Expect *Expect
	// Background starts the command and goes on to the next step at once.
	Background bool
}

func decodeExec(s *stepDecoder) StepKind {
	k := s.k
	s.only("", "exec", "exec runs the command as given: remove it", map[string]bool{
		"target": k.Target != "", "family": k.Family != "", "args": len(k.Args) > 0,
		"network": k.Network != "", "for": k.For != 0, "impair": k.Impair != nil,
	})
	if e := k.Expect; e != nil {
		s.only("expect", "exec", "it judges a sock client: an exec step judges exit and the output", map[string]bool{
			"fail": e.Fail != "", "family": e.Family != "",
			"slower_than": e.SlowerThan != 0, "min_replies": e.MinReplies != 0, "max_replies": e.MaxReplies != 0,
		})
	}
	return &ExecStep{Argv: k.Exec, Expect: k.Expect, Background: k.Background}
}

func (x *ExecStep) keys(k *stepKeys) { k.Exec, k.Expect, k.Background = x.Argv, x.Expect, x.Background }

func (x *ExecStep) background() bool { return x.Background }

func (x *ExecStep) expected() *Expect { return x.Expect }

// Key is "exec".
func (x *ExecStep) Key() string { return "exec" }

// Describe is "node: command".
func (x *ExecStep) Describe(st *Step) string {
	return fmt.Sprintf("%s: %s", st.Node, QuoteArgv(x.Argv))
}

// Explain is "": the command says what the step did.
func (x *ExecStep) Explain(*Step) string { return "" }

// Cost is a moment (nothing in the background).
func (x *ExecStep) Cost(*Step) time.Duration {
	if x.Background {
		return 0
	}
	return 100 * time.Millisecond
}

func (x *ExecStep) validate(v *validator, p string, _ int, st *Step) {
	switch {
	case len(x.Argv) == 0:
		v.errorf(p+".exec", "write the command as a list: [python3, /lab/client.py]", "exec is empty")
	case strings.TrimSpace(x.Argv[0]) == "":
		v.errorf(p+".exec[0]", "the first item is the program", "the program's name is empty")
	case len(x.Argv) == 1 && strings.ContainsAny(x.Argv[0], " \t"):
		v.errorf(p+".exec", fmt.Sprintf("write a list, one item per argument: [%s]", strings.Join(strings.Fields(x.Argv[0]), ", ")),
			"exec is one item with spaces: no shell splits it")
	}
	if n := v.node(p, st, "add node: with the node the command runs in"); n != nil {
		v.running(p, n)
	}
	e := x.Expect
	if e == nil {
		return
	}
	ep := p + ".expect"
	v.textExpect(ep, e.Matches)
	if e.Stderr != nil {
		v.textExpect(ep+".stderr", e.Stderr.Matches)
	}
	if e.Exit != nil && (*e.Exit < 0 || *e.Exit > 255) {
		v.errorf(ep+".exit", "an exit status is from 0 to 255", "exit %d is not an exit status", *e.Exit)
	}
	v.within(ep, e, st.TimeoutOrDefault())
	v.wire(p, e.Wire, FamilyAny)
}

func (v *validator) textExpect(ep, re string) {
	if re == "" {
		return
	}
	if _, err := regexp.Compile(re); err != nil {
		v.errorf(ep+".matches", "the syntax is RE2, as in Go's regexp package",
			"invalid regular expression: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
}

// within checks a step's expect.within against its timeout.
func (v *validator) within(ep string, e *Expect, timeout time.Duration) {
	if e.Within < 0 || e.Within == 0 && v.s.written(ep+".within") && !v.bad(ep+".within") {
		v.errorf(ep+".within", "", "within %s is not positive", e.Within)
	}
	if time.Duration(e.Within) >= timeout {
		v.errorf(ep+".within", fmt.Sprintf("raise the step's timeout above %s", e.Within),
			"within %s is not shorter than the step's timeout, %s", e.Within, timeout)
	}
}

// QuoteArgv writes a command as a person would type it: arguments with
// spaces or quotes quoted.
func QuoteArgv(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$*?") {
			a = strconv.Quote(a)
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
