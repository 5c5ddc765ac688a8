package check

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"socketlab/labctl/scenario"
)

// fakeLab answers client steps from a table keyed by the argv it receives and
// records actions.
type fakeLab struct {
	answers map[string]string // joined argv -> stdout
	calls   []string
}

func (f *fakeLab) Exec(_ context.Context, node string, argv []string) ([]byte, []byte, int, error) {
	key := node + ": " + strings.Join(argv, " ")
	f.calls = append(f.calls, key)
	out, ok := f.answers[key]
	if !ok {
		return nil, []byte("sock: unknown command"), 2, nil
	}
	code := 0
	if strings.Contains(out, `"ok":false`) {
		code = 1
	}
	return []byte(out), nil, code, nil
}

func (f *fakeLab) record(s string) error                   { f.calls = append(f.calls, s); return nil }
func (f *fakeLab) Stop(_ context.Context, n string) error  { return f.record("stop " + n) }
func (f *fakeLab) Kill(_ context.Context, n string) error  { return f.record("kill " + n) }
func (f *fakeLab) Start(_ context.Context, n string) error { return f.record("start " + n) }
func (f *fakeLab) Disconnect(_ context.Context, n, net string) error {
	return f.record("disconnect " + n + " " + net)
}
func (f *fakeLab) Connect(_ context.Context, n, net string) error {
	if net == "gone" {
		return errors.New(`network "gone" not found`)
	}
	return f.record("connect " + n + " " + net)
}

func okJSON(received, family string) string {
	return fmt.Sprintf(`{"client":"x","ok":true,"received":%q,"family":%q,"remote":"10.0.0.2:9999","timings_ms":{"total":1.5}}`, received, family)
}

func failJSON(kind, msg string) string {
	return fmt.Sprintf(`{"client":"x","ok":false,"error":%q,"error_kind":%q,"timings_ms":{"total":2000}}`, msg, kind)
}

func str(s string) *string { return &s }

func TestJudge(t *testing.T) {
	lab := &fakeLab{answers: map[string]string{
		"client: sock welcome --json --timeout 10s -4 welcome": okJSON("Welcome! You are 10.0.0.3:4000 over IPv4.\n", "IPv4"),
		"client: sock welcome --json --timeout 10s -6 welcome": okJSON("Welcome! You are [fd00::3]:4000 over IPv6.\n", "IPv6"),
		"client: sock welcome --json --timeout 2s welcome":     okJSON("Welcome!\n", "IPv6"),
		"client: sock echo --json --timeout 10s down":          failJSON("refused", "connection refused by 10.0.0.9:7"),
		"client: sock echo --json --timeout 10s echo hi":       okJSON("hi", "IPv4"),
	}}
	cases := []struct {
		name     string
		step     scenario.Step
		outcomes []string
		got      string // in the first result's Got or Message
		expected string
	}{
		{"contains both families", scenario.Step{Node: "client", Kind: &scenario.RunStep{Client: "welcome", Target: "welcome", Family: "both", Expect: &scenario.Expect{Contains: "over IP"}}}, []string{Pass, Pass}, "over IPv4", `output contains "over IP"`},
		{"wrong text", scenario.Step{Node: "client", Kind: &scenario.RunStep{Client: "welcome", Target: "welcome", Family: "ipv4", Expect: &scenario.Expect{Contains: "over IPv6"}}}, []string{Fail}, `"Welcome! You are 10.0.0.3:4000 over IPv4." from 10.0.0.2:9999 over IPv4`, `output contains "over IPv6"`},
		{"equals ignores final newline", scenario.Step{Node: "client", Timeout: scenario.Duration(2 * time.Second), Kind: &scenario.RunStep{Client: "welcome", Target: "welcome", Expect: &scenario.Expect{Equals: str("Welcome!")}}}, []string{Pass}, "", `output equals "Welcome!"`},
		{"family mismatch", scenario.Step{Node: "client", Timeout: scenario.Duration(2 * time.Second), Kind: &scenario.RunStep{Client: "welcome", Target: "welcome", Expect: &scenario.Expect{Family: "IPv4"}}}, []string{Fail}, "over IPv6", "over IPv4"},
		{"matches", scenario.Step{Node: "client", Kind: &scenario.RunStep{Client: "welcome", Target: "welcome", Family: "ipv6", Expect: &scenario.Expect{Matches: `\[fd00::\d+\]:\d+`}}}, []string{Pass}, "", ""},
		{"within exceeded", scenario.Step{Node: "client", Kind: &scenario.RunStep{Client: "echo", Target: "echo", Args: []string{"hi"}, Expect: &scenario.Expect{Within: scenario.Duration(time.Millisecond)}}}, []string{Fail}, "in 1.5 ms", "within 1ms"},
		{"expected refusal", scenario.Step{Node: "client", Kind: &scenario.RunStep{Client: "echo", Target: "down", Expect: &scenario.Expect{Fail: "refused"}}}, []string{Pass}, "connection refused by 10.0.0.9:7", "failure: refused"},
		{"refusal but timeout expected", scenario.Step{Node: "client", Kind: &scenario.RunStep{Client: "echo", Target: "down", Expect: &scenario.Expect{Fail: "timeout"}}}, []string{Fail}, "failed (refused)", "failure: timeout"},
		{"unreachable target fails a success step", scenario.Step{Node: "client", Kind: &scenario.RunStep{Client: "echo", Target: "down"}},
			[]string{Fail}, "connection refused by 10.0.0.9:7", "success"},
		{"failure expected but it worked", scenario.Step{Node: "client", Kind: &scenario.RunStep{Client: "echo", Target: "echo", Args: []string{"hi"}, Expect: &scenario.Expect{Fail: "any"}}}, []string{Fail}, "success:", "failure: any"},
		{"client without JSON", scenario.Step{Node: "client", Kind: &scenario.RunStep{Client: "nope", Target: "x"}},
			[]string{Error}, "exited 2 without a JSON result: sock: unknown command", ""},
		{"action error", scenario.Step{Node: "chat", Kind: scenario.ConnectStep{Network: "gone"}},
			[]string{Error}, `network "gone" not found`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := c.step
			rep := Run(context.Background(), lab, &scenario.Scenario{Name: "t", Steps: []*scenario.Step{&st}}, nil)
			if len(rep.Results) != len(c.outcomes) {
				t.Fatalf("%d results, want %d", len(rep.Results), len(c.outcomes))
			}
			for i, r := range rep.Results {
				if r.Outcome != c.outcomes[i] {
					t.Errorf("result %d: outcome %s, want %s (expected %q got %q msg %q)", i, r.Outcome, c.outcomes[i], r.Expected, r.Got, r.Message)
				}
			}
			r := rep.Results[0]
			if !strings.Contains(r.Got+r.Message, c.got) {
				t.Errorf("got/message %q lacks %q", r.Got+r.Message, c.got)
			}
			if !strings.Contains(r.Expected, c.expected) {
				t.Errorf("expected %q lacks %q", r.Expected, c.expected)
			}
			allPass := true
			for _, o := range c.outcomes {
				allPass = allPass && o == Pass
			}
			if rep.Passed() != allPass {
				t.Errorf("Passed() = %v", rep.Passed())
			}
		})
	}
}

func TestActionsRunInOrder(t *testing.T) {
	lab := &fakeLab{}
	sc := &scenario.Scenario{Name: "split", Steps: []*scenario.Step{
		{Node: "chat", Kind: scenario.DisconnectStep{Network: "front"}},
		{Node: "chat", Kind: scenario.SleepStep{For: scenario.Duration(time.Millisecond)}},
		{Node: "chat", Kind: scenario.ConnectStep{Network: "front"}},
		{Node: "echo", Kind: scenario.StopStep{}},
		{Node: "echo", Kind: scenario.KillStep{}},
		{Node: "echo", Kind: scenario.StartStep{}},
	}}
	rep := Run(context.Background(), lab, sc, nil)
	if !rep.Passed() {
		t.Fatalf("report failed: %+v", rep.Results)
	}
	want := "disconnect chat front|connect chat front|stop echo|kill echo|start echo"
	if got := strings.Join(lab.calls, "|"); got != want {
		t.Errorf("calls %q, want %q", got, want)
	}
	if rep.Results[1].Name != "sleep 1ms" || rep.Results[0].Name != "disconnect chat from front" {
		t.Errorf("names: %q, %q", rep.Results[0].Name, rep.Results[1].Name)
	}
}

func TestReports(t *testing.T) {
	rep := &Report{Scenario: "welcome", File: "scenarios/welcome.yaml", Seconds: 1.25, Results: []*Result{
		{Index: 1, Name: "greet v4", Node: "client", Target: "welcome", Family: "ipv4", Outcome: Pass, Seconds: 0.1},
		{Index: 2, Name: "greet v6", Node: "client", Target: "welcome", Family: "ipv6", Outcome: Fail, Seconds: 0.2,
			Expected: `output contains "IPv6"`, Got: `failed (resolve): no AAAA record for welcome`},
		{Index: 3, Name: "stop", Node: "welcome", Outcome: Error, Message: "container gone"},
	}}
	var table bytes.Buffer
	if err := WriteTable(&table, []*Report{rep}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"client → welcome", "PASS", "FAIL", "ERROR",
		`expected: output contains "IPv6"`, "got:      failed (resolve): no AAAA record for welcome",
		"container gone", "1 passed, 2 failed\n",
	} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}

	var junit bytes.Buffer
	broken := &Report{Scenario: "chat", Seconds: 0.5, Setup: "up chat: no image socketlab/chat"}
	if err := WriteJUnit(&junit, []*Report{rep, broken}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Errors   int    `xml:"errors,attr"`
		Time     string `xml:"time,attr"`
		Suites   []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Errors   int    `xml:"errors,attr"`
			Cases    []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(junit.Bytes(), &doc); err != nil {
		t.Fatalf("JUnit is not XML: %v\n%s", err, junit.String())
	}
	s := doc.Suites[0]
	if s.Name != "welcome" || s.Tests != 3 || s.Failures != 1 || s.Errors != 1 {
		t.Errorf("suite %+v", s)
	}
	// The root's totals: 3 steps and the failed setup of the second scenario.
	if doc.Tests != 4 || doc.Failures != 1 || doc.Errors != 2 || doc.Time != "1.750" {
		t.Errorf("root: tests %d failures %d errors %d time %s, want 4 1 2 1.750", doc.Tests, doc.Failures, doc.Errors, doc.Time)
	}
	if s.Cases[1].Name != "2. greet v6 [ipv6]" || s.Cases[1].Failure == nil || s.Cases[1].Failure.Message != `expected output contains "IPv6"` {
		t.Errorf("case 2: %+v", s.Cases[1])
	}

	var js bytes.Buffer
	if err := WriteJSON(&js, []*Report{rep}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"outcome": "fail"`) {
		t.Errorf("json: %s", js.String())
	}
}

// slowLab answers a chat client only once a later step has run.
type slowLab struct {
	fakeLab
	said chan struct{}
}

func (s *slowLab) Exec(ctx context.Context, node string, argv []string) ([]byte, []byte, int, error) {
	if strings.Contains(strings.Join(argv, " "), "--expect") {
		select {
		case <-s.said:
			return []byte(okJSON("<< :bob PRIVMSG #lab :hi ada", "IPv6")), nil, 0, nil
		case <-ctx.Done():
			return []byte(failJSON("timeout", "no line containing hi ada within 10s")), nil, 1, nil
		}
	}
	return []byte(okJSON("said", "IPv6")), nil, 0, nil
}

func TestBackgroundStepWaitsForALaterOne(t *testing.T) {
	lab := &slowLab{said: make(chan struct{})}
	sc := &scenario.Scenario{Name: "chat", Steps: []*scenario.Step{
		{Name: "ada waits", Node: "client", Kind: &scenario.RunStep{Client: "chat", Target: "chat", Args: []string{"--expect", "hi ada"}, Background: true, Expect: &scenario.Expect{Contains: "hi ada"}}},
		{Name: "bob says", Node: "client", Kind: &scenario.RunStep{Client: "chat", Target: "chat", Args: []string{"--say", "hi ada"}}},
	}}
	var order []string
	// The waiting user hears the line once bob's step has been reported
	// (closing said in bob's Exec would race the two results' reports).
	rep := Run(context.Background(), lab, sc, func(r *Result) {
		order = append(order, r.Name)
		if r.Name == "bob says" {
			close(lab.said)
		}
	})
	if !rep.Passed() {
		t.Fatalf("failed: %+v %+v", rep.Results[0], rep.Results[1])
	}
	// Reports keep file order; progress shows the order things finished in.
	if rep.Results[0].Name != "ada waits" || strings.Join(order, ",") != "bob says,ada waits" {
		t.Errorf("results %q, %q; progress order %v", rep.Results[0].Name, rep.Results[1].Name, order)
	}
}

// A client step's result carries the command it ran and what came back;
// a client that gave no JSON leaves what it printed instead.
func TestResultOutput(t *testing.T) {
	lab := &fakeLab{answers: map[string]string{
		"client: sock echo --json --timeout 10s echo hi": okJSON("hi\n", "IPv4"),
		"client: sock echo --json --timeout 10s big":     okJSON(strings.Repeat("é", MaxOutput), "IPv4"),
	}}
	sc := &scenario.Scenario{Name: "t", Steps: []*scenario.Step{
		{Node: "client", Kind: &scenario.RunStep{Client: "echo", Target: "echo", Args: []string{"hi"}}},
		{Node: "client", Kind: &scenario.RunStep{Client: "nope", Target: "x"}},
		{Node: "client", Kind: &scenario.RunStep{Client: "echo", Target: "big"}},
	}}
	rep := Run(context.Background(), lab, sc, nil)
	if r := rep.Results[0]; r.Command != "sock echo --json --timeout 10s echo hi" || r.Output != "hi\n" {
		t.Errorf("command %q output %q, want the echo command and hi", r.Command, r.Output)
	}
	if r := rep.Results[1]; r.Output != "sock: unknown command" {
		t.Errorf("output %q, want what the client printed", r.Output)
	}
	r := rep.Results[2]
	if !strings.HasSuffix(r.Output, fmt.Sprintf("… (%d more bytes)", MaxOutput)) || !utf8.ValidString(r.Output) {
		t.Errorf("long output not cut on a rune boundary and marked: …%q", r.Output[len(r.Output)-40:])
	}
}

// stderrLab is fakeLab whose exec steps fail with a Python traceback.
type stderrLab struct {
	fakeLab
	stderr string
}

func (f *stderrLab) Exec(ctx context.Context, node string, argv []string) ([]byte, []byte, int, error) {
	if argv[0] == "python3" {
		return nil, []byte(f.stderr), 1, nil
	}
	return f.fakeLab.Exec(ctx, node, argv)
}

// TestFailureTextReads: a traceback shows as lines, its exception last
// (table, learn mode), without widening the table; a stderr longer than
// MaxOutput keeps its end; a passing size-only step says what came back.
func TestFailureTextReads(t *testing.T) {
	long := strings.Repeat("x", 150)
	traceback := "Traceback (most recent call last):\n" +
		`  File "/lab/echo-server.py", line 12, in <module>` + "\n" +
		"    conn.sendall(data / 0) # " + long + "\n" +
		"ZeroDivisionError: division by zero\n"
	lab := &stderrLab{stderr: traceback, fakeLab: fakeLab{answers: map[string]string{
		"client: sock echo --json --timeout 10s echo --size 100000": `{"client":"echo","ok":true,"remote":"10.0.0.3:7","family":"IPv4","bytes_sent":100000,"bytes_received":100000,"timings_ms":{"total":3}}`,
	}}}
	sc := &scenario.Scenario{Name: "t", Steps: []*scenario.Step{
		{Name: "server runs", Node: "server", Kind: &scenario.ExecStep{Argv: []string{"python3", "/lab/echo-server.py"}}},
		{Name: "a megabyte", Node: "client", Kind: &scenario.RunStep{Client: "echo", Target: "echo", Args: []string{"--size", "100000"}}},
	}}
	rep := Run(context.Background(), lab, sc, nil)
	tb, big := rep.Results[0], rep.Results[1]
	if want := `stderr 4 lines ending "ZeroDivisionError: division by zero"`; !strings.Contains(tb.Got, want) {
		t.Errorf("got %q lacks %q", tb.Got, want)
	}
	if big.Outcome != Pass || !strings.HasPrefix(big.Got, "100000 bytes, whole from 10.0.0.3:7") {
		t.Errorf("size-only step: %s, got %q (%s); want pass and 100000 bytes, whole", big.Outcome, big.Got, big.Message)
	}

	var table bytes.Buffer
	WriteTable(&table, []*Report{rep})
	lines := strings.Split(table.String(), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "  1. ") || strings.HasPrefix(l, "  2. ") {
			if utf8.RuneCountInString(l) > 80 {
				t.Errorf("a step row is %d columns wide (the traceback widened it):\n%s", utf8.RuneCountInString(l), table.String())
			}
		}
	}
	for _, want := range []string{"      stderr:\n", "\n        ZeroDivisionError: division by zero\n", `        File "/lab/echo-server.py", line 12`} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}

	var learn bytes.Buffer
	WriteStep(&learn, tb)
	if !strings.Contains(learn.String(), "\n                ZeroDivisionError: division by zero\n") {
		t.Errorf("learn mode lacks the exception as a line:\n%s", learn.String())
	}

	lab.stderr = strings.Repeat("noise line\n", MaxOutput/5) + traceback
	rep = Run(context.Background(), lab, sc, nil)
	if s := rep.Results[0].Stderr; len(s) > MaxOutput+64 || !strings.HasSuffix(s, "ZeroDivisionError: division by zero\n") || !strings.HasPrefix(s, "… (") {
		t.Errorf("a long stderr is not cut from its front: %d bytes, …%q", len(s), s[max(0, len(s)-60):])
	}
}
