// Package check runs a scenario's steps against a running lab and judges
// them: each client step runs `sock` inside a node with --json and compares
// what came back with the step's expectations; each action step stops, kills,
// starts, disconnects or reconnects a node.
package check

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"socketlab/helpers/impair/shape"
	"socketlab/internal/result"
	"socketlab/labctl/scenario"
)

// Lab is what the checks need of a running lab.
type Lab interface {
	// Exec runs argv inside node and returns its output and exit status.
	Exec(ctx context.Context, node string, argv []string) (stdout, stderr []byte, exitCode int, err error)
	Stop(ctx context.Context, node string) error
	Kill(ctx context.Context, node string) error
	Start(ctx context.Context, node string) error
	Disconnect(ctx context.Context, node, network string) error
	Connect(ctx context.Context, node, network string) error
	// Impair degrades what node sends on network ("": every network).
	Impair(ctx context.Context, node, network string, s shape.Settings) error
	// Heal takes impairments away (node "": the whole lab; network "":
	// every network of node).
	Heal(ctx context.Context, node, network string) error
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
			if st.Background {
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
	if st.Run == "" {
		return []string{""}
	}
	if st.Family == scenario.FamilyBoth {
		return []string{string(scenario.FamilyIPv4), string(scenario.FamilyIPv6)}
	}
	return []string{string(st.Family)}
}

func runStep(ctx context.Context, l Lab, idx int, st *scenario.Step, fam string) *Result {
	res := &Result{Index: idx, Name: st.Name, Node: st.Node, Target: st.Target, Run: st.Run,
		Action: string(st.Action), Family: fam, Line: st.Line}
	if res.Name == "" {
		res.Name = describe(st)
	}
	start := time.Now()
	defer func() { res.Seconds = time.Since(start).Seconds() }()
	t := st.TimeoutOrDefault()
	// The client gets the step's timeout; Docker gets some more to report it.
	sctx, cancel := context.WithTimeout(ctx, t+10*time.Second)
	defer cancel()
	if len(st.Exec) > 0 {
		runExec(ctx, l, st, t, res)
		wireStep(ctx, l, st, res, start, time.Now())
		return res
	}
	if st.Run == "" {
		if err := act(sctx, l, st); err != nil {
			res.Outcome, res.Message = Error, err.Error()
		} else {
			res.Outcome = Pass
		}
		mark(l, res, start, time.Now())
		return res
	}
	argv := ClientArgv(st, fam, t)
	res.Command = strings.Join(argv, " ")
	began := time.Now()
	stdout, stderr, code, err := l.Exec(sctx, st.Node, argv)
	ended := time.Now()
	if err != nil {
		res.Outcome, res.Message = Error, fmt.Sprintf("exec in %s: %v", st.Node, err)
		return res
	}
	var out clientResult
	if jerr := json.Unmarshal(stdout, &out); jerr != nil {
		res.Output = cut(string(stderr) + string(stdout))
		res.Outcome = Error
		res.Message = fmt.Sprintf("%s exited %d without a JSON result: %s", strings.Join(argv, " "), code,
			firstLine(string(stderr)+string(stdout)))
		return res
	}
	res.Output = cut(out.Received)
	res.Outcome, res.Expected, res.Got = judge(st.Expect, &out)
	wireStep(ctx, l, st, res, began, ended)
	return res
}

func describe(st *scenario.Step) string {
	if len(st.Exec) > 0 {
		return fmt.Sprintf("%s: %s", st.Node, quoteArgv(st.Exec))
	}
	if st.Run != "" {
		return fmt.Sprintf("%s %s → %s", st.Run, st.Node, st.Target)
	}
	if st.Action == scenario.ActionImpair || st.Action == scenario.ActionHeal {
		return describeImpair(st)
	}
	if st.Network != "" {
		return fmt.Sprintf("%s %s from %s", st.Action, st.Node, st.Network)
	}
	if st.Action == scenario.ActionSleep {
		return fmt.Sprintf("sleep %s", time.Duration(st.For))
	}
	return fmt.Sprintf("%s %s", st.Action, st.Node)
}

func act(ctx context.Context, l Lab, st *scenario.Step) error {
	switch st.Action {
	case scenario.ActionStop:
		return l.Stop(ctx, st.Node)
	case scenario.ActionKill:
		return l.Kill(ctx, st.Node)
	case scenario.ActionStart:
		return l.Start(ctx, st.Node)
	case scenario.ActionDisconnect:
		return l.Disconnect(ctx, st.Node, st.Network)
	case scenario.ActionConnect:
		return l.Connect(ctx, st.Node, st.Network)
	case scenario.ActionImpair:
		return l.Impair(ctx, st.Node, st.Network, *st.Impair)
	case scenario.ActionHeal:
		return l.Heal(ctx, st.Node, st.Network)
	case scenario.ActionSleep:
		select {
		case <-time.After(time.Duration(st.For)):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return fmt.Errorf("unknown action %q", st.Action)
}

// ClientArgv is the command a client step runs inside its node.
func ClientArgv(st *scenario.Step, fam string, timeout time.Duration) []string {
	argv := []string{"sock", st.Run, "--json", "--timeout", timeout.String()}
	switch fam {
	case "ipv4":
		argv = append(argv, "-4")
	case "ipv6":
		argv = append(argv, "-6")
	}
	argv = append(argv, st.Target)
	return append(argv, st.Args...)
}

// clientResult is sock's --json object, with how the checks print it.
type clientResult struct{ result.Result }

func (c *clientResult) String() string {
	if !c.OK {
		return fmt.Sprintf("failed (%s): %s", c.ErrorKind, c.Error)
	}
	if sent, ok := c.detail("sent"); ok {
		replies, _ := c.detail("round_trips")
		lost, _ := c.detail("lost")
		return fmt.Sprintf("%d of %d echoes from %s over %s (%d lost) in %.1f ms", replies, sent, c.Remote, c.Family, lost, c.Timings.Total)
	}
	what := strconv.Quote(trim(c.Received))
	if c.Received == "" && c.BytesReceived > 0 {
		// Too long to show (sock echo --size): say how much came back.
		what = fmt.Sprintf("%d bytes", c.BytesReceived)
		if c.BytesReceived == c.BytesSent {
			what += ", whole"
		}
	}
	return fmt.Sprintf("%s from %s over %s in %.1f ms", what, c.Remote, c.Family, c.Timings.Total)
}

// judge compares a client's result with what the step expects and returns
// the outcome, what was expected and what came back.
func judge(e *scenario.Expect, c *clientResult) (outcome, expected, got string) {
	if e == nil {
		e = &scenario.Expect{}
	}
	if e.Fail != "" {
		expected = "failure: " + string(e.Fail)
		if c.OK {
			return Fail, expected, "success: " + c.String()
		}
		if !result.Kind(e.Fail).Matches(c.ErrorKind) {
			return Fail, expected, c.String()
		}
		return Pass, expected, c.String()
	}
	var want []string
	var bad []string
	if !c.OK {
		return Fail, "success", c.String()
	}
	out := strings.TrimSuffix(c.Received, "\n")
	if e.Contains != "" {
		want = append(want, fmt.Sprintf("output contains %q", e.Contains))
		if !strings.Contains(c.Received, e.Contains) {
			bad = append(bad, "contains")
		}
	}
	if e.Equals != nil {
		want = append(want, fmt.Sprintf("output equals %q", *e.Equals))
		if out != strings.TrimSuffix(*e.Equals, "\n") {
			bad = append(bad, "equals")
		}
	}
	if e.Matches != "" {
		want = append(want, fmt.Sprintf("output matches /%s/", e.Matches))
		re, err := regexp.Compile(e.Matches)
		if err != nil || !re.MatchString(c.Received) {
			bad = append(bad, "matches")
		}
	}
	if e.Family != "" {
		want = append(want, "over "+string(e.Family))
		if !strings.EqualFold(c.Family, string(e.Family)) {
			bad = append(bad, "family")
		}
	}
	if e.Within > 0 {
		d := time.Duration(e.Within)
		want = append(want, "within "+d.String())
		if time.Duration(c.Timings.Total*float64(time.Millisecond)) > d {
			bad = append(bad, "within")
		}
	}
	want, bad = judgeLink(e, c, want, bad)
	expected = strings.Join(want, ", ")
	if expected == "" {
		expected = "success"
	}
	if len(bad) > 0 {
		return Fail, expected, c.String()
	}
	return Pass, expected, c.String()
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

// runExec runs an exec step's command in its node and judges its output
// and exit status.
func runExec(ctx context.Context, l Lab, st *scenario.Step, timeout time.Duration, res *Result) {
	res.Exec = st.Exec
	res.Command = quoteArgv(st.Exec)
	ectx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	began := time.Now()
	stdout, stderr, code, err := l.Exec(ectx, st.Node, st.Exec)
	took := time.Since(began)
	switch {
	case err != nil && ectx.Err() != nil && ctx.Err() == nil:
		res.Outcome, res.Expected = Fail, expectedExec(st.Expect)
		res.Got = fmt.Sprintf("still running after the step's timeout, %s", timeout)
		res.Message = "the command may run on in the node: Docker cannot stop an exec'd process"
		return
	case err != nil:
		res.Outcome, res.Message = Error, fmt.Sprintf("exec in %s: %v", st.Node, err)
		return
	}
	res.Output, res.Stderr = cut(string(stdout)), cutFront(string(stderr))
	res.Outcome, res.Expected, res.Got = judgeExec(st.Expect, string(stdout), string(stderr), code, took)
}

// execWant is what an exec step expects, with a check for each part.
type execWant struct {
	text string
	ok   bool
}

// judgeExec compares a command's output and exit status with what the
// step expects: the exit status (0 when left out), then the texts.
func judgeExec(e *scenario.Expect, stdout, stderr string, code int, took time.Duration) (outcome, expected, got string) {
	if e == nil {
		e = &scenario.Expect{}
	}
	exit := int64(0)
	if e.Exit != nil {
		exit = *e.Exit
	}
	wants := []execWant{{fmt.Sprintf("exit %d", exit), int64(code) == exit}}
	wants = append(wants, textWants("stdout", stdout, e.Contains, e.Equals, e.Matches)...)
	if e.Stderr != nil {
		wants = append(wants, textWants("stderr", stderr, e.Stderr.Contains, e.Stderr.Equals, e.Stderr.Matches)...)
	}
	if e.Within > 0 {
		d := time.Duration(e.Within)
		wants = append(wants, execWant{"within " + d.String(), took <= d})
	}
	outcome = Pass
	var texts []string
	for _, w := range wants {
		texts = append(texts, w.text)
		if !w.ok {
			outcome = Fail
		}
	}
	got = fmt.Sprintf("exit %d, stdout %s, stderr %s in %.1f ms", code, brief(stdout), brief(stderr), float64(took.Microseconds())/1000)
	return outcome, strings.Join(texts, ", "), got
}

func textWants(stream, s, contains string, equals *string, matches string) []execWant {
	var out []execWant
	if contains != "" {
		out = append(out, execWant{fmt.Sprintf("%s contains %q", stream, contains), strings.Contains(s, contains)})
	}
	if equals != nil {
		out = append(out, execWant{fmt.Sprintf("%s equals %q", stream, *equals),
			strings.TrimSuffix(s, "\n") == strings.TrimSuffix(*equals, "\n")})
	}
	if matches != "" {
		re, err := regexp.Compile(matches)
		out = append(out, execWant{fmt.Sprintf("%s matches /%s/", stream, matches), err == nil && re.MatchString(s)})
	}
	return out
}

// expectedExec is what an exec step expects, for a step that never ended.
func expectedExec(e *scenario.Expect) string {
	_, expected, _ := judgeExec(e, "", "", 0, 0)
	return expected
}

// quoteArgv writes a command as a person would type it: arguments with
// spaces or quotes quoted.
func quoteArgv(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$*?") {
			a = strconv.Quote(a)
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
