package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"socketlab/helpers/impair/shape"
	"socketlab/internal/images"
	"socketlab/labctl/backend"
	"socketlab/labctl/scenario"
)

// ProbeImpairment finds out how this engine's kernel impairs links: it
// brings up a throwaway lab of one idle client node (named doctor-<random>),
// runs the impairment helper's probe in its network namespace, and takes
// the lab down again, whatever happens.
func (e *Engine) ProbeImpairment(ctx context.Context) (shape.Probe, error) {
	ref := images.Ref(images.Impair, e.o.tag)
	if _, err := e.b.Image(ctx, ref); err != nil {
		if errors.Is(err, backend.ErrNotFound) {
			return shape.Probe{}, fmt.Errorf("%w: %s: run make images (or scripts/images.sh impair)", ErrImageMissing, ref)
		}
		return shape.Probe{}, err
	}
	name := "doctor-" + newID()
	sc := &scenario.Scenario{
		Name:     name,
		Networks: []*scenario.Network{{Name: "probe"}},
		Nodes: []*scenario.Node{{Name: "probe", Image: scenario.ClientImage,
			Networks: []*scenario.Attachment{{Network: "probe"}}}},
	}
	if err := sc.Validate(); err != nil {
		return shape.Probe{}, fmt.Errorf("doctor: %w", err)
	}
	l, err := e.Up(ctx, sc, WithProgress(nil))
	if err != nil {
		return shape.Probe{}, fmt.Errorf("doctor: a throwaway lab to probe in: %w", err)
	}
	defer func() {
		dctx, cancel := quietly(ctx)
		defer cancel()
		_ = e.Down(dctx, name, WithProgress(nil))
	}()
	stderr := &lockedWriter{w: &strings.Builder{}}
	h, err := l.RunHelper(ctx, "probe", backend.HelperSpec{Purpose: PurposeImpair + "-probe", Image: ref,
		Cmd: []string{"probe"}, Caps: images.Caps(images.Impair), Stderr: stderr})
	if err != nil {
		return shape.Probe{}, fmt.Errorf("doctor: run the impair probe: %w", err)
	}
	ev, err := firstEvent(ctx, h.Stdout())
	go io.Copy(io.Discard, h.Stdout())
	rctx, cancel := quietly(ctx)
	defer cancel()
	_ = h.Remove(rctx, impairGrace)
	switch {
	case err != nil:
		return shape.Probe{}, fmt.Errorf("doctor: the impair probe said nothing: %w%s", err, stderrTail(stderr.String()))
	case ev.Probe == nil:
		return shape.Probe{}, fmt.Errorf("doctor: the impair probe said %q: %s", ev.Event, ev.Error)
	}
	return *ev.Probe, nil
}
