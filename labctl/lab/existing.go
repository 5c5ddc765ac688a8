package lab

import (
	"context"
	"fmt"
	"strings"

	"socketlab/labctl/backend"
)

// checkExisting compares what the engine holds with the plan: the same
// definitions may stay, anything else is a conflict. It also finds runtime
// names the lab needs that belong to someone else.
func (u *upper) checkExisting(ctx context.Context, ctrs []backend.Container, nets []backend.Network) error {
	var diffs []string
	want := map[string]*netPlan{}
	for _, n := range u.p.nets {
		want[n.net.Name] = n
	}
	for _, n := range nets {
		name := n.Labels[LabelNetwork]
		switch w, ok := want[name]; {
		case !ok:
			diffs = append(diffs, "network "+name+" is not in the scenario")
		case n.Labels[LabelSpec] != w.spec.Labels[LabelSpec]:
			diffs = append(diffs, "network "+name+" is defined differently")
		}
	}
	wantNode := map[string]*nodePlan{}
	for _, n := range u.p.nodes {
		wantNode[n.name] = n
	}
	for _, c := range ctrs {
		name := c.Labels[LabelNode]
		w, ok := wantNode[name]
		switch {
		case !ok:
			diffs = append(diffs, "node "+name+" is not in the scenario")
		case c.Labels[LabelSpec] != w.spec.Labels[LabelSpec]:
			diffs = append(diffs, "node "+name+" is defined differently")
		case c.ImageID != u.images[w.spec.Image].ID:
			diffs = append(diffs, "node "+name+" runs an older build of "+w.image)
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%w: lab %s: %s: run labctl down %s first, or labctl up --recreate",
			ErrConflict, u.p.name, strings.Join(diffs, "; "), u.p.name)
	}

	// Names the lab will create must be free.
	allCtrs, allNets, err := u.e.b.List(ctx, nil)
	if err != nil {
		return err
	}
	var taken []string
	for _, n := range u.p.nets {
		for _, s := range allNets {
			if s.Name == n.spec.Name && s.Labels[LabelLab] != u.p.name {
				taken = append(taken, "network "+s.Name)
			}
		}
	}
	for _, n := range u.p.nodes {
		for _, c := range allCtrs {
			if c.Name == n.spec.Name && c.Labels[LabelLab] != u.p.name {
				taken = append(taken, "container "+c.Name)
			}
		}
	}
	if len(taken) > 0 {
		return fmt.Errorf("%w: %s already exist%s and %s not part of lab %s: remove %s, or give the lab another name (labctl up --name)",
			ErrNameTaken, strings.Join(taken, ", "), plural(len(taken), "s", ""), plural(len(taken), "is", "are"), u.p.name, plural(len(taken), "it", "them"))
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
