package check

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"socketlab/labctl/scenario"
)

// runExec runs an exec step's command in its node and judges its output
// and exit status.
func runExec(ctx context.Context, l Lab, st *scenario.Step, x *scenario.ExecStep, timeout time.Duration, res *Result) {
	res.Exec = x.Argv
	res.Command = scenario.QuoteArgv(x.Argv)
	ectx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	began := time.Now()
	stdout, stderr, code, err := l.Exec(ectx, st.Node, x.Argv)
	took := time.Since(began)
	switch {
	case err != nil && ectx.Err() != nil && ctx.Err() == nil:
		res.Outcome, res.Expected = Fail, expectedExec(x.Expect)
		res.Got = fmt.Sprintf("still running after the step's timeout, %s", timeout)
		res.Message = "the command may run on in the node: Docker cannot stop an exec'd process"
		return
	case err != nil:
		res.Outcome, res.Message = Error, fmt.Sprintf("exec in %s: %v", st.Node, err)
		return
	}
	res.Output, res.Stderr = cut(string(stdout)), cutFront(string(stderr))
	res.Outcome, res.Expected, res.Got = judgeExec(x.Expect, string(stdout), string(stderr), code, took)
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
