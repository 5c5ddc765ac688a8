// Package tap captures a running lab's traffic. It resolves what to capture
// (a node, a node on one network, every node of a network) against the
// lab's status, runs one capture helper (socketlab/capture) per node in the
// node's network namespace, and merges their pcapng streams into one
// time-ordered capture (capture.Merger): a file, a live view, the packets
// of a test's steps.
package tap

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"socketlab/internal/spelling"
	"socketlab/labctl/lab"
)

// Target is one node to capture and which of its interfaces.
type Target struct {
	Node string
	// Interfaces maps the node's interface names (eth0...) to the lab's
	// network names; empty captures every interface the node has, named
	// by the kernel.
	Interfaces map[string]string
}

// Networks are the networks the target captures, sorted.
func (t Target) Networks() []string {
	nets := slices.Collect(maps.Values(t.Interfaces))
	slices.Sort(nets)
	return nets
}

// ErrTarget is a capture target that does not name a running node of the
// lab or one of its networks; the error says which and what there is.
type ErrTarget struct{ msg string }

func (e *ErrTarget) Error() string { return e.msg }

func targetErr(format string, a ...any) error { return &ErrTarget{fmt.Sprintf(format, a...)} }

// Resolve turns args (NODE or NODE:NETWORK) and network (every node on it,
// when not "") into targets, checking each against st: the node exists and
// runs, it is on the network. A node named twice captures the union of
// what was asked. The error is an *ErrTarget.
func Resolve(st *lab.Status, args []string, network string) ([]Target, error) {
	if len(args) == 0 && network == "" {
		return nil, targetErr("say what to capture: NODE, NODE:NETWORK or --network NETWORK (the lab's nodes: %s)", strings.Join(nodeNames(st), ", "))
	}
	var out []Target
	add := func(node *lab.NodeStatus, net string) error {
		if node.State != "running" {
			return targetErr("node %q is %s, not running: start it first (labctl status shows its state)", node.Name, node.State)
		}
		i := slices.IndexFunc(out, func(t Target) bool { return t.Node == node.Name })
		if i < 0 {
			out = append(out, Target{Node: node.Name, Interfaces: map[string]string{}})
			i = len(out) - 1
		}
		for _, a := range node.Addresses {
			if net != "" && a.Network != net {
				continue
			}
			if a.Interface == "" {
				// The engine cannot tell interface names: capture them all.
				out[i].Interfaces = map[string]string{}
				return nil
			}
			out[i].Interfaces[a.Interface] = a.Network
		}
		return nil
	}
	if network != "" {
		if err := checkNetwork(st, network); err != nil {
			return nil, err
		}
		found := false
		for i := range st.Nodes {
			n := &st.Nodes[i]
			if !slices.ContainsFunc(n.Addresses, func(a lab.Address) bool { return a.Network == network }) {
				continue
			}
			found = true
			if n.State != "running" {
				continue // a network's capture takes the nodes that run
			}
			if err := add(n, network); err != nil {
				return nil, err
			}
		}
		if !found || len(out) == 0 {
			return nil, targetErr("no running node is on network %q", network)
		}
	}
	for _, arg := range args {
		name, net, _ := strings.Cut(arg, ":")
		i := slices.IndexFunc(st.Nodes, func(n lab.NodeStatus) bool { return n.Name == name })
		if i < 0 {
			hint := suggest(name, nodeNames(st))
			if hint == "" {
				hint = "the lab's nodes: " + strings.Join(nodeNames(st), ", ")
			} else {
				hint = "did you mean " + fmt.Sprintf("%q", hint) + "?"
			}
			return nil, targetErr("lab %s has no node %q (%s)", st.Lab, name, hint)
		}
		n := &st.Nodes[i]
		if net != "" {
			if err := checkNetwork(st, net); err != nil {
				return nil, err
			}
			if !slices.ContainsFunc(n.Addresses, func(a lab.Address) bool { return a.Network == net }) {
				var on []string
				for _, a := range n.Addresses {
					on = append(on, a.Network)
				}
				return nil, targetErr("node %q is not on network %q (it is on: %s)", name, net, strings.Join(on, ", "))
			}
		}
		if err := add(n, net); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// All is every running node of st with every interface: what a test captures.
func All(st *lab.Status) []Target {
	var out []Target
	for _, n := range st.Nodes {
		if n.State != "running" {
			continue
		}
		t := Target{Node: n.Name, Interfaces: map[string]string{}}
		for _, a := range n.Addresses {
			if a.Interface == "" {
				t.Interfaces = map[string]string{}
				break
			}
			t.Interfaces[a.Interface] = a.Network
		}
		out = append(out, t)
	}
	return out
}

func checkNetwork(st *lab.Status, name string) error {
	var names []string
	for _, n := range st.Networks {
		if n.Name == name {
			return nil
		}
		names = append(names, n.Name)
	}
	hint := "the lab's networks: " + strings.Join(names, ", ")
	if s := suggest(name, names); s != "" {
		hint = fmt.Sprintf("did you mean %q?", s)
	}
	return targetErr("lab %s has no network %q (%s)", st.Lab, name, hint)
}

func nodeNames(st *lab.Status) []string {
	var out []string
	for _, n := range st.Nodes {
		out = append(out, n.Name)
	}
	return out
}

// suggest is the candidate closest to word, if it is a likely typo of it.
func suggest(word string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := spelling.Distance(word, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}
