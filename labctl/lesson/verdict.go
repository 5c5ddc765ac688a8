package lesson

import (
	"fmt"
	"strings"

	"socketlab/labctl/check"
)

// Verdict is what a suite found of one program.
type Verdict struct {
	// Program is the program as it was named (its path, or --image's image).
	Program string `json:"program"`
	// Lesson is the suite's name.
	Lesson string `json:"lesson"`
	// Listens says where a server program listened, as its sockets showed.
	Listens string `json:"listens,omitempty"`
	// Ended says that a server program ended during the checks, and what
	// it printed last.
	Ended string `json:"ended,omitempty"`
	// Error says why the program could not be checked at all (it did not
	// start, never listened, the lab did not come up); no check ran then.
	Error string `json:"error,omitempty"`
	// Passed and Total count the checks.
	Passed int `json:"passed"`
	Total  int `json:"total"`
	// Seconds is the whole verdict's time: lab up, checks, lab down.
	Seconds float64 `json:"seconds"`
	// Checks are the suite's checks in order.
	Checks []*Check `json:"checks"`
}

// Check is one named check of a verdict.
type Check struct {
	Name    string  `json:"name"`
	Passed  bool    `json:"passed"`
	Seconds float64 `json:"seconds"`
	// Did is the command the check ran.
	Did string `json:"did"`
	// Saw is what the check saw: what its probe (or the program) printed,
	// and for a failure what was expected and what came back, wire included.
	Saw string `json:"saw"`
	// Cause and Fix explain a failure in a learner's words (empty when it
	// passed, or when the suite has no hint that fits).
	Cause string `json:"cause,omitempty"`
	Fix   string `json:"fix,omitempty"`
	// Packets are the check's node's packets during the check, when the
	// run was captured.
	Packets []string `json:"packets,omitempty"`
}

// OK reports whether the program ran and passed every check.
func (v *Verdict) OK() bool { return v.Error == "" && v.Passed == v.Total }

// Judge turns a run of the suite into a verdict on program, each failed
// check explained by the suite's hints. It also puts the cause and fix in
// each failed result's Message, so that the JUnit and HTML reports carry
// them.
//
// listens is where a server program listened (Describe); hints may name it.
func (s *Suite) Judge(program, listens string, rep *check.Report) *Verdict {
	v := &Verdict{Program: program, Lesson: s.Name, Listens: listens, Error: rep.Setup, Seconds: rep.Seconds}
	for _, r := range rep.Results {
		if r.Action != "" {
			// A step that sets the lab up for the next check (a fault):
			// not a check of its own, but the check after it means
			// nothing when it failed.
			if r.Outcome != check.Pass && v.Error == "" {
				v.Error = fmt.Sprintf("%s: %s", r.Name, r.Message)
			}
			continue
		}
		c := &Check{Name: r.Name, Passed: r.Outcome == check.Pass, Seconds: r.Seconds, Did: r.Command, Packets: r.Packets}
		saw := strings.Join(nonEmpty(r.Output, lastLines(r.Stderr, 4)), "\n")
		if !c.Passed {
			saw = strings.Join(nonEmpty(saw, exitOf(r.Got), wireOf(r.Got), r.Message), "\n")
			text := strings.Join([]string{listens, r.Output, r.Stderr, r.Got, r.Message}, "\n")
			if h := s.Explain(r.Name, text); h != nil {
				c.Cause, c.Fix = h.Cause, h.Fix
				r.Message = strings.Join(nonEmpty(r.Message, "likely cause: "+h.Cause, "fix: "+h.Fix), "\n")
			}
		}
		c.Saw = saw
		if c.Passed {
			v.Passed++
		}
		v.Checks = append(v.Checks, c)
	}
	v.Total = len(s.Checks)
	return v
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// lastLines is the last n lines of s: the end of a traceback.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append([]string{"…"}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// exitOf is how an exec'd command ended, from a result's Got ("exit 1,
// stdout ..."): "exit 1", or, for the bound's timeout (124), that it was
// stopped.
func exitOf(got string) string {
	e, _, ok := strings.Cut(got, ",")
	switch {
	case !ok || !strings.HasPrefix(e, "exit "):
		return got
	case e == "exit 0":
		return ""
	case e == "exit 124":
		return "exit 124: still running at the bound, so it was stopped"
	}
	return e
}

// wireOf is the wire part of a result's Got, what the capture showed.
func wireOf(got string) string {
	if i := strings.Index(got, "; wire."); i >= 0 {
		return "on the wire: " + got[i+2:]
	}
	return ""
}
