// Package check runs a scenario's steps against a running lab and judges
// them: a run step runs `sock` inside a node with --json and compares what
// came back with the step's expectations; an exec step runs a command and
// judges its output and exit status; an action step (a scenario.Action:
// stop, kill, start, disconnect, connect, impair, heal, sleep) acts on the
// lab and passes when that succeeds.
package check

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"socketlab/labctl/ladder"
	"socketlab/labctl/scenario"
)

// Lab is what the checks need of a running lab: running commands in its
// nodes, and what action steps do to it.
type Lab interface {
	// Exec runs argv inside node and returns its output and exit status.
	Exec(ctx context.Context, node string, argv []string) (stdout, stderr []byte, exitCode int, err error)
	scenario.Controls
}

// Outcomes of a step.
const (
	Pass  = "pass"
	Fail  = "fail"  // the step ran and an expectation did not hold
	Error = "error" // the step could not be run (the client crashed, Docker failed)
)

// Result is the outcome of one step (or, for family "both", of one family of it).
type Result struct {
	Index    int     `json:"index"`
	Name     string  `json:"name"`
	Node     string  `json:"node"`
	Target   string  `json:"target,omitempty"`
	Run      string  `json:"run,omitempty"`
	Action   string  `json:"action,omitempty"`
	Family   string  `json:"family,omitempty"`
	Outcome  string  `json:"outcome"`
	Seconds  float64 `json:"seconds"`
	Expected string  `json:"expected,omitempty"`
	Got      string  `json:"got,omitempty"`
	Message  string  `json:"message,omitempty"`
	Line     int     `json:"line,omitempty"`
	// Command is what a client step ran in its node, e.g. "sock welcome
	// --json --timeout 10s -4 welcome".
	Command string `json:"command,omitempty"`
	// Output is what the client received (or, when it gave no JSON result,
	// what it printed; for an exec step, the command's standard output), at
	// most MaxOutput bytes.
	Output string `json:"output,omitempty"`
	// Stderr is an exec step's standard error, at most MaxOutput bytes: its
	// end (where a traceback names the exception) when it is longer.
	Stderr string `json:"stderr,omitempty"`
	// Exec is the command an exec step ran.
	Exec []string `json:"exec,omitempty"`
	// Packets are the step's node's packets during the step, one line
	// each (at most MaxPacketLines), when the run was captured.
	Packets []string `json:"packets,omitempty"`
	// Ladder is the step's conversations drawn as ladders, when the run
	// was captured (for the report and labctl test -v).
	Ladder *ladder.Ladder `json:"-"`
	// Explain says what an action step did to the lab, for learn mode.
	Explain string `json:"explain,omitempty"`
	// Did is what an action step's lab reported it did, a line each: the
	// faults in force after a fault step, what each fault did for a heal
	// step that cleared them.
	Did string `json:"did,omitempty"`
}

// MaxOutput bounds Result.Output; longer output is cut and marked so.
const MaxOutput = 16 << 10

// Report is the outcome of every step of one scenario.
type Report struct {
	Scenario string    `json:"scenario"`
	File     string    `json:"file,omitempty"`
	Results  []*Result `json:"results"`
	Seconds  float64   `json:"seconds"`
	// Setup is set when the lab could not be brought up or down.
	Setup string `json:"setup_error,omitempty"`
	// Capture is the pcapng file of the run, when it was captured.
	Capture string `json:"capture,omitempty"`
}

// PacketLines are the packet lines of each result, PacketLines()[i] for
// Results[i]; nil when the run was not captured.
func (r *Report) PacketLines() [][]string {
	if r.Capture == "" {
		return nil
	}
	out := make([][]string, len(r.Results))
	for i, res := range r.Results {
		out[i] = res.Packets
	}
	return out
}

// Passed reports whether every step passed and the lab came up.
func (r *Report) Passed() bool {
	if r.Setup != "" {
		return false
	}
	for _, s := range r.Results {
		if s.Outcome != Pass {
			return false
		}
	}
	return true
}

// Counts returns how many steps passed, failed and errored.
func (r *Report) Counts() (pass, fail, errs int) {
	for _, s := range r.Results {
		switch s.Outcome {
		case Pass:
			pass++
		case Fail:
			fail++
		default:
			errs++
		}
	}
	return
}

// Run runs the steps of sc in order against l. A background step starts and
// the next step follows at once; Run waits for every background step before
// it returns. progress, if non-nil, gets each result as soon as it is known.
func Run(ctx context.Context, l Lab, sc *scenario.Scenario, progress func(*Result)) *Report {
	start := time.Now()
	rep := &Report{Scenario: sc.Name, File: sc.File}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	done := func(res *Result) {
		if progress != nil {
			mu.Lock()
			progress(res)
			mu.Unlock()
		}
	}
	for i, st := range sc.Steps {
		for _, fam := range families(st) {
			res := &Result{}
			rep.Results = append(rep.Results, res)
			if st.InBackground() {
				wg.Add(1)
				go func() {
					defer wg.Done()
					*res = *runStep(ctx, l, i+1, st, fam)
					done(res)
				}()
				continue
			}
			*res = *runStep(ctx, l, i+1, st, fam)
			done(res)
		}
	}
	wg.Wait()
	rep.Seconds = time.Since(start).Seconds()
	return rep
}

// families returns the client families a step runs with: "" (the client's
// default), "ipv4", "ipv6", or both of them in turn.
func families(st *scenario.Step) []string {
	r, ok := st.Kind.(*scenario.RunStep)
	if !ok {
		return []string{""}
	}
	var out []string
	for _, f := range r.Families() {
		out = append(out, string(f))
	}
	return out
}

// runStep runs st (over family fam, for a client) and judges it. Actions
// act through Controls and pass when they succeed; a kind that is not an
// action has its runner here.
func runStep(ctx context.Context, l Lab, idx int, st *scenario.Step, fam string) *Result {
	res := &Result{Index: idx, Name: st.Name, Node: st.Node, Family: fam, Line: st.Line}
	if st.Kind == nil {
		res.Outcome, res.Message = Error, "the step has no kind"
		return res
	}
	if res.Name == "" {
		res.Name = st.Kind.Describe(st)
	}
	start := time.Now()
	defer func() { res.Seconds = time.Since(start).Seconds() }()
	t := st.TimeoutOrDefault()
	switch k := st.Kind.(type) {
	case *scenario.RunStep:
		res.Run, res.Target = k.Client, k.Target
		runClient(ctx, l, st, k, scenario.Family(fam), t, res)
	case *scenario.ExecStep:
		runExec(ctx, l, st, k, t, res)
		wireStep(ctx, l, st, res, start, time.Now())
	case scenario.Action:
		res.Action, res.Explain = k.Key(), k.Explain(st)
		// The action gets the step's timeout, and Docker some more to
		// report it.
		actx, cancel := context.WithTimeout(ctx, t+10*time.Second)
		defer cancel()
		var err error
		if r, ok := k.(scenario.Reporter); ok {
			res.Did, err = r.ActReport(actx, l, st)
		} else {
			err = k.Act(actx, l, st)
		}
		if err != nil {
			res.Outcome, res.Message = Error, err.Error()
		} else {
			res.Outcome = Pass
		}
		mark(l, res, start, time.Now())
	default:
		res.Outcome, res.Message = Error, fmt.Sprintf("a %s step cannot run here", st.Kind.Key())
	}
	return res
}

func trim(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// cutFront bounds s to MaxOutput bytes by dropping its beginning, from a
// line start when there is one: the last lines are the ones that say what
// went wrong.
func cutFront(s string) string {
	if len(s) <= MaxOutput {
		return s
	}
	i := len(s) - MaxOutput
	if nl := strings.IndexByte(s[i:], '\n'); nl >= 0 && nl < len(s)-i-1 {
		i += nl + 1
	}
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return fmt.Sprintf("… (%d bytes before)\n", i) + s[i:]
}

// briefWidth is how much of a line the one-line got quotes.
const briefWidth = 100

// brief is an output as the one-line got shows it: quoted when it is one
// short line; otherwise its line count and its last line (a traceback's
// exception), cut from the front. The whole output is in Output and Stderr.
func brief(s string) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	last := lines[len(lines)-1]
	for i := len(lines) - 1; i > 0 && strings.TrimSpace(last) == ""; i-- {
		last = lines[i-1]
	}
	if r := []rune(last); len(r) > briefWidth {
		last = "…" + string(r[len(r)-briefWidth:])
	}
	if len(lines) == 1 {
		return strconv.Quote(last)
	}
	return fmt.Sprintf("%d lines ending %q", len(lines), last)
}

// cut bounds s to MaxOutput bytes, on a rune boundary.
func cut(s string) string {
	if len(s) <= MaxOutput {
		return s
	}
	i := MaxOutput
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + fmt.Sprintf("\n… (%d more bytes)", len(s)-i)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return "(no output)"
	}
	return s
}
