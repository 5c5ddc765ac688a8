package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"socketlab/helpers/impair/shape"
	"socketlab/internal/images"
	"socketlab/labctl/backend"
)

// Labels of an impairment helper (besides LabelHelper = PurposeImpair), so
// that status and heal find what is impaired without asking the helper.
const (
	// LabelImpairNetwork is the lab network whose link the helper impairs.
	LabelImpairNetwork = "socketlab.impair.network"
	// LabelImpairInterface is the node's interface on that network.
	LabelImpairInterface = "socketlab.impair.interface"
	// LabelImpairSettings holds the settings as JSON, keyed as shape.Fields
	// ({"delay":"50ms","loss":"20%"}).
	LabelImpairSettings = "socketlab.impair.settings"
)

// PurposeImpair is the LabelHelper value of impairment helpers.
const PurposeImpair = "impair"

// ErrUnsupported: the kernel of the engine has neither netem nor the
// pieces of the fallback the settings need; the message says what lacks.
var ErrUnsupported = errors.New("not supported by this engine's kernel")

// impairStart bounds how long a helper may take to say it applied.
const impairStart = 30 * time.Second

// impairGrace is how long a helper gets to revert after SIGTERM.
const impairGrace = 5 * time.Second

// Impairment is one link impaired in a lab: what a node's interface on one
// network sends is delayed, dropped, duplicated... as Settings say.
type Impairment struct {
	Node      string `json:"node"`
	Network   string `json:"network"`
	Interface string `json:"interface,omitempty"`
	// Settings are in their text forms, keyed as shape.Fields.
	Settings map[string]string `json:"settings"`
	// Summary is the settings for a person, e.g. "delay 50ms loss 20%".
	Summary string `json:"summary"`
	// Mechanism is how the kernel carries it out (shape.MechanismNetem or
	// shape.MechanismFallback); known only to the call that applied it.
	Mechanism string `json:"mechanism,omitempty"`
	// Running is false when the helper has died: the link then passes
	// traffic again (a rate limit may remain until heal).
	Running bool `json:"running"`
	// Helper is the helper container's name.
	Helper string `json:"helper"`
}

// Impair is ImpairLinks for callers that need only to know it worked (the
// steps of a scenario).
func (l *Lab) Impair(ctx context.Context, node, network string, s shape.Settings) error {
	_, err := l.ImpairLinks(ctx, node, network, s)
	return err
}

// ImpairLinks impairs what node sends on network ("" for every network the
// node is on) with s, replacing any impairment there, and returns once the
// kernel carries it out, with what it impaired. The helper stays in the node's network namespace
// until Heal (or Down) removes it; if it dies the link passes traffic again.
// On error, nothing of this call is left in place.
func (l *Lab) ImpairLinks(ctx context.Context, node, network string, s shape.Settings) ([]Impairment, error) {
	return l.impair(ctx, node, network, s, nil)
}

// impair is ImpairLinks with extra labels for the helpers.
func (l *Lab) impair(ctx context.Context, node, network string, s shape.Settings, extra map[string]string) ([]Impairment, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%w: impair %s: %w", ErrInvalid, node, err)
	}
	links, ref, err := l.linksToChange(ctx, "impair", node, network)
	if err != nil {
		return nil, err
	}
	var done []Impairment
	for _, lk := range links {
		if err := l.Heal(ctx, node, lk.Network); err != nil {
			return nil, l.undo(ctx, node, done, err)
		}
		im, err := l.impairLink(ctx, node, ref, lk, s, extra)
		if err != nil {
			return nil, l.undo(ctx, node, done, err)
		}
		done = append(done, im)
	}
	return done, nil
}

// undo heals what a failed Impair applied before err.
func (l *Lab) undo(ctx context.Context, node string, done []Impairment, err error) error {
	ctx, cancel := quietly(ctx)
	defer cancel()
	for _, im := range done {
		if herr := l.Heal(ctx, node, im.Network); herr != nil {
			return fmt.Errorf("%w (and healing %s:%s: %v)", err, node, im.Network, herr)
		}
	}
	return err
}

// linksToChange finds, for command what (impair, fault), node's links on
// network ("": every network of the node), which must be running, and the
// impairment helper's image, which must be there.
func (l *Lab) linksToChange(ctx context.Context, what, node, network string) ([]link, string, error) {
	c, err := l.container(ctx, node)
	if err != nil {
		return nil, "", err
	}
	if !c.Running {
		return nil, "", fmt.Errorf("%s %s: %w (labctl status shows its state)", what, node, ErrNotRunning)
	}
	links, err := l.links(ctx, c, node, network)
	if err != nil {
		return nil, "", err
	}
	ref := images.Ref(images.Impair, l.o.tag)
	if _, err := l.e.b.Image(ctx, ref); err != nil {
		if errors.Is(err, backend.ErrNotFound) {
			return nil, "", fmt.Errorf("%w: %s: run make images (or scripts/images.sh impair)", ErrImageMissing, ref)
		}
		return nil, "", err
	}
	return links, ref, nil
}

// link is a node's interface on one lab network.
type link struct {
	Network, Interface, MAC string
}

// links finds node's interfaces on network, or on every lab network the
// node is on when network is "".
func (l *Lab) links(ctx context.Context, c backend.Container, node, network string) ([]link, error) {
	ins, err := l.e.b.Inspect(ctx, c.ID)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", node, err)
	}
	_, nets, err := l.e.resources(ctx, backend.Selector{LabelLab: l.name})
	if err != nil {
		return nil, err
	}
	byDocker := map[string]string{}
	var labNets []string
	for _, n := range nets {
		byDocker[n.Name] = n.Labels[LabelNetwork]
		labNets = append(labNets, n.Labels[LabelNetwork])
	}
	var out []link
	var on []string
	for _, ep := range ins.Endpoints {
		name, ok := byDocker[ep.Network]
		if !ok {
			continue // joined outside the lab
		}
		on = append(on, name)
		if network == "" || network == name {
			out = append(out, link{Network: name, Interface: ep.Interface, MAC: ep.MAC})
		}
	}
	slices.Sort(on)
	if len(out) == 0 {
		switch {
		case network == "":
			return nil, fmt.Errorf("%w: node %s is on no network of lab %s", ErrNoNetwork, node, l.name)
		case slices.Contains(labNets, network):
			return nil, fmt.Errorf("%w: node %s is not on network %q (it is on: %s)", ErrNoNetwork, node, network, strings.Join(on, ", "))
		default:
			slices.Sort(labNets)
			return nil, fmt.Errorf("%w %q in lab %s (networks of %s: %s)", ErrNoNetwork, network, l.name, node, strings.Join(on, ", "))
		}
	}
	slices.SortFunc(out, func(a, b link) int { return strings.Compare(a.Network, b.Network) })
	for _, lk := range out {
		if lk.MAC == "" && lk.Interface == "" {
			return nil, fmt.Errorf("impair %s:%s: the engine reports neither the interface nor its MAC address", node, lk.Network)
		}
	}
	return out, nil
}

// iface is how the helper is told which interface: by MAC address, which
// the engine always knows, else by name.
func (lk link) iface() string {
	if lk.MAC != "" {
		return lk.MAC
	}
	return lk.Interface
}

// impairLink runs one helper impairing lk and waits for its "applied".
func (l *Lab) impairLink(ctx context.Context, node, ref string, lk link, s shape.Settings, extra map[string]string) (Impairment, error) {
	vals, _ := json.Marshal(s.Values())
	labels := map[string]string{
		LabelImpairNetwork: lk.Network, LabelImpairInterface: lk.Interface, LabelImpairSettings: string(vals),
	}
	maps.Copy(labels, extra)
	stderr := &lockedWriter{w: &strings.Builder{}}
	h, err := l.RunHelper(ctx, node, backend.HelperSpec{
		Purpose: PurposeImpair,
		Image:   ref,
		Cmd:     append([]string{"apply", lk.iface()}, s.Args()...),
		Caps:    images.Caps(images.Impair),
		Labels:  labels,
		Stderr:  stderr,
	})
	if err != nil {
		return Impairment{}, fmt.Errorf("impair %s:%s: %w", node, lk.Network, err)
	}
	ev, err := firstEvent(ctx, h.Stdout())
	if err == nil && ev.Event == shape.EventApplied {
		go io.Copy(io.Discard, h.Stdout()) // its "cleared" when it is stopped
		return Impairment{
			Node: node, Network: lk.Network, Interface: firstNonEmpty(ev.Interface, lk.Interface),
			Settings: s.Values(), Summary: s.String(), Mechanism: ev.Mechanism, Running: true,
			Helper: shortID(h.ID()),
		}, nil
	}
	rctx, cancel := quietly(ctx)
	defer cancel()
	code := -1
	if err == nil { // an error event: the helper exits by itself
		wctx, wcancel := context.WithTimeout(rctx, impairGrace)
		code, _ = h.Wait(wctx)
		wcancel()
	}
	_ = h.Remove(rctx, impairGrace)
	where := fmt.Sprintf("impair %s:%s", node, lk.Network)
	switch {
	case err != nil:
		return Impairment{}, fmt.Errorf("%s: the helper said nothing: %w%s", where, err, stderrTail(stderr.String()))
	case code == shape.ExitUnsupported:
		return Impairment{}, fmt.Errorf("%s: %w: %s", where, ErrUnsupported, ev.Error)
	case code == shape.ExitUsage:
		return Impairment{}, fmt.Errorf("%w: %s: %s", ErrInvalid, where, ev.Error)
	case ev.Error != "":
		return Impairment{}, fmt.Errorf("%s: %s", where, ev.Error)
	}
	return Impairment{}, fmt.Errorf("%s: the helper said %q, not %q", where, ev.Event, shape.EventApplied)
}

func shortID(id string) string { return id[:min(12, len(id))] }

// lockedWriter lets the helper's stderr be written by the backend's copier
// and read by the caller.
type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.String()
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func stderrTail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// firstEvent reads the helper's first JSON line.
func firstEvent(ctx context.Context, r io.Reader) (shape.Event, error) {
	type result struct {
		ev  shape.Event
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var ev shape.Event
		line, err := bufio.NewReader(r).ReadBytes('\n')
		if err == nil || len(line) > 0 {
			err = json.Unmarshal(line, &ev)
		}
		ch <- result{ev, err}
	}()
	t := time.NewTimer(impairStart)
	defer t.Stop()
	select {
	case res := <-ch:
		return res.ev, res.err
	case <-t.C:
		return shape.Event{}, fmt.Errorf("no answer in %s", impairStart)
	case <-ctx.Done():
		return shape.Event{}, ctx.Err()
	}
}
