package scenario

import (
	"fmt"
	"sort"
)

// steps checks the steps in order: what every step has (a unique name, a
// positive timeout, a kind), then what its kind requires, against the lab
// as the steps before it left it.
func (v *validator) steps() {
	names := map[string]int{}
	for i, st := range v.s.Steps {
		path := fmt.Sprintf("steps[%d]", i)
		if st == nil {
			v.errorf(path, "", "the step is nil")
			continue
		}
		if st.Name != "" {
			if j, dup := names[st.Name]; dup {
				v.errorf(path+".name", fmt.Sprintf("steps[%d] has it too; reports tell steps apart by name", j), "step name %q is used twice", st.Name)
			} else {
				names[st.Name] = i
			}
		}
		if p := path + ".timeout"; st.Timeout < 0 || st.Timeout == 0 && v.s.written(p) && !v.bad(p) {
			v.errorf(p, "", "timeout %s is not positive", st.Timeout)
		}
		switch {
		case st.Kind != nil:
			st.Kind.validate(v, path, i, st)
		case v.s.src == nil: // from a file, decoding has said why it has none
			v.errorf(path, "give it a Kind: a RunStep, an ExecStep or an action such as StopStep", "the step has no kind")
		}
	}
}

// node checks the node a step names; it returns it, or nil.
func (v *validator) node(path string, st *Step, hint string) *Node {
	if st.Node == "" {
		if !v.bad(path + ".node") {
			v.errorf(path, hint, "the step names no node")
		}
		return nil
	}
	n := v.nodes[st.Node]
	if n == nil {
		h := didYouMean(st.Node, v.names)
		if h == "" && len(v.names) > 0 {
			h = "the lab's nodes are " + quoteList(v.names)
		}
		v.errorf(path+".node", h, "node %q is not defined", st.Node)
	}
	return n
}

// running reports n when a step before this one stopped it; it tells
// whether n runs.
func (v *validator) running(path string, n *Node) bool {
	if by := v.state[n.Name].stoppedBy; by >= 0 {
		v.errorf(path+".node", "start it in an earlier step", "node %q was stopped by steps[%d]", n.Name, by)
		return false
	}
	return true
}

// network checks the network a step names; it returns its name, or "".
func (v *validator) network(path, name string) string {
	if v.nets[name] == nil {
		h := didYouMean(name, v.netNames)
		if h == "" && len(v.netNames) > 0 {
			h = "the lab's networks are " + quoteList(v.netNames)
		}
		v.errorf(path+".network", h, "network %q is not defined", name)
		return ""
	}
	return name
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// setKeys are the keys of fields that are set, sorted.
func setKeys(fields map[string]bool) []string {
	keys := make([]string, 0, len(fields))
	for k, set := range fields {
		if set {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}
