package main

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"socketlab/labctl/check"
	"socketlab/labctl/ladder"
	"socketlab/labctl/scenario"
)

// Wrong flags and a --report directory that cannot be written exit 2
// before any lab is brought up: none of these needs a Docker engine.
func TestTestRefusesBeforeUp(t *testing.T) {
	file := write(t, "tiny.yaml", valid)
	notDir := write(t, "plain-file", "not a directory")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"report under a file", []string{"test", "--report", filepath.Join(notDir, "out"), file}, "--report " + filepath.Join(notDir, "out")},
		{"report is a file", []string{"test", "--report", notDir, file}, "give a directory you can write"},
		{"no jobs", []string{"test", "-j", "0", file}, "-j 0: want 1 or more"},
		{"loud and quiet", []string{"test", "-v", "-q", file}, "-v shows more, -q less"},
		{"name with two files", []string{"test", "--name", "x", file, file}, "--name goes with one file only"},
		{"invalid file first", []string{"test", "--report", notDir, write(t, "bad.yaml", strings.Replace(valid, "[net]", "[nett]", 1))}, `network "nett" is not defined`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := labctl(t, tt.args...)
			if code != 2 || stdout != "" || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing on stdout and %q", code, stdout, stderr, tt.want)
			}
			if strings.Contains(stderr, "up as lab") {
				t.Errorf("a lab was brought up: %s", stderr)
			}
		})
	}
}

// Each lab of a run has a name of its own, valid for the engine even when
// the scenario's name is as long as a lab name may be; --name is kept as
// given.
func TestLabNames(t *testing.T) {
	long := &scenario.Scenario{Name: strings.Repeat("a", 42) + "-bcdef"}
	r := &testRun{}
	seen := map[string]bool{}
	for range 50 {
		n := r.labName(long)
		if err := scenario.CheckLabName(n); err != nil {
			t.Fatalf("lab name %q: %v", n, err)
		}
		if !strings.HasPrefix(n, strings.Repeat("a", 42)+"-") {
			t.Errorf("lab name %q does not start with the scenario's name", n)
		}
		seen[n] = true
	}
	if len(seen) < 45 {
		t.Errorf("50 lab names of one scenario, only %d distinct", len(seen))
	}
	if n := (&testRun{}).labName(&scenario.Scenario{Name: "welcome"}); len(n) != len("welcome-0000") || !strings.HasPrefix(n, "welcome-") {
		t.Errorf("lab name of welcome = %q, want welcome-XXXX", n)
	}
	if n := (&testRun{name: "mine"}).labName(long); n != "mine" {
		t.Errorf("--name mine gave lab %q", n)
	}
}

// Side by side, the scenario that waits longest starts first: the library's
// udp-vs-tcp waits out timeouts, welcome waits for nothing.
func TestLongestFirst(t *testing.T) {
	var scs []*scenario.Scenario
	for _, f := range []string{"welcome", "udp-vs-tcp", "echo"} {
		sc, err := scenario.Load("../scenarios/" + f + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		scs = append(scs, sc)
	}
	order := longestFirst(scs)
	if order[0] != 1 || order[2] != 0 {
		t.Errorf("start order %v, want udp-vs-tcp (1) first and welcome (0) last", order)
	}
}

// A scenario that fixes a subnet a running one holds waits; one that fixes
// none, or others, starts.
func TestStartable(t *testing.T) {
	fixed := func(v4 string) *scenario.Scenario {
		sc := &scenario.Scenario{Networks: []*scenario.Network{{Name: "lab"}}}
		if v4 != "" {
			sc.Networks[0].IPv4 = netip.MustParsePrefix(v4)
		}
		return sc
	}
	scs := []*scenario.Scenario{fixed("10.201.1.0/24"), fixed("10.201.0.0/16"), fixed(""), fixed("10.202.1.0/24")}
	tests := []struct {
		pending []int
		running map[int]bool
		want    int
	}{
		{[]int{1, 2}, map[int]bool{0: true}, 1}, // 10.201/16 holds 10.201.1/24: the unfixed one goes
		{[]int{1, 3}, map[int]bool{0: true}, 1}, // 10.202.1/24 overlaps nothing
		{[]int{1}, map[int]bool{0: true}, -1},   // wait
		{[]int{0, 1}, map[int]bool{}, 0},        // nothing runs
		{[]int{2}, map[int]bool{0: true, 3: true}, 0},
	}
	for _, tt := range tests {
		if got := startable(scs, tt.pending, tt.running); got != tt.want {
			t.Errorf("startable(pending %v, running %v) = %d, want %d", tt.pending, tt.running, got, tt.want)
		}
	}
}

// labctl test -v draws a step that did not pass as text ladders; a step
// that passed, or one without a capture, gets none.
func TestStepLadder(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	l := &ladder.Ladder{Conversations: []*ladder.Conversation{{ID: 1, Proto: "TCP", Family: 4, Start: t0,
		A:       ladder.Endpoint{Addr: netip.MustParseAddrPort("10.0.0.3:40000"), Node: "client"},
		B:       ladder.Endpoint{Addr: netip.MustParseAddrPort("10.0.0.2:9998"), Node: "welcome"},
		Initial: [2]string{ladder.Closed, ladder.Closed},
		Arrows:  []*ladder.Arrow{{From: 0, Sent: t0, Kind: "TCP", Flags: "SYN"}},
		States:  []ladder.StateChange{{End: 0, State: ladder.SynSent, Time: t0}},
	}}}
	for _, c := range []struct {
		name string
		res  check.Result
		want string
	}{
		{"failed", check.Result{Outcome: check.Fail, Ladder: l}, "SYN_SENT     |-- SYN seq=0 --"},
		{"passed", check.Result{Outcome: check.Pass, Ladder: l}, ""},
		{"not captured", check.Result{Outcome: check.Fail}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			writeStepLadder(&b, &c.res)
			if c.want == "" && b.Len() > 0 || !strings.Contains(b.String(), c.want) {
				t.Errorf("wrote %q, want %q", b.String(), c.want)
			}
		})
	}
}
