package check

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"socketlab/helpers/impair/shape"
	"socketlab/labctl/scenario"
)

func (f *fakeLab) Impair(_ context.Context, n, net string, s shape.Settings) error {
	if net == "gone" {
		return errors.New(`no such network "gone"`)
	}
	return f.record("impair " + n + ":" + net + " " + s.String())
}

func (f *fakeLab) Heal(_ context.Context, n, net string) error {
	return f.record("heal " + n + ":" + net)
}

// TestImpairSteps: impair and heal steps reach the lab with their settings,
// in order, and are named for the report; a failed impair is an error.
func TestImpairSteps(t *testing.T) {
	lab := &fakeLab{}
	sc := &scenario.Scenario{Name: "lossy", Steps: []*scenario.Step{
		{Node: "client", Kind: scenario.ImpairStep{Network: "front", Settings: shape.Settings{Loss: 20}}},
		{Node: "client", Kind: scenario.HealStep{Network: "front"}},
		{Node: "client", Kind: scenario.ImpairStep{Settings: shape.Settings{Rate: 1e6}}},
		{Kind: scenario.HealStep{}},
		{Node: "client", Kind: scenario.ImpairStep{Network: "gone", Settings: shape.Settings{Loss: 1}}},
	}}
	rep := Run(context.Background(), lab, sc, nil)
	want := "impair client:front loss 20%|heal client:front|impair client: rate 1mbit|heal :"
	if got := strings.Join(lab.calls, "|"); got != want {
		t.Errorf("calls %q, want %q", got, want)
	}
	names := []string{"impair client:front (loss 20%)", "heal client:front", "impair client (rate 1mbit)", "heal the lab"}
	for i, n := range names {
		if rep.Results[i].Name != n || rep.Results[i].Outcome != Pass {
			t.Errorf("result %d: %q %s, want %q pass", i, rep.Results[i].Name, rep.Results[i].Outcome, n)
		}
	}
	if last := rep.Results[4]; last.Outcome != Error || !strings.Contains(last.Message, `"gone"`) {
		t.Errorf("failed impair: %s %q, want error naming the network", last.Outcome, last.Message)
	}
}

// TestJudgeLink: a range of echoes and a lower bound on the time are judged
// from sock's JSON.
func TestJudgeLink(t *testing.T) {
	lossy := `{"client":"echo","ok":true,"received":"hi","family":"IPv4","remote":"10.0.0.2:7","timings_ms":{"total":120.5},"details":{"round_trips":161,"sent":200,"lost":39}}`
	c := func() *clientResult {
		var r clientResult
		if err := json.Unmarshal([]byte(lossy), &r); err != nil {
			t.Fatal(err)
		}
		return &r
	}
	cases := []struct {
		name     string
		e        scenario.Expect
		outcome  string
		expected string
	}{
		{"in range", scenario.Expect{MinReplies: 120, MaxReplies: 190}, Pass, "120 to 190 replies"},
		{"too few", scenario.Expect{MinReplies: 170}, Fail, "at least 170 replies"},
		{"too many", scenario.Expect{MaxReplies: 150}, Fail, "at most 150 replies"},
		{"slower", scenario.Expect{SlowerThan: scenario.Duration(100 * time.Millisecond)}, Pass, "slower than 100ms"},
		{"not slower", scenario.Expect{SlowerThan: scenario.Duration(200 * time.Millisecond)}, Fail, "slower than 200ms"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			outcome, expected, got := judge(&tt.e, c())
			if outcome != tt.outcome || expected != tt.expected {
				t.Errorf("judge = %s %q, want %s %q", outcome, expected, tt.outcome, tt.expected)
			}
			if !strings.Contains(got, "161 of 200 echoes") || !strings.Contains(got, "39 lost") {
				t.Errorf("got %q, want the echoes counted", got)
			}
		})
	}
}
