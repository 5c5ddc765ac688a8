package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"socketlab/helpers/impair/shape"
	"socketlab/internal/images"
	"socketlab/labctl/backend"
)

// Heal removes the impairments of node on network ("" for every network;
// node "" for every node of the lab) and clears what may outlive a helper
// (a rate's qdisc), so the link is as Docker made it. Healing a link that is
// not impaired changes nothing.
func (l *Lab) Heal(ctx context.Context, node, network string) error {
	if err := l.checkTarget(ctx, node, network); err != nil {
		return err
	}
	sel := backend.Selector{LabelLab: l.name, LabelRole: RoleHelper, LabelHelper: PurposeImpair}
	if node != "" {
		sel[LabelNode] = node
	}
	if network != "" {
		sel[LabelImpairNetwork] = network
	}
	hs, _, err := l.e.b.List(ctx, sel)
	if err != nil {
		return err
	}
	// Stopped with SIGTERM, a helper takes its rules and qdiscs away itself.
	errs := parallel(len(hs), func(i int) error {
		if hs[i].Running {
			_ = l.e.b.Stop(ctx, hs[i].ID, impairGrace)
		}
		return l.e.b.Remove(ctx, hs[i].ID)
	})
	if err := joinErrs(errs); err != nil {
		return fmt.Errorf("heal: remove impair helpers: %w", err)
	}
	// What a killed helper could not take away: clear it on each link.
	type key struct{ node, network string }
	var todo []key
	if node != "" {
		todo = append(todo, key{node, network})
	}
	for _, h := range hs {
		k := key{h.Labels[LabelNode], network}
		if !slices.Contains(todo, k) {
			todo = append(todo, k)
		}
	}
	errs = parallel(len(todo), func(i int) error { return l.clearLinks(ctx, todo[i].node, todo[i].network) })
	return joinErrs(errs)
}

// checkTarget fails when node or network, where given, is not in the lab.
func (l *Lab) checkTarget(ctx context.Context, node, network string) error {
	if node != "" {
		if _, err := l.container(ctx, node); err != nil {
			return err
		}
	}
	if network != "" {
		if _, err := l.network(ctx, network); err != nil {
			return err
		}
	}
	return nil
}

// clearLinks runs `impair clear` on node's interfaces on network ("": all);
// a node that is not running has nothing to clear (its network namespace
// went with it).
func (l *Lab) clearLinks(ctx context.Context, node, network string) error {
	c, err := l.container(ctx, node)
	if err != nil || !c.Running {
		return nil // gone or stopped: so are its interfaces
	}
	links, err := l.links(ctx, c, node, network)
	if err != nil {
		return nil // not on that network any more: nothing to clear there
	}
	ref := images.Ref(images.Impair, l.o.tag)
	if _, err := l.e.b.Image(ctx, ref); err != nil {
		return nil // no helper image: no helper can have left anything
	}
	cmd := []string{"clear"}
	for _, lk := range links {
		cmd = append(cmd, lk.iface())
	}
	stderr := &lockedWriter{w: &strings.Builder{}}
	h, err := l.RunHelper(ctx, node, backend.HelperSpec{Purpose: PurposeImpair + "-clear", Image: ref, Cmd: cmd,
		Caps: images.Caps(images.Impair), Stderr: stderr})
	if err != nil {
		return fmt.Errorf("heal %s: %w", node, err)
	}
	go io.Copy(io.Discard, h.Stdout())
	code, werr := h.Wait(ctx)
	rctx, cancel := quietly(ctx)
	defer cancel()
	_ = h.Remove(rctx, 0)
	switch {
	case werr != nil:
		return fmt.Errorf("heal %s: %w", node, werr)
	case code != 0:
		return fmt.Errorf("heal %s: impair clear exited with %d%s", node, code, stderrTail(stderr.String()))
	}
	return nil
}

// impairmentsOf reads the impairments in force from a lab's containers.
func impairmentsOf(ctrs []backend.Container) []Impairment {
	var out []Impairment
	for _, c := range ctrs {
		if c.Labels[LabelRole] != RoleHelper || c.Labels[LabelHelper] != PurposeImpair {
			continue
		}
		im := Impairment{Node: c.Labels[LabelNode], Network: c.Labels[LabelImpairNetwork],
			Interface: c.Labels[LabelImpairInterface], Running: c.Running, Helper: c.Name}
		if err := json.Unmarshal([]byte(c.Labels[LabelImpairSettings]), &im.Settings); err == nil {
			if s, err := shape.Parse(im.Settings); err == nil {
				im.Summary = s.String()
			}
		}
		out = append(out, im)
	}
	slices.SortFunc(out, func(a, b Impairment) int {
		return strings.Compare(a.Node+"\x00"+a.Network, b.Node+"\x00"+b.Network)
	})
	return out
}

// impairNode makes n's links impaired as the scenario's attachments say,
// once n runs and before it is called ready: a link already impaired with
// the same settings is left alone, another is impaired anew, and one an
// earlier up impaired that the scenario no longer impairs is healed
// (impairments made by hand are left alone). New helpers carry the up's
// label, so a failed up sweeps them with the rest.
// It tells whether it changed anything.
func (u *upper) impairNode(ctx context.Context, n *nodePlan) (changed bool, err error) {
	l := &Lab{name: u.p.name, e: u.e, o: u.o}
	hs, _, err := u.e.b.List(ctx, backend.Selector{LabelLab: u.p.name, LabelRole: RoleHelper, LabelHelper: PurposeImpair, LabelNode: n.name})
	if err != nil {
		return false, err
	}
	have := map[string]backend.Container{}
	for _, h := range hs {
		have[h.Labels[LabelImpairNetwork]] = h
	}
	declared := map[string]bool{}
	for _, im := range n.impairs {
		declared[im.network] = true
		vals, _ := json.Marshal(im.settings.Values())
		if h, ok := have[im.network]; ok && h.Running && h.Labels[LabelImpairSettings] == string(vals) {
			continue
		}
		changed = true
		if _, err := l.impair(ctx, n.name, im.network, im.settings, map[string]string{LabelUp: u.p.upID}); err != nil {
			return changed, err
		}
	}
	for net, h := range have {
		if !declared[net] && h.Labels[LabelUp] != "" {
			changed = true
			if err := l.Heal(ctx, n.name, net); err != nil {
				return changed, err
			}
		}
	}
	return changed, nil
}

// reimpair applies again, in node's new network namespace (a stopped node
// that starts gets one), the impairments its helpers were holding in the
// old one.
func (l *Lab) reimpair(ctx context.Context, node string) error {
	hs, _, err := l.e.b.List(ctx, backend.Selector{LabelLab: l.name, LabelRole: RoleHelper, LabelHelper: PurposeImpair, LabelNode: node})
	if err != nil || len(hs) == 0 {
		return err
	}
	for _, h := range hs {
		var vals map[string]string
		_ = json.Unmarshal([]byte(h.Labels[LabelImpairSettings]), &vals)
		s, err := shape.Parse(vals)
		net := h.Labels[LabelImpairNetwork]
		if err != nil {
			return fmt.Errorf("impair %s:%s again: helper %s has unreadable settings: %w", node, net, h.Name, err)
		}
		var extra map[string]string
		if up := h.Labels[LabelUp]; up != "" {
			extra = map[string]string{LabelUp: up}
		}
		if _, err := l.impair(ctx, node, net, s, extra); err != nil {
			return fmt.Errorf("impair %s:%s again after its start: %w", node, net, err)
		}
	}
	return nil
}
