package check

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"socketlab/internal/result"
	"socketlab/labctl/scenario"
)

// runClient runs a run step's sock client in its node over family fam,
// bounded by timeout, and judges its --json result and the wire.
func runClient(ctx context.Context, l Lab, st *scenario.Step, r *scenario.RunStep, fam scenario.Family, timeout time.Duration, res *Result) {
	// The client gets the step's timeout; Docker gets some more to report it.
	sctx, cancel := context.WithTimeout(ctx, timeout+10*time.Second)
	defer cancel()
	argv := r.Argv(fam, timeout)
	res.Command = strings.Join(argv, " ")
	began := time.Now()
	stdout, stderr, code, err := l.Exec(sctx, st.Node, argv)
	ended := time.Now()
	if err != nil {
		res.Outcome, res.Message = Error, fmt.Sprintf("exec in %s: %v", st.Node, err)
		return
	}
	var out clientResult
	if jerr := json.Unmarshal(stdout, &out); jerr != nil {
		res.Output = cut(string(stderr) + string(stdout))
		res.Outcome = Error
		res.Message = fmt.Sprintf("%s exited %d without a JSON result: %s", strings.Join(argv, " "), code,
			firstLine(string(stderr)+string(stdout)))
		return
	}
	res.Output = cut(out.Received)
	res.Outcome, res.Expected, res.Got = judge(r.Expect, &out)
	wireStep(ctx, l, st, res, began, ended)
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
