package lab

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"strings"
	"time"

	"socketlab/labctl/backend"
)

// RunHelper runs spec in the network namespace of node, which must be
// running, and returns the running helper: read its Stdout, and Remove it
// when done (Down removes any left). The engine names the helper's
// container from spec.Purpose and labels it as a helper of node: helpers
// are never nodes (up, status and List leave them out, down removes them
// first).
func (l *Lab) RunHelper(ctx context.Context, node string, spec backend.HelperSpec) (backend.Helper, error) {
	c, err := l.container(ctx, node)
	if err != nil {
		return nil, err
	}
	if !c.Running {
		return nil, fmt.Errorf("%s helper for %s: %w (labctl status shows its state)", spec.Purpose, node, ErrNotRunning)
	}
	return l.e.runHelper(ctx, l.name, c, spec)
}

// runHelper runs spec in the namespace of the node container c of lab.
func (e *Engine) runHelper(ctx context.Context, lab string, c backend.Container, spec backend.HelperSpec) (backend.Helper, error) {
	node := c.Labels[LabelNode]
	labels := maps.Clone(spec.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelLab] = lab
	labels[LabelRole] = RoleHelper
	labels[LabelNode] = node
	labels[LabelHelper] = spec.Purpose
	if f := c.Labels[LabelFile]; f != "" {
		labels[LabelFile] = f
	}
	if up := c.Labels[LabelUp]; up != "" {
		labels[LabelUp] = up // a rolled-back up takes its helpers with it
	}
	spec.Name = dockerName(lab, node) + "-" + spec.Purpose + "-" + newID()[:6]
	spec.Labels = labels
	return e.b.RunHelper(ctx, c.ID, spec)
}

// StopHelper stops the helper container id that RunHelper started:
// SIGTERM, then SIGKILL after grace. A helper stopped so may write what it
// keeps for the end (a capture its statistics); then its Stdout ends.
func (l *Lab) StopHelper(ctx context.Context, id string, grace time.Duration) error {
	if err := l.e.b.Stop(ctx, id, grace); err != nil {
		return fmt.Errorf("stop helper %s: %w", shortID(id), err)
	}
	return nil
}

// RemoveHelpers removes every helper serving node (all of the lab's when
// node is "").
func (l *Lab) RemoveHelpers(ctx context.Context, node string) error {
	sel := backend.Selector{LabelLab: l.name, LabelRole: RoleHelper}
	if node != "" {
		sel[LabelNode] = node
	}
	ctrs, _, err := l.e.b.List(ctx, sel)
	if err != nil {
		return err
	}
	return joinErrs(parallel(len(ctrs), func(i int) error { return l.e.b.Remove(ctx, ctrs[i].ID) }))
}

// finish waits for the one-shot helper h to exit and removes it; it fails
// unless h exited 0, with what h wrote to errb.
func finish(ctx context.Context, h backend.Helper, errb *bytes.Buffer) error {
	defer h.Remove(context.WithoutCancel(ctx), 0)
	io.Copy(io.Discard, h.Stdout())
	code, err := h.Wait(ctx)
	if err == nil && code != 0 {
		err = &helperExit{code: code, stderr: strings.TrimSpace(errb.String())}
	}
	return err
}

// helperExit is a helper that ended with a status other than 0.
type helperExit struct {
	code   int
	stderr string
}

func (e *helperExit) Error() string { return fmt.Sprintf("exit %d: %s", e.code, e.stderr) }
