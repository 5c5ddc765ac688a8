package check

import (
	"context"
	"slices"
	"testing"
	"time"

	"socketlab/labctl/capture"
	"socketlab/labctl/scenario"
)

// recordedLab is a fakeLab with a capture that counts what it is asked for.
type recordedLab struct {
	*fakeLab
	listed []string // the nodes whose packets were asked for
}

func (r *recordedLab) Annotate(time.Time, string) {}
func (r *recordedLab) Packets(_ context.Context, node string, _, _ time.Time) []capture.Packet {
	r.listed = append(r.listed, node)
	return nil
}

// Wrapped in WireOnly, a recorded lab is asked for a step's packets only
// when the step checks the wire; unwrapped, for every step.
func TestWireOnlyListsPacketsOfWireStepsOnly(t *testing.T) {
	yes := true
	sc := &scenario.Scenario{Name: "w", Steps: []*scenario.Step{
		{Name: "plain", Node: "a", Kind: &scenario.ExecStep{Argv: []string{"true"}}},
		{Name: "wire", Node: "b", Kind: &scenario.ExecStep{Argv: []string{"true"}, Expect: &scenario.Expect{Wire: &scenario.Wire{Handshake: &yes}}}},
	}}
	for _, c := range []struct {
		name string
		wrap func(*recordedLab) Lab
		want []string
	}{
		{"every step", func(r *recordedLab) Lab { return r }, []string{"a", "b"}},
		{"wire only", func(r *recordedLab) Lab { return WireOnly{RecordedLab: r} }, []string{"b"}},
	} {
		r := &recordedLab{fakeLab: &fakeLab{}}
		Run(context.Background(), c.wrap(r), sc, nil)
		if !slices.Equal(r.listed, c.want) {
			t.Errorf("%s: packets asked for %v, want %v", c.name, r.listed, c.want)
		}
	}
}
