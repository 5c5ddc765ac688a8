package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"socketlab/helpers/impair/shape"
	"socketlab/internal/images"
	"socketlab/labctl/backend"
)

// Faults aimed at single packets are held by a helper of their own per
// link (the impairment image's `impair fault serve`), in a delay line that
// packets meet before any impairment of the link. A second fault on a link
// is handed to its helper (exec `impair fault add`), so counting goes on
// where it was; status asks each helper what fired (exec `impair fault
// list`): labels cannot change after a container is made.

// PurposeFault is the LabelHelper value of fault helpers.
const PurposeFault = "fault"

// Labels of a fault helper.
const (
	// LabelFaultNetwork is the lab network whose link the helper serves.
	LabelFaultNetwork = "socketlab.fault.network"
	// LabelFaultInterface is the node's interface on that network.
	LabelFaultInterface = "socketlab.fault.interface"
	// LabelFaultTarget is how the helper names the interface (its MAC
	// address, or its name), for `impair fault add|list`.
	LabelFaultTarget = "socketlab.fault.target"
)

// faultBin is the helper's binary in its image.
const faultBin = "/bin/impair"

// FaultLink is the faults in force on one link and what each did.
type FaultLink struct {
	Node      string             `json:"node"`
	Network   string             `json:"network"`
	Interface string             `json:"interface,omitempty"`
	Faults    []shape.FaultState `json:"faults"`
	// Running is false when the helper has died: the link then passes
	// every packet.
	Running bool   `json:"running"`
	Helper  string `json:"helper"`
	// Error says why the helper could not be asked what fired.
	Error string `json:"error,omitempty"`
}

// AddFaults puts faults (validated) on what node sends, or with Ingress
// receives, on network ("" for every network the node is on), after the
// faults already there, and returns every fault in force on those links.
// Each counts the packets it matches from now on. On error, a helper this
// call started is removed again.
func (l *Lab) AddFaults(ctx context.Context, node, network string, faults []shape.Fault) ([]FaultLink, error) {
	if len(faults) == 0 {
		return nil, fmt.Errorf("%w: fault %s: no fault given", ErrInvalid, node)
	}
	for i := range faults {
		if err := faults[i].Validate(); err != nil {
			return nil, fmt.Errorf("%w: fault %s: %w", ErrInvalid, node, err)
		}
	}
	links, ref, err := l.linksToChange(ctx, "fault", node, network)
	if err != nil {
		return nil, err
	}
	hs, err := l.faultHelpers(ctx, node, "")
	if err != nil {
		return nil, err
	}
	have := map[string]backend.Container{}
	for _, h := range hs {
		have[h.Labels[LabelFaultNetwork]] = h
	}
	var args []string
	for _, f := range faults {
		args = append(args, f.Args()...)
	}
	var out []FaultLink
	var started []string
	for _, lk := range links {
		var fl FaultLink
		var err error
		h, ok := have[lk.Network]
		switch {
		case ok && h.Running:
			fl, err = l.addToHelper(ctx, node, lk, h, args)
		default:
			if ok {
				_ = l.e.b.Remove(ctx, h.ID) // died: its faults went with it
			}
			fl, err = l.startFaultHelper(ctx, node, ref, lk, args)
			if err == nil {
				started = append(started, fl.Helper)
			}
		}
		if err != nil {
			rctx, cancel := quietly(ctx)
			for _, id := range started {
				_ = l.e.b.Stop(rctx, id, impairGrace)
				_ = l.e.b.Remove(rctx, id)
			}
			cancel()
			return nil, err
		}
		out = append(out, fl)
	}
	return out, nil
}

// faultHelpers lists the fault helpers of node ("" for every node) on
// network ("" for every network).
func (l *Lab) faultHelpers(ctx context.Context, node, network string) ([]backend.Container, error) {
	sel := backend.Selector{LabelLab: l.name, LabelRole: RoleHelper, LabelHelper: PurposeFault}
	if node != "" {
		sel[LabelNode] = node
	}
	if network != "" {
		sel[LabelFaultNetwork] = network
	}
	hs, _, err := l.e.b.List(ctx, sel)
	return hs, err
}

// startFaultHelper runs `impair fault serve` on lk and waits for its
// "applied".
func (l *Lab) startFaultHelper(ctx context.Context, node, ref string, lk link, args []string) (FaultLink, error) {
	where := fmt.Sprintf("fault %s:%s", node, lk.Network)
	stderr := &lockedWriter{w: &strings.Builder{}}
	h, err := l.RunHelper(ctx, node, backend.HelperSpec{
		Purpose: PurposeFault,
		Image:   ref,
		Cmd:     append([]string{"fault", "serve", lk.iface()}, args...),
		Caps:    images.Caps(images.Impair),
		Labels: map[string]string{LabelFaultNetwork: lk.Network, LabelFaultInterface: lk.Interface,
			LabelFaultTarget: lk.iface()},
		Stderr: stderr,
	})
	if err != nil {
		return FaultLink{}, fmt.Errorf("%s: %w", where, err)
	}
	ev, err := firstEvent(ctx, h.Stdout())
	if err == nil && ev.Event == shape.EventApplied {
		go io.Copy(io.Discard, h.Stdout())
		return FaultLink{Node: node, Network: lk.Network, Interface: firstNonEmpty(ev.Interface, lk.Interface),
			Faults: ev.Faults, Running: true, Helper: shortID(h.ID())}, nil
	}
	rctx, cancel := quietly(ctx)
	defer cancel()
	code := -1
	if err == nil {
		wctx, wcancel := context.WithTimeout(rctx, impairGrace)
		code, _ = h.Wait(wctx)
		wcancel()
	}
	_ = h.Remove(rctx, impairGrace)
	switch {
	case err != nil:
		return FaultLink{}, fmt.Errorf("%s: the helper said nothing: %w%s", where, err, stderrTail(stderr.String()))
	case code == shape.ExitUnsupported:
		return FaultLink{}, fmt.Errorf("%s: %w: %s", where, ErrUnsupported, ev.Error)
	case code == shape.ExitUsage:
		return FaultLink{}, fmt.Errorf("%w: %s: %s", ErrInvalid, where, ev.Error)
	case ev.Error != "":
		return FaultLink{}, fmt.Errorf("%s: %s", where, ev.Error)
	}
	return FaultLink{}, fmt.Errorf("%s: the helper said %q, not %q", where, ev.Event, shape.EventApplied)
}

// addToHelper hands faults (as flags) to the running helper h of lk.
func (l *Lab) addToHelper(ctx context.Context, node string, lk link, h backend.Container, args []string) (FaultLink, error) {
	ev, err := l.askFaultHelper(ctx, h, append([]string{"fault", "add", h.Labels[LabelFaultTarget]}, args...))
	if err != nil {
		return FaultLink{}, fmt.Errorf("fault %s:%s: %w", node, lk.Network, err)
	}
	return FaultLink{Node: node, Network: lk.Network, Interface: firstNonEmpty(ev.Interface, lk.Interface),
		Faults: ev.Faults, Running: true, Helper: shortID(h.ID)}, nil
}

// askFaultHelper runs the helper's binary with argv in the running helper
// h and returns the event it printed.
func (l *Lab) askFaultHelper(ctx context.Context, h backend.Container, argv []string) (shape.Event, error) {
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	code, err := l.e.b.Exec(ctx, h.ID, append([]string{faultBin}, argv...), backend.Streams{Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		return shape.Event{}, fmt.Errorf("ask helper %s: %w", h.Name, err)
	}
	var ev shape.Event
	if jerr := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &ev); jerr != nil {
		return shape.Event{}, fmt.Errorf("helper %s answered %q (exit %d)%s", h.Name, stdout.String(), code, stderrTail(stderr.String()))
	}
	if ev.Event == shape.EventError {
		return ev, errors.New(ev.Error)
	}
	return ev, nil
}

// ClearFaults removes the faults on node's link to network ("" for every
// network; node "" for every node of the lab) and says, a line per fault,
// what each did. Packets a fault holds are released. Clearing where there
// is no fault changes nothing. A node that starts again, or leaves a
// network, loses its faults there this way: they counted the packets of
// the namespace or the interface that is gone.
func (l *Lab) ClearFaults(ctx context.Context, node, network string) ([]string, error) {
	if err := l.checkTarget(ctx, node, network); err != nil {
		return nil, err
	}
	hs, err := l.faultHelpers(ctx, node, network)
	if err != nil {
		return nil, err
	}
	did := faultLines(l.faultsOf(ctx, hs), func(fl FaultLink, s shape.FaultState) string {
		return fmt.Sprintf("%s:%s: %s fired %s (%d matched)", fl.Node, fl.Network, s.Summary, times(s.Fired), s.Matched)
	})
	errs := parallel(len(hs), func(i int) error {
		_ = l.e.b.Stop(ctx, hs[i].ID, impairGrace) // SIGTERM: it takes its rules away
		return l.e.b.Remove(ctx, hs[i].ID)
	})
	if err := joinErrs(errs); err != nil {
		return did, fmt.Errorf("clear faults: remove fault helpers: %w", err)
	}
	return did, nil
}

// Fault is AddFaults of one fault, saying a line per link what is in
// force there (a scenario's fault step).
func (l *Lab) Fault(ctx context.Context, node, network string, f shape.Fault) ([]string, error) {
	links, err := l.AddFaults(ctx, node, network, []shape.Fault{f})
	return faultLines(links, func(fl FaultLink, s shape.FaultState) string {
		return fmt.Sprintf("%s:%s: %s", fl.Node, fl.Network, s.Summary)
	}), err
}

// faultLines is line(link, fault) for each fault of links; a link whose
// helper died or did not answer gets a line saying so.
func faultLines(links []FaultLink, line func(FaultLink, shape.FaultState) string) []string {
	var out []string
	for _, fl := range links {
		switch {
		case !fl.Running:
			out = append(out, fmt.Sprintf("%s:%s: the fault helper had died (every packet passed)", fl.Node, fl.Network))
		case fl.Error != "":
			out = append(out, fmt.Sprintf("%s:%s: %s", fl.Node, fl.Network, fl.Error))
		}
		for _, s := range fl.Faults {
			out = append(out, line(fl, s))
		}
	}
	return out
}

// Faults lists the faults in force in the lab and what each did, asking
// each running helper.
func (l *Lab) Faults(ctx context.Context) ([]FaultLink, error) {
	hs, _, err := l.e.b.List(ctx, backend.Selector{LabelLab: l.name, LabelRole: RoleHelper, LabelHelper: PurposeFault})
	if err != nil {
		return nil, err
	}
	return l.faultsOf(ctx, hs), nil
}

// faultsOf asks the fault helpers among ctrs what their faults did.
func (l *Lab) faultsOf(ctx context.Context, ctrs []backend.Container) []FaultLink {
	var hs []backend.Container
	for _, c := range ctrs {
		if c.Labels[LabelRole] == RoleHelper && c.Labels[LabelHelper] == PurposeFault {
			hs = append(hs, c)
		}
	}
	out := make([]FaultLink, len(hs))
	parallel(len(hs), func(i int) error {
		h := hs[i]
		fl := FaultLink{Node: h.Labels[LabelNode], Network: h.Labels[LabelFaultNetwork],
			Interface: h.Labels[LabelFaultInterface], Running: h.Running, Helper: h.Name, Faults: []shape.FaultState{}}
		if h.Running {
			ev, err := l.askFaultHelper(ctx, h, []string{"fault", "list", h.Labels[LabelFaultTarget]})
			if err != nil {
				fl.Error = err.Error()
			} else {
				fl.Faults = ev.Faults
			}
		}
		out[i] = fl
		return nil
	})
	slices.SortFunc(out, func(a, b FaultLink) int {
		return strings.Compare(a.Node+"\x00"+a.Network, b.Node+"\x00"+b.Network)
	})
	return out
}

// times is "never", "once", "twice" or "N times".
func times(n uint64) string {
	switch n {
	case 0:
		return "never"
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return fmt.Sprintf("%d times", n)
}
