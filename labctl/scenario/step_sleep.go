package scenario

import (
	"context"
	"fmt"
	"time"
)

// SleepStep waits: for a timer in a node to run out, a client in the
// background to get somewhere, a link's queue to drain.
type SleepStep struct {
	// For is how long.
	For Duration
}

func decodeSleep(s *stepDecoder) StepKind {
	s.noMeaning("sleep", false, false, true)
	return SleepStep{For: s.k.For}
}

// Key is "sleep".
func (SleepStep) Key() string { return "sleep" }

// Describe is "sleep 2s".
func (k SleepStep) Describe(*Step) string { return fmt.Sprintf("sleep %s", k.For) }

// Explain is "": Describe says it.
func (SleepStep) Explain(*Step) string { return "" }

// Cost is the time it sleeps.
func (k SleepStep) Cost(*Step) time.Duration { return time.Duration(k.For) }

// Act waits For, or until ctx ends.
func (k SleepStep) Act(ctx context.Context, _ Controls, _ *Step) error {
	select {
	case <-time.After(time.Duration(k.For)):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (k SleepStep) keys(sk *stepKeys) { sk.Action, sk.For = k.Key(), k.For }

// validate checks for (given, positive) and the node, which a sleep may
// name (a step in a node's story) but need not.
func (k SleepStep) validate(v *validator, path string, _ int, st *Step) {
	p := path + ".for"
	switch {
	case k.For == 0 && !v.bad(p) && !v.s.written(p):
		v.errorf(path, "add for: with how long, e.g. for: 2s", "a sleep step needs for")
	case k.For < 0 || k.For == 0 && v.s.written(p) && !v.bad(p):
		v.errorf(p, "", "for %s is not positive", k.For)
	}
	if st.Node != "" {
		v.node(path, st, "")
	}
}
