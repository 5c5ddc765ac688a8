package lab

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"socketlab/internal/images"
	"socketlab/labctl/backend"
	"socketlab/labctl/scenario"
)

// Engine runs labs on one backend: one connection, used by every call.
type Engine struct {
	b backend.Backend
	o options
}

// New returns an engine that drives labs through b with opts as the
// defaults of its calls; it fails with ErrInvalid when an option is wrong.
func New(b backend.Backend, opts ...EngineOption) (*Engine, error) {
	o, err := with(defaultOptions(), opts, EngineOption.applyEngine)
	if err != nil {
		return nil, err
	}
	return &Engine{b: b, o: o}, nil
}

// Backend is the backend the engine drives, for tests that look beneath
// the engine; labctl itself asks the engine.
func (e *Engine) Backend() backend.Backend { return e.b }

// Close closes the backend's connection.
func (e *Engine) Close() error { return e.b.Close() }

// Ping checks that the runtime answers; the error wraps ErrEngineUnreachable.
func (e *Engine) Ping(ctx context.Context) error {
	_, err := e.b.Info(ctx)
	return err
}

// Info describes the container engine the engine drives; the error wraps
// ErrEngineUnreachable when it does not answer.
func (e *Engine) Info(ctx context.Context) (backend.Info, error) { return e.b.Info(ctx) }

// ImagesMissing returns which socketlab image names (welcome, echo,
// client...) have no image built with the engine's tag, in the order given.
func (e *Engine) ImagesMissing(ctx context.Context, names ...string) ([]string, error) {
	var missing []string
	for _, name := range names {
		if _, err := e.b.Image(ctx, images.Ref(name, e.o.tag)); err != nil {
			if !errors.Is(err, backend.ErrNotFound) {
				return nil, err
			}
			missing = append(missing, name)
		}
	}
	return missing, nil
}

// resources lists the lab resources matching sel, in scenario order.
func (e *Engine) resources(ctx context.Context, sel backend.Selector) ([]backend.Container, []backend.Network, error) {
	ctrs, nets, err := e.b.List(ctx, sel)
	if err != nil {
		return nil, nil, err
	}
	slices.SortStableFunc(ctrs, func(a, b backend.Container) int { return indexOf(a.Labels) - indexOf(b.Labels) })
	slices.SortStableFunc(nets, func(a, b backend.Network) int { return indexOf(a.Labels) - indexOf(b.Labels) })
	return ctrs, nets, nil
}

// Open finds the lab called name. It fails with ErrNoLab when the engine
// holds no resource of that lab.
func (e *Engine) Open(ctx context.Context, name string, opts ...OpenOption) (*Lab, error) {
	if err := scenario.CheckLabName(name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	o, err := with(e.o, opts, OpenOption.applyOpen)
	if err != nil {
		return nil, err
	}
	ctrs, nets, err := e.resources(ctx, backend.Selector{LabelLab: name})
	if err != nil {
		return nil, err
	}
	if len(ctrs) == 0 && len(nets) == 0 {
		return nil, fmt.Errorf("%w %q: labctl status lists the labs that are up", ErrNoLab, name)
	}
	return &Lab{name: name, e: e, o: o}, nil
}

// Down removes every container (helpers first) and network of the lab
// called name, found by their labels: no scenario file is needed.
// Containers are killed, not stopped gracefully: the lab is thrown away. It
// fails with ErrNoLab when there is nothing of that lab.
func (e *Engine) Down(ctx context.Context, name string, opts ...DownOption) error {
	if err := scenario.CheckLabName(name); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	o, err := with(e.o, opts, DownOption.applyDown)
	if err != nil {
		return err
	}
	return e.down(ctx, name, o)
}

// down is Down with its options applied.
func (e *Engine) down(ctx context.Context, name string, o options) error {
	ctrs, nets, err := e.resources(ctx, backend.Selector{LabelLab: name})
	if err != nil {
		return err
	}
	if len(ctrs) == 0 && len(nets) == 0 {
		return fmt.Errorf("%w %q", ErrNoLab, name)
	}
	ev := newEmitter(name, o.progress)
	// The images with the nodes' files (one per edit of a file): those no
	// other lab's node runs go with the lab.
	var files []string
	for _, c := range ctrs {
		if !isHelper(c.Labels) && c.Labels[LabelFiles] != "" && !slices.Contains(files, c.Image) {
			files = append(files, c.Image)
		}
	}
	if err := joinErrs(e.remove(ctx, ctrs, nets, ev, o)); err != nil {
		return fmt.Errorf("down %s: %w", name, err)
	}
	if len(files) > 0 {
		if _, err := e.b.RemoveFilesImages(ctx, files); err != nil {
			return fmt.Errorf("down %s: %w", name, err)
		}
	}
	return nil
}

// RemoveFilesImages removes every image made to hold nodes' files
// (socketlab/node-files:<hash>) that no container runs: the cache a
// learner's edits leave behind, which Up makes again when it needs one. It
// returns the references removed.
func (e *Engine) RemoveFilesImages(ctx context.Context) ([]string, error) {
	return e.b.RemoveFilesImages(ctx, nil)
}

// remove removes helpers, then nodes (in parallel), then networks and
// their forward guard.
func (e *Engine) remove(ctx context.Context, ctrs []backend.Container, nets []backend.Network, ev *emitter, o options) []error {
	var errs []error
	unguard := e.unguarder(ctx, nets, o)
	helpers := slices.DeleteFunc(slices.Clone(ctrs), func(c backend.Container) bool { return !isHelper(c.Labels) })
	nodes := slices.DeleteFunc(slices.Clone(ctrs), func(c backend.Container) bool { return isHelper(c.Labels) })
	errs = append(errs, parallel(len(helpers), func(i int) error {
		return e.b.Remove(ctx, helpers[i].ID)
	})...)
	errs = append(errs, parallel(len(nodes), func(i int) error {
		if err := e.b.Remove(ctx, nodes[i].ID); err != nil {
			return fmt.Errorf("remove container %s: %w", nodes[i].Name, err)
		}
		ev.emit(KindNode, nodes[i].Labels[LabelNode], Removed, "", nil)
		return nil
	})...)
	errs = append(errs, parallel(len(nets), func(i int) error {
		if err := e.b.RemoveNetwork(ctx, nets[i].ID); err != nil {
			return fmt.Errorf("remove network %s: %w", nets[i].Name, err)
		}
		ev.emit(KindNetwork, nets[i].Labels[LabelNetwork], Removed, "", nil)
		return nil
	})...)
	if joinErrs(errs) == nil {
		errs = append(errs, unguard())
	}
	return errs
}

// Summary describes a lab on the engine, as List finds it.
type Summary struct {
	Name string `json:"name"`
	File string `json:"file,omitempty"`
	// Creator is who brought the lab up (user@host), "" for labs made
	// before labctl recorded it.
	Creator  string `json:"creator,omitempty"`
	Nodes    int    `json:"nodes"`
	Running  int    `json:"running"`
	Networks int    `json:"networks"`
}

// List returns the labs the engine holds, by name. Helpers are not counted
// as nodes.
func (e *Engine) List(ctx context.Context) ([]Summary, error) {
	ctrs, nets, err := e.resources(ctx, backend.Selector{LabelLab: ""})
	if err != nil {
		return nil, err
	}
	labs := map[string]*Summary{}
	get := func(l map[string]string) *Summary {
		name := l[LabelLab]
		s, ok := labs[name]
		if !ok {
			s = &Summary{Name: name}
			labs[name] = s
		}
		if s.File == "" {
			s.File = l[LabelFile]
		}
		if s.Creator == "" {
			s.Creator = l[LabelCreator]
		}
		return s
	}
	for _, c := range ctrs {
		if isHelper(c.Labels) {
			continue
		}
		s := get(c.Labels)
		s.Nodes++
		if c.Running {
			s.Running++
		}
	}
	for _, n := range nets {
		get(n.Labels).Networks++
	}
	var out []Summary
	for _, s := range labs {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b Summary) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// quietly bounds cleanup work that must run even when the caller's context
// has ended (Ctrl-C during up still removes what up created).
func quietly(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
}

// joinErrs is errors.Join that keeps a single error as it is.
func joinErrs(errs []error) error {
	var kept []error
	for _, err := range errs {
		if err != nil {
			kept = append(kept, err)
		}
	}
	if len(kept) == 1 {
		return kept[0]
	}
	return errors.Join(kept...)
}

// parallel runs fn(0..n-1) side by side and returns their errors.
func parallel(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	done := make(chan struct{}, n)
	for i := range n {
		go func() {
			errs[i] = fn(i)
			done <- struct{}{}
		}()
	}
	for range n {
		<-done
	}
	return errs
}
