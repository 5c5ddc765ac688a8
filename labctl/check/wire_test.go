package check

import (
	"context"
	"strings"
	"testing"
	"time"

	"socketlab/labctl/capture"
	"socketlab/labctl/ladder"
	"socketlab/labctl/scenario"
)

// recordingLab is a captured lab whose capture saw no packet, and whose
// kernel dropped some at gapAt ("" for none).
type recordingLab struct {
	fakeLab
	gapAt string
}

func (r *recordingLab) Annotate(time.Time, string) {}
func (r *recordingLab) Packets(context.Context, string, time.Time, time.Time) []capture.Packet {
	return nil
}
func (r *recordingLab) Ladder(_ context.Context, _ string, from, to time.Time) *ladder.Ladder {
	l := &ladder.Ladder{}
	if r.gapAt != "" {
		l.Gaps = []ladder.Gap{{Where: r.gapAt, From: from, To: to, Dropped: 7}}
	}
	return l
}

// A packet the capture dropped is never judged as missing from the wire:
// where the kernel dropped packets at the step's node, expect.wire is not
// judged and the step says the capture is incomplete.
func TestWireIncompleteCapture(t *testing.T) {
	yes := true
	for _, c := range []struct {
		name, gapAt, outcome, says string
	}{
		{"complete capture: judged", "", Fail, "wire.handshake"},
		{"drops at the step's node: not judged", "client:lab", Error, "the capture is incomplete: the kernel dropped 7 packets at client:lab"},
		{"drops at another node: judged", "welcome:lab", Fail, "wire.handshake"},
	} {
		t.Run(c.name, func(t *testing.T) {
			lab := &recordingLab{fakeLab: fakeLab{answers: map[string]string{
				"client: sock welcome --json --timeout 10s welcome": okJSON("Welcome!\n", "IPv4"),
			}}, gapAt: c.gapAt}
			st := &scenario.Step{Node: "client", Kind: &scenario.RunStep{Client: "welcome", Target: "welcome", Expect: &scenario.Expect{Wire: &scenario.Wire{Handshake: &yes}}}}
			rep := Run(context.Background(), lab, &scenario.Scenario{Name: "t", Steps: []*scenario.Step{st}}, nil)
			r := rep.Results[0]
			if r.Outcome != c.outcome || !strings.Contains(r.Message+r.Expected, c.says) {
				t.Errorf("outcome %s, message %q, expected %q; want %s saying %q", r.Outcome, r.Message, r.Expected, c.outcome, c.says)
			}
			if r.Ladder == nil {
				t.Error("the step has no ladder")
			}
		})
	}
}
