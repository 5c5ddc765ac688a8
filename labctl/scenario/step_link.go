package scenario

import (
	"context"
	"fmt"
	"strings"
	"time"

	"socketlab/helpers/impair/shape"
)

// ImpairStep degrades what the step's node sends: on Network, or on every
// network of the node when Network is "".
type ImpairStep struct {
	Network  string
	Settings shape.Settings
}

// HealStep takes impairments and faults away: the node's on Network, every
// one of the node's (Network ""), or the whole lab's (the step's Node "").
type HealStep struct {
	Network string
}

func decodeImpair(s *stepDecoder) StepKind {
	s.noImpairFor()
	k := ImpairStep{Network: s.k.Network}
	switch {
	case s.k.Impair != nil:
		k.Settings = *s.k.Impair
	case !s.d.src.isBad(s.path + ".impair"):
		s.errorf("", "add impair: with the settings, e.g. impair: {loss: 20%}", "an impair step needs impair")
	}
	return k
}

func decodeHeal(s *stepDecoder) StepKind {
	s.noImpairFor()
	if s.k.Impair != nil {
		s.errorf("impair", "remove it: heal takes away every setting", "impair has no meaning in a heal step")
	}
	return HealStep{Network: s.k.Network}
}

// noImpairFor reports for: in an impair or heal step.
func (s *stepDecoder) noImpairFor() {
	if s.k.For != 0 {
		s.errorf("for", "remove it: add a sleep step, then a heal step", "for has no meaning in an impair or heal step")
	}
}

// Key is "impair".
func (ImpairStep) Key() string { return "impair" }

// Key is "heal".
func (HealStep) Key() string { return "heal" }

// Describe is "impair NODE:NETWORK (loss 20%)".
func (k ImpairStep) Describe(st *Step) string {
	return fmt.Sprintf("%s %s (%s)", k.Key(), linkName(st.Node, k.Network), &k.Settings)
}

// Describe is "heal NODE:NETWORK", "heal NODE" or "heal the lab".
func (k HealStep) Describe(st *Step) string { return k.Key() + " " + linkName(st.Node, k.Network) }

// linkName names the links an impair or heal step acts on.
func linkName(node, network string) string {
	switch {
	case node == "":
		return "the lab"
	case network != "":
		return node + ":" + network
	}
	return node
}

// Explain says where the packets are degraded.
func (k ImpairStep) Explain(st *Step) string {
	return fmt.Sprintf("what %s sends on %s now goes through a delay line: %s", st.Node, orEvery(k.Network), &k.Settings)
}

// Explain says what heal takes away.
func (k HealStep) Explain(st *Step) string {
	if st.Node == "" {
		return "every link of the lab carries packets unchanged again (no impairment, no fault)"
	}
	return fmt.Sprintf("what %s sends on %s is no longer degraded, and no fault picks its packets", st.Node, orEvery(k.Network))
}

func orEvery(network string) string {
	if network == "" {
		return "every network"
	}
	return network
}

// Cost is a moment.
func (ImpairStep) Cost(*Step) time.Duration { return 100 * time.Millisecond }

// Cost is a moment.
func (HealStep) Cost(*Step) time.Duration { return 100 * time.Millisecond }

// Act degrades the node's link.
func (k ImpairStep) Act(ctx context.Context, l Controls, st *Step) error {
	return l.Impair(ctx, st.Node, k.Network, k.Settings)
}

// Act takes the impairments and the faults away.
func (k HealStep) Act(ctx context.Context, l Controls, st *Step) error {
	_, err := k.ActReport(ctx, l, st)
	return err
}

// ActReport takes the impairments and the faults away and says what each
// fault did.
func (k HealStep) ActReport(ctx context.Context, l Controls, st *Step) (string, error) {
	if err := l.Heal(ctx, st.Node, k.Network); err != nil {
		return "", err
	}
	lines, err := l.ClearFaults(ctx, st.Node, k.Network)
	return strings.Join(lines, "\n"), err
}

func (k ImpairStep) keys(sk *stepKeys) {
	s := k.Settings
	sk.Action, sk.Network, sk.Impair = k.Key(), k.Network, &s
}

func (k HealStep) keys(sk *stepKeys) { sk.Action, sk.Network = k.Key(), k.Network }

// validate checks the node and network; the settings go together.
func (k ImpairStep) validate(v *validator, path string, _ int, st *Step) {
	// From a file without impair:, decoding has said so.
	if v.linkOf(path, st, k.Key(), k.Network) && (v.s.src == nil || v.s.written(path+".impair")) {
		v.impairSettings(path+".impair", &k.Settings)
	}
}

// validate checks the node and network: heal may leave out the node (every
// link of the lab) or the network (every network of the node).
func (k HealStep) validate(v *validator, path string, _ int, st *Step) {
	if st.Node == "" {
		if k.Network != "" {
			v.errorf(path+".network", "add node: with the node whose link to heal", "a heal step with network names a node too")
		}
		return
	}
	v.linkOf(path, st, k.Key(), k.Network)
}

// linkOf checks the node of an impair or heal step, which must run, and
// the network, when given, which it must be on at this step. It tells
// whether the node runs.
func (v *validator) linkOf(path string, st *Step, action, network string) bool {
	n := v.node(path, st, fmt.Sprintf("add node: with the node whose link to %s", action))
	if n == nil || !v.running(path, n) {
		return false
	}
	if network == "" || v.network(path, network) == "" {
		return true
	}
	if ns := v.state[n.Name]; !ns.nets[network] {
		v.errorf(path+".network", fmt.Sprintf("at this step it is on %s", quoteList(sortedKeys(ns.nets))), "node %q is not on network %q", n.Name, network)
	}
	return true
}
