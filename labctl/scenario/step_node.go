package scenario

import (
	"context"
	"fmt"
	"time"
)

// StopStep stops the step's node (docker stop: SIGTERM, then SIGKILL).
type StopStep struct{}

// KillStep kills the step's node (SIGKILL, at once).
type KillStep struct{}

// StartStep starts the step's node again, after a stop or a kill.
type StartStep struct{}

func decodeStop(s *stepDecoder) StepKind { s.noMeaning("stop", false, false, false); return StopStep{} }
func decodeKill(s *stepDecoder) StepKind { s.noMeaning("kill", false, false, false); return KillStep{} }
func decodeStart(s *stepDecoder) StepKind {
	s.noMeaning("start", false, false, false)
	return StartStep{}
}

// Key is "stop".
func (StopStep) Key() string { return "stop" }

// Key is "kill".
func (KillStep) Key() string { return "kill" }

// Key is "start".
func (StartStep) Key() string { return "start" }

// Describe is "stop NODE".
func (k StopStep) Describe(st *Step) string { return k.Key() + " " + st.Node }

// Describe is "kill NODE".
func (k KillStep) Describe(st *Step) string { return k.Key() + " " + st.Node }

// Describe is "start NODE".
func (k StartStep) Describe(st *Step) string { return k.Key() + " " + st.Node }

// Explain says what a stop does to the node's sockets.
func (StopStep) Explain(st *Step) string {
	return fmt.Sprintf("%s got SIGTERM, then SIGKILL had it not ended in time: the kernel closed its sockets, and its addresses no longer answer", st.Node)
}

// Explain says what a kill does to the node's sockets.
func (KillStep) Explain(st *Step) string {
	return fmt.Sprintf("%s got SIGKILL, as in a crash: the kernel closed its sockets, and its addresses no longer answer", st.Node)
}

// Explain says what a start does.
func (StartStep) Explain(st *Step) string {
	return fmt.Sprintf("%s runs again, its program started afresh: nothing of its old connections is left", st.Node)
}

// Cost is a moment.
func (StopStep) Cost(*Step) time.Duration { return 100 * time.Millisecond }

// Cost is a moment.
func (KillStep) Cost(*Step) time.Duration { return 100 * time.Millisecond }

// Cost is a moment.
func (StartStep) Cost(*Step) time.Duration { return 100 * time.Millisecond }

// Act stops the node.
func (StopStep) Act(ctx context.Context, l Controls, st *Step) error { return l.Stop(ctx, st.Node) }

// Act kills the node.
func (KillStep) Act(ctx context.Context, l Controls, st *Step) error { return l.Kill(ctx, st.Node) }

// Act starts the node.
func (StartStep) Act(ctx context.Context, l Controls, st *Step) error { return l.Start(ctx, st.Node) }

func (k StopStep) keys(sk *stepKeys)  { sk.Action = k.Key() }
func (k KillStep) keys(sk *stepKeys)  { sk.Action = k.Key() }
func (k StartStep) keys(sk *stepKeys) { sk.Action = k.Key() }

func (k StopStep) validate(v *validator, path string, i int, st *Step) { v.halt(path, i, st, k.Key()) }
func (k KillStep) validate(v *validator, path string, i int, st *Step) { v.halt(path, i, st, k.Key()) }

func (k StartStep) validate(v *validator, path string, _ int, st *Step) {
	n := v.node(path, st, "add node: with the node to start")
	if n == nil {
		return
	}
	ns := v.state[n.Name]
	if ns.stoppedBy < 0 {
		v.errorf(path+".node", "stop or kill it in an earlier step", "node %q is already running", n.Name)
		return
	}
	ns.stoppedBy = -1
}

// halt checks a stop or kill (action), steps[i]: the node runs until now.
func (v *validator) halt(path string, i int, st *Step, action string) {
	n := v.node(path, st, fmt.Sprintf("add node: with the node to %s", action))
	if n == nil {
		return
	}
	ns := v.state[n.Name]
	if ns.stoppedBy >= 0 {
		v.errorf(path+".node", "start it in between", "node %q was already stopped by steps[%d]", n.Name, ns.stoppedBy)
		return
	}
	ns.stoppedBy = i
}
