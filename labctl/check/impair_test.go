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

func (f *fakeLab) Fault(_ context.Context, n, net string, ft shape.Fault) ([]string, error) {
	return []string{n + ":" + net + ": " + ft.String()}, f.record("fault " + n + ":" + net + " " + ft.String())
}

func (f *fakeLab) ClearFaults(_ context.Context, n, net string) ([]string, error) {
	return []string{"cleared " + n + ":" + net}, f.record("clear faults " + n + ":" + net)
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
	want := "impair client:front loss 20%|heal client:front|clear faults client:front|impair client: rate 1mbit|heal :|clear faults :"
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

// TestFaultSteps: a fault step reaches the lab with its fault and reports
// what is in force; heal clears the faults and reports what each did.
func TestFaultSteps(t *testing.T) {
	lab := &fakeLab{}
	f := shape.Fault{Match: "tcp and syn and ack", Action: shape.ActionDrop}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	sc := &scenario.Scenario{Name: "lost-syn", Steps: []*scenario.Step{
		{Node: "server", Kind: scenario.FaultStep{Fault: f}},
		{Node: "server", Kind: scenario.HealStep{}},
	}}
	rep := Run(context.Background(), lab, sc, nil)
	want := `fault server: drop nth 1 of "tcp and syn and ack"|heal server:|clear faults server:`
	if got := strings.Join(lab.calls, "|"); got != want {
		t.Errorf("calls %q, want %q", got, want)
	}
	first, heal := rep.Results[0], rep.Results[1]
	if first.Name != `fault server (drop nth 1 of "tcp and syn and ack")` || first.Action != "fault" || first.Outcome != Pass ||
		first.Did != `server:: drop nth 1 of "tcp and syn and ack"` || !strings.Contains(first.Explain, `the 1st packet matching "tcp and syn and ack" that server sends`) {
		t.Errorf("fault step result %+v", first)
	}
	if heal.Did != "cleared server:" {
		t.Errorf("heal step did %q, want what the lab said of the faults", heal.Did)
	}
	var table strings.Builder
	if err := WriteTable(&table, []*Report{rep}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), `      server:: drop nth 1 of "tcp and syn and ack"`) {
		t.Errorf("the table does not show what the fault step did:\n%s", table.String())
	}
	var js strings.Builder
	if err := WriteJSON(&js, []*Report{rep}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"did": "server:: drop nth 1 of \"tcp and syn and ack\""`) {
		t.Errorf("the JSON report has no did: %s", js.String())
	}
}
