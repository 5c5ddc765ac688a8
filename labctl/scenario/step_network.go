package scenario

import (
	"context"
	"fmt"
	"time"
)

// DisconnectStep takes the step's node off a network.
type DisconnectStep struct {
	// Network is the network it leaves.
	Network string
}

// ConnectStep joins the step's node to a network (again).
type ConnectStep struct {
	// Network is the network it joins.
	Network string
}

func decodeDisconnect(s *stepDecoder) StepKind {
	s.noMeaning("disconnect", true, false, false)
	return DisconnectStep{Network: s.k.Network}
}

func decodeConnect(s *stepDecoder) StepKind {
	s.noMeaning("connect", true, false, false)
	return ConnectStep{Network: s.k.Network}
}

// Key is "disconnect".
func (DisconnectStep) Key() string { return "disconnect" }

// Key is "connect".
func (ConnectStep) Key() string { return "connect" }

// Describe is "disconnect NODE from NETWORK".
func (k DisconnectStep) Describe(st *Step) string {
	return fmt.Sprintf("%s %s from %s", k.Key(), st.Node, k.Network)
}

// Describe is "connect NODE from NETWORK", as reports have always named it.
func (k ConnectStep) Describe(st *Step) string {
	return fmt.Sprintf("%s %s from %s", k.Key(), st.Node, k.Network)
}

// Explain says what leaving a network does.
func (k DisconnectStep) Explain(st *Step) string {
	return fmt.Sprintf("%s lost its interface on %s: packets to its address there go nowhere, its names there no longer resolve", st.Node, k.Network)
}

// Explain says what joining a network does.
func (k ConnectStep) Explain(st *Step) string {
	return fmt.Sprintf("%s has an interface on %s again, and its name resolves there", st.Node, k.Network)
}

// Cost is a moment.
func (DisconnectStep) Cost(*Step) time.Duration { return 100 * time.Millisecond }

// Cost is a moment.
func (ConnectStep) Cost(*Step) time.Duration { return 100 * time.Millisecond }

// Act takes the node off the network.
func (k DisconnectStep) Act(ctx context.Context, l Controls, st *Step) error {
	return l.Disconnect(ctx, st.Node, k.Network)
}

// Act joins the node to the network.
func (k ConnectStep) Act(ctx context.Context, l Controls, st *Step) error {
	return l.Connect(ctx, st.Node, k.Network)
}

func (k DisconnectStep) keys(sk *stepKeys) { sk.Action, sk.Network = k.Key(), k.Network }
func (k ConnectStep) keys(sk *stepKeys)    { sk.Action, sk.Network = k.Key(), k.Network }

func (k DisconnectStep) validate(v *validator, path string, _ int, st *Step) {
	ns := v.link(path, st, k.Key(), k.Network)
	if ns == nil {
		return
	}
	if !ns.nets[k.Network] {
		hint := fmt.Sprintf("at this step it is on %s", quoteList(sortedKeys(ns.nets)))
		if len(ns.nets) == 0 {
			hint = "at this step it is on no network"
		}
		v.errorf(path+".network", hint, "node %q is not on network %q", st.Node, k.Network)
		return
	}
	delete(ns.nets, k.Network)
	delete(ns.aliasNets, k.Network)
}

func (k ConnectStep) validate(v *validator, path string, _ int, st *Step) {
	ns := v.link(path, st, k.Key(), k.Network)
	if ns == nil {
		return
	}
	if ns.nets[k.Network] {
		v.errorf(path+".network", "disconnect it in an earlier step", "node %q is already on network %q", st.Node, k.Network)
		return
	}
	ns.nets[k.Network] = true
}

// link checks the node and network of a connect or disconnect (action);
// it returns the node's state, or nil when either is wrong.
func (v *validator) link(path string, st *Step, action, network string) *nodeState {
	n := v.node(path, st, fmt.Sprintf("add node: with the node to %s", action))
	if n == nil {
		return nil
	}
	if network == "" {
		if !v.bad(path + ".network") {
			v.errorf(path, fmt.Sprintf("add network: with the network to %s", action), "a %s step needs network", action)
		}
		return nil
	}
	if v.network(path, network) == "" {
		return nil
	}
	return v.state[n.Name]
}
