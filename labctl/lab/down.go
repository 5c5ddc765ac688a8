package lab

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Down removes every container and network of the lab called name, found by
// their labels: no scenario file is needed. Containers are killed, not
// stopped gracefully: the lab is thrown away. It fails with ErrNoLab when
// there is nothing of that lab.
func Down(ctx context.Context, name string, opts ...Option) error {
	if err := checkName(name); err != nil {
		return err
	}
	e, err := connect(ctx)
	if err != nil {
		return err
	}
	defer e.close()
	o := newOptions(opts)
	began := time.Now()
	var mu sync.Mutex
	ctrs, nets, err := e.resources(ctx, LabelLab+"="+name)
	if err != nil {
		return err
	}
	if len(ctrs) == 0 && len(nets) == 0 {
		return fmt.Errorf("%w %q", ErrNoLab, name)
	}
	errs := e.remove(ctx, ctrs, nets, func(k Kind, n string) {
		if o.progress != nil {
			mu.Lock()
			defer mu.Unlock()
			o.progress(Event{Lab: name, Kind: k, Name: n, Phase: Removed, Elapsed: time.Since(began)})
		}
	})
	if err := joinErrs(errs); err != nil {
		return fmt.Errorf("down %s: %w", name, err)
	}
	return nil
}

// remove removes containers (in parallel), then networks.
func (e *engine) remove(ctx context.Context, ctrs []container.Summary, nets []network.Summary, done func(Kind, string)) []error {
	var wg sync.WaitGroup
	errs := make([]error, len(ctrs)+len(nets))
	for i, c := range ctrs {
		wg.Go(func() {
			_, err := e.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			if err != nil && !cerrdefs.IsNotFound(err) && !strings.Contains(err.Error(), "already in progress") {
				errs[i] = engineErr("remove container "+strings.TrimPrefix(firstName(c), "/"), err)
				return
			}
			done(KindNode, c.Labels[LabelNode])
		})
	}
	wg.Wait()
	for i, n := range nets {
		wg.Go(func() {
			_, err := e.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
			if err != nil && !cerrdefs.IsNotFound(err) {
				errs[len(ctrs)+i] = engineErr("remove network "+n.Name, err)
				return
			}
			done(KindNetwork, n.Labels[LabelNetwork])
		})
	}
	wg.Wait()
	return errs
}

func firstName(c container.Summary) string {
	if len(c.Names) > 0 {
		return c.Names[0]
	}
	return c.ID[:12]
}

// Summary describes a lab on the engine, as List finds it.
type Summary struct {
	Name     string `json:"name"`
	File     string `json:"file,omitempty"`
	Nodes    int    `json:"nodes"`
	Running  int    `json:"running"`
	Networks int    `json:"networks"`
}

// List returns the labs the engine holds, by name.
func List(ctx context.Context, opts ...Option) ([]Summary, error) {
	e, err := connect(ctx)
	if err != nil {
		return nil, err
	}
	defer e.close()
	ctrs, nets, err := e.resources(ctx, LabelLab)
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
		return s
	}
	for _, c := range ctrs {
		s := get(c.Labels)
		s.Nodes++
		if c.State == container.StateRunning {
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
