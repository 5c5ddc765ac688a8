package check

import (
	"context"
	"errors"
	"strings"
	"testing"

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
		{Node: "client", Action: scenario.ActionImpair, Network: "front", Impair: &shape.Settings{Loss: 20}},
		{Node: "client", Action: scenario.ActionHeal, Network: "front"},
		{Node: "client", Action: scenario.ActionImpair, Impair: &shape.Settings{Rate: 1e6}},
		{Action: scenario.ActionHeal},
		{Node: "client", Action: scenario.ActionImpair, Network: "gone", Impair: &shape.Settings{Loss: 1}},
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
