package backendtest

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"socketlab/labctl/backend"
)

// CreateNode creates a container on its networks, not running. Network
// "none" is no network.
func (f *Fake) CreateNode(ctx context.Context, spec backend.NodeSpec) (string, error) {
	if err := f.enter(ctx, "CreateNode", spec.Name, spec.Labels); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.container(spec.Name) != nil {
		return "", fmt.Errorf("container %s: %w", spec.Name, backend.ErrNameInUse)
	}
	img, ok := f.images[spec.Image]
	if !ok {
		return "", fmt.Errorf("image %s: %w", spec.Image, backend.ErrNotFound)
	}
	c := &container{image: spec.Image, info: backend.ContainerInfo{
		ID: f.newID("ctr"), Name: spec.Name, Image: spec.Image, ImageID: img.ID, State: "created",
		User: spec.User, Security: spec.Security, Labels: maps.Clone(spec.Labels),
	}}
	for _, ep := range spec.Networks {
		if ep.Network == "none" {
			continue
		}
		if err := f.attach(c, ep); err != nil {
			return "", fmt.Errorf("create %s: %w", spec.Name, err)
		}
	}
	f.ctrs[c.info.ID] = c
	return c.info.ID, nil
}

// attach puts c on ep's network, with ep's addresses or the next free
// ones; f.mu is held.
func (f *Fake) attach(c *container, ep backend.Endpoint) error {
	n := f.network(ep.Network)
	if n == nil {
		return fmt.Errorf("network %s: %w", ep.Network, backend.ErrNotFound)
	}
	if slices.ContainsFunc(c.info.Endpoints, func(e backend.EndpointInfo) bool { return e.NetworkID == n.ID }) {
		return fmt.Errorf("%s is on network %s already", c.info.Name, n.Name)
	}
	info := backend.EndpointInfo{Network: n.Name, NetworkID: n.ID, IPv4: ep.IPv4, IPv6: ep.IPv6,
		Aliases: slices.Clone(ep.Aliases), Interface: fmt.Sprintf("eth%d", len(c.info.Endpoints))}
	n.next++
	for _, s := range n.Subnets {
		a := s.Masked().Addr()
		for range n.next {
			a = a.Next()
		}
		switch {
		case s.Addr().Is4() && !info.IPv4.IsValid():
			info.IPv4 = a
		case s.Addr().Is6() && !info.IPv6.IsValid():
			info.IPv6 = a
		}
	}
	if info.IPv4.IsValid() {
		b := info.IPv4.As4()
		info.MAC = fmt.Sprintf("02:42:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3])
	}
	c.info.Endpoints = append(c.info.Endpoints, info)
	return nil
}

// Connect joins a container to a network.
func (f *Fake) Connect(ctx context.Context, network, id string, ep backend.Endpoint) error {
	name, labels := f.labelsOf(id)
	if err := f.enter(ctx, "Connect", name, labels); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.container(id)
	if c == nil {
		return fmt.Errorf("connect %s: %w", id, backend.ErrNotFound)
	}
	ep.Network = network
	return f.attach(c, ep)
}

// Disconnect takes a container off a network.
func (f *Fake) Disconnect(ctx context.Context, network, id string) error {
	name, labels := f.labelsOf(id)
	if err := f.enter(ctx, "Disconnect", name, labels); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, n := f.container(id), f.network(network)
	if c == nil || n == nil {
		return fmt.Errorf("disconnect %s from %s: %w", id, network, backend.ErrNotFound)
	}
	c.info.Endpoints = slices.DeleteFunc(c.info.Endpoints, func(e backend.EndpointInfo) bool { return e.NetworkID == n.ID })
	return nil
}

// Start runs a container.
func (f *Fake) Start(ctx context.Context, id string) error {
	name, labels := f.labelsOf(id)
	if err := f.enter(ctx, "Start", name, labels); err != nil {
		return err
	}
	return f.set(id, true, 0)
}

// Stop stops a container (at once: fake programs exit when told).
func (f *Fake) Stop(ctx context.Context, id string, _ time.Duration) error {
	name, labels := f.labelsOf(id)
	if err := f.enter(ctx, "Stop", name, labels); err != nil {
		return err
	}
	return f.set(id, false, 143)
}

// Kill kills a running container.
func (f *Fake) Kill(ctx context.Context, id string) error {
	name, labels := f.labelsOf(id)
	if err := f.enter(ctx, "Kill", name, labels); err != nil {
		return err
	}
	f.mu.Lock()
	c := f.container(id)
	running := c != nil && c.info.Running
	f.mu.Unlock()
	if c != nil && !running {
		return fmt.Errorf("kill %s: %w", name, backend.ErrNotRunning)
	}
	return f.set(id, false, 137)
}

// set makes a container run or exit with code.
func (f *Fake) set(id string, running bool, code int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.container(id)
	if c == nil {
		return fmt.Errorf("container %s: %w", id, backend.ErrNotFound)
	}
	c.info.Running, c.info.State, c.info.ExitCode = running, "running", 0
	if !running {
		c.info.State, c.info.ExitCode = "exited", code
		if c.helper != nil {
			c.helper.exit(code)
		}
	}
	return nil
}

// Remove removes a container; one already gone is no error.
func (f *Fake) Remove(ctx context.Context, id string) error {
	name, labels := f.labelsOf(id)
	if err := f.enter(ctx, "Remove", name, labels); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.container(id); c != nil {
		if c.helper != nil {
			c.helper.exit(137)
		}
		delete(f.ctrs, c.info.ID)
	}
	return nil
}

// Inspect reads a container.
func (f *Fake) Inspect(ctx context.Context, id string) (backend.ContainerInfo, error) {
	name, labels := f.labelsOf(id)
	if err := f.enter(ctx, "Inspect", name, labels); err != nil {
		return backend.ContainerInfo{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.container(id)
	if c == nil {
		return backend.ContainerInfo{}, fmt.Errorf("inspect %s: %w", id, backend.ErrNotFound)
	}
	info := c.info
	info.Labels = maps.Clone(c.info.Labels)
	info.Endpoints = slices.Clone(c.info.Endpoints)
	return info, nil
}

// Exec runs f.ExecFunc for a running container.
func (f *Fake) Exec(ctx context.Context, id string, argv []string, s backend.Streams) (int, error) {
	name, labels := f.labelsOf(id)
	if err := f.enter(ctx, "Exec", name, labels); err != nil {
		return -1, err
	}
	info, err := f.Inspect(context.WithoutCancel(ctx), id)
	switch {
	case err != nil:
		return -1, err
	case !info.Running:
		return -1, fmt.Errorf("exec in %s: %w", name, backend.ErrNotRunning)
	case f.ExecFunc == nil:
		return 0, nil
	}
	return f.ExecFunc(info, argv, s)
}

// RunHelper runs a helper container in the namespace of container id ("":
// the host's), doing what f.HelperFunc says.
func (f *Fake) RunHelper(ctx context.Context, id string, spec backend.HelperSpec) (backend.Helper, error) {
	if err := f.enter(ctx, "RunHelper", spec.Name, spec.Labels); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if id != "" {
		c := f.container(id)
		switch {
		case c == nil:
			return nil, fmt.Errorf("helper for %s: %w", id, backend.ErrNotFound)
		case !c.info.Running:
			return nil, fmt.Errorf("helper for %s: %w", c.info.Name, backend.ErrNotRunning)
		}
	}
	img, ok := f.images[spec.Image]
	if !ok {
		return nil, fmt.Errorf("image %s: %w", spec.Image, backend.ErrNotFound)
	}
	if f.container(spec.Name) != nil {
		return nil, fmt.Errorf("helper %s: %w", spec.Name, backend.ErrNameInUse)
	}
	run := HelperRun{}
	if f.HelperFunc != nil {
		run = f.HelperFunc(spec)
	}
	h := &helper{f: f, done: make(chan struct{})}
	c := &container{image: spec.Image, helper: h, info: backend.ContainerInfo{
		ID: f.newID("hlp"), Name: spec.Name, Image: spec.Image, ImageID: img.ID, State: "running", Running: true,
		Labels: maps.Clone(spec.Labels), Security: backend.Security{CapAdd: slices.Clone(spec.Caps), ReadOnlyRoot: true},
	}}
	h.id = c.info.ID
	out := strings.NewReader(run.Stdout)
	var r io.Reader = out
	if run.Stays {
		// The stream ends when the helper does.
		pr, pw := io.Pipe()
		go func() {
			io.Copy(pw, out)
			<-h.done
			pw.Close()
		}()
		r = pr
	} else {
		c.info.Running, c.info.State, c.info.ExitCode = false, "exited", run.Exit
		h.exit(run.Exit)
	}
	h.stdout = r
	f.ctrs[c.info.ID] = c
	return h, nil
}

// helper is a running fake helper.
type helper struct {
	f      *Fake
	id     string
	stdout io.Reader
	once   sync.Once
	done   chan struct{}
	code   int
}

func (h *helper) exit(code int) {
	h.once.Do(func() {
		h.code = code
		close(h.done)
	})
}

func (h *helper) ID() string        { return h.id }
func (h *helper) Stdout() io.Reader { return h.stdout }

func (h *helper) Wait(ctx context.Context) (int, error) {
	select {
	case <-h.done:
		return h.code, nil
	case <-ctx.Done():
		return -1, ctx.Err()
	}
}

func (h *helper) Remove(ctx context.Context, _ time.Duration) error {
	return h.f.Remove(ctx, h.id)
}
