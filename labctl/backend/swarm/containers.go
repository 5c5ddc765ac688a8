package swarm

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"time"

	"socketlab/labctl/backend"
	"socketlab/labctl/backend/docker"
)

// Connect joins a container to an overlay network.
func (b *Backend) Connect(ctx context.Context, network, ctr string, ep backend.Endpoint) error {
	ep.IPv6 = netip.Addr{} // see labelSubnet6
	return b.on(ctx, ctr, func(d *docker.Backend) error { return d.Connect(ctx, network, ctr, ep) })
}

// Disconnect takes a container off a network.
func (b *Backend) Disconnect(ctx context.Context, network, ctr string) error {
	return b.on(ctx, ctr, func(d *docker.Backend) error { return d.Disconnect(ctx, network, ctr) })
}

// Start starts a container, one at a time on each host.
func (b *Backend) Start(ctx context.Context, ctr string) error {
	h, err := b.hostOf(ctx, ctr)
	if err != nil {
		return err
	}
	h.starts.Lock()
	defer h.starts.Unlock()
	// A host may know a just-removed network of the same name for a moment
	// ("Could not attach to network ...: not found"): try again a while.
	deadline := time.Now().Add(networkGrace)
	for {
		err := h.d.Start(ctx, ctr)
		if err == nil || !errors.Is(err, backend.ErrNotFound) || time.Now().After(deadline) {
			return err
		}
		if _, ierr := h.d.Inspect(ctx, ctr); ierr != nil {
			return err // the container itself is gone
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Stop stops a container gracefully.
func (b *Backend) Stop(ctx context.Context, ctr string, timeout time.Duration) error {
	return b.on(ctx, ctr, func(d *docker.Backend) error { return d.Stop(ctx, ctr, timeout) })
}

// Kill sends SIGKILL.
func (b *Backend) Kill(ctx context.Context, ctr string) error {
	return b.on(ctx, ctr, func(d *docker.Backend) error { return d.Kill(ctx, ctr) })
}

// Remove removes a container; one no host knows is no error.
func (b *Backend) Remove(ctx context.Context, ctr string) error {
	err := b.on(ctx, ctr, func(d *docker.Backend) error { return d.Remove(ctx, ctr) })
	if errors.Is(err, backend.ErrNotFound) {
		return nil
	}
	return err
}

// Inspect reads a container, with the IPv6 addresses it was given.
func (b *Backend) Inspect(ctx context.Context, ctr string) (backend.ContainerInfo, error) {
	var info backend.ContainerInfo
	err := b.on(ctx, ctr, func(d *docker.Backend) (err error) {
		info, err = d.Inspect(ctx, ctr)
		return err
	})
	for i, ep := range info.Endpoints {
		for _, key := range []string{ep.NetworkID, ep.Network} {
			if a, err := netip.ParseAddr(info.Labels[labelIPv6+key]); err == nil {
				info.Endpoints[i].IPv6 = a
			}
		}
	}
	return info, err
}

// Exec runs argv in a container on its host.
func (b *Backend) Exec(ctx context.Context, ctr string, argv []string, s backend.Streams) (int, error) {
	code := -1
	err := b.on(ctx, ctr, func(d *docker.Backend) (err error) {
		code, err = d.Exec(ctx, ctr, argv, s)
		return err
	})
	return code, err
}

// Logs copies a container's output from its host.
func (b *Backend) Logs(ctx context.Context, ctr string, follow bool, tail int, stdout, stderr io.Writer) error {
	return b.on(ctx, ctr, func(d *docker.Backend) error { return d.Logs(ctx, ctr, follow, tail, stdout, stderr) })
}

// RunHelper runs a helper next to a container, on its host.
func (b *Backend) RunHelper(ctx context.Context, ctr string, spec backend.HelperSpec) (backend.Helper, error) {
	h, err := b.hostOf(ctx, ctr)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{backend.LabelHost: h.name}
	for k, v := range spec.Labels {
		labels[k] = v
	}
	spec.Labels = labels
	hp, err := h.d.RunHelper(ctx, ctr, spec)
	if hp != nil {
		b.remember(hp.ID(), h)
	}
	return hp, err
}
