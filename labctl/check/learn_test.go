package check

import (
	"context"
	"strings"
	"testing"

	"socketlab/labctl/scenario"
)

// Learn mode shows the description, then for each step what ran, what came
// back (cut) and why it passed or not.
func TestLearnMode(t *testing.T) {
	long := strings.Repeat("line\n", 10) + strings.Repeat("x", 200)
	lab := &fakeLab{answers: map[string]string{
		"client: sock welcome --json --timeout 10s -4 welcome": okJSON("Welcome! You are 10.0.0.3:4000 over IPv4.\n", "IPv4"),
		"client: sock echo --json --timeout 10s echo":          okJSON(long, "IPv6"),
		"client: sock echo --json --timeout 10s down":          failJSON("refused", "connection refused by 10.0.0.9:7"),
	}}
	sc := &scenario.Scenario{Name: "learn", Description: "Watch: the family.\n\nTry: -6.\n", Steps: []*scenario.Step{
		{Name: "welcome", Node: "client", Kind: &scenario.RunStep{Client: "welcome", Target: "welcome", Family: "ipv4", Expect: &scenario.Expect{Family: "IPv4"}}},
		{Name: "stop echo", Node: "echo", Kind: scenario.StopStep{}},
		{Name: "long", Node: "client", Kind: &scenario.RunStep{Client: "echo", Target: "echo"}},
		{Name: "down", Node: "client", Kind: &scenario.RunStep{Client: "echo", Target: "down"}},
		{Name: "broken", Node: "client", Kind: &scenario.RunStep{Client: "nope", Target: "x"}},
	}}
	var b strings.Builder
	if err := WriteIntro(&b, sc.Name, sc.Description); err != nil {
		t.Fatal(err)
	}
	for _, r := range Run(context.Background(), lab, sc, nil).Results {
		if err := WriteStep(&b, r); err != nil {
			t.Fatal(err)
		}
	}
	got := b.String()
	t.Log("\n" + got)
	for _, want := range []string{
		"== learn\n   Watch: the family.\n\n   Try: -6.\n",
		"  1. welcome [ipv4]: PASS in ",
		"     ran:       sock welcome --json --timeout 10s -4 welcome   (in client)\n",
		"     came back: Welcome! You are 10.0.0.3:4000 over IPv4.\n",
		"     passed:    expected over IPv4; got \"Welcome! You are 10.0.0.3:4000 over IPv4.\" from 10.0.0.2:9999 over IPv4 in 1.5 ms\n",
		"  2. stop echo: PASS", "     did:       stop echo\n     effect:    echo got SIGTERM, then SIGKILL had it not ended in time: the kernel closed its sockets, and its addresses no longer answer\n     passed:    the action succeeded\n",
		"                … (5 more lines)\n",
		"  4. down: FAIL", "     came back: (nothing)\n", "     failed:    expected success; got failed (refused): connection refused by 10.0.0.9:7\n",
		"  5. broken: ERROR", "     error:     sock nope --json --timeout 10s x exited 2 without a JSON result: sock: unknown command\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("learn output lacks %q", want)
		}
	}
	if strings.Contains(got, strings.Repeat("x", learnWidth+1)) {
		t.Error("a long line of output is not cut")
	}
}
