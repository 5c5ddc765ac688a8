package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"

	"socketlab/helpers/isolate"
	"socketlab/internal/images"
	"socketlab/labctl/backend"
	"socketlab/labctl/scenario"
)

// IPv6 isolation. Docker 20.10 filters IPv4 between networks but not IPv6,
// and the host forwards it: a node would reach other networks' nodes, and
// other labs', over IPv6. On such an engine the isolation helper runs once in
// each node's namespace whenever its networks change (up, start, connect,
// disconnect) and leaves an input filter that accepts IPv6 only from the
// subnets of the node's own networks, link-local and loopback.

// isolates tells whether the engine filters IPv6 between networks itself.
func (e *Engine) isolates(ctx context.Context) (bool, error) {
	info, err := e.b.Info(ctx)
	return info.IsolatesIPv6, err
}

// isolate installs the IPv6 filter of the node container id of lab, from
// the networks it is on now.
func (e *Engine) isolate(ctx context.Context, lab, id string, o options) error {
	// A node across hosts first gets its own IPv6 addresses (pin.go).
	if err := e.pinIPv6(ctx, lab, id, o.tag); err != nil {
		return err
	}
	if done, err := e.isolates(ctx); done || err != nil {
		return err
	}
	ins, err := e.b.Inspect(ctx, id)
	if err != nil {
		return err
	}
	if !ins.Running {
		return nil // no traffic to filter; the readiness wait says why it stopped
	}
	_, nets, err := e.b.List(ctx, backend.Selector{LabelLab: lab})
	if err != nil {
		return err
	}
	// A rootless engine's networks may reach each other over IPv4 too
	// (rootless Podman's netavark keeps no filter between them here): the
	// node then filters IPv4 the same way, accepting on an IPv6-only
	// network (Podman gives every network IPv4) none but the gateway's.
	info, err := e.b.Info(ctx)
	if err != nil {
		return err
	}
	subnets := map[string][]netip.Prefix{}
	for _, n := range nets {
		for _, s := range n.Subnets {
			switch {
			case s.Addr().Is6(), info.Rootless && n.Labels[LabelStack] != string(scenario.IPv6Only):
				subnets[n.ID] = append(subnets[n.ID], s)
			case info.Rootless:
				// Only the gateway, where the engine's DNS answers the
				// node's lookups (Podman's resolver is IPv4 there).
				subnets[n.ID] = append(subnets[n.ID], netip.PrefixFrom(s.Masked().Addr().Next(), 32))
			}
		}
	}
	var allow []netip.Prefix
	for _, ep := range ins.Endpoints {
		allow = append(allow, subnets[ep.NetworkID]...)
	}
	apply, args := isolate.Apply, []string{}
	if info.Rootless {
		// Podman masquerades what crosses between its networks as the
		// gateway (each subnet's first address): from there, only DNS.
		var gws []netip.Addr
		args = append(args, "--ipv4")
		for _, n := range nets {
			if !slices.ContainsFunc(ins.Endpoints, func(ep backend.EndpointInfo) bool { return ep.NetworkID == n.ID }) {
				continue
			}
			for _, s := range n.Subnets {
				g := s.Masked().Addr().Next()
				gws, args = append(gws, g), append(args, "--gateway", g.String())
			}
		}
		apply = func(allow []netip.Prefix, opts ...nftables.ConnOption) error {
			return isolate.ApplyBoth(allow, gws, opts...)
		}
	}
	for _, p := range allow {
		args = append(args, p.String())
	}
	// The fast path: this machine runs the engine, and labctl may enter
	// the node's namespace itself.
	ns, err := e.b.NetNS(ctx, id)
	if o.helpersOnly && err == nil {
		ns.Close()
		err = backend.ErrUnsupported
	}
	switch {
	case err == nil:
		defer ns.Close()
		if err := apply(allow, nftables.WithNetNSFd(int(ns.Fd()))); err != nil {
			return fmt.Errorf("isolate %s's IPv6: %w", ins.Labels[LabelNode], err)
		}
		return nil
	case errors.Is(err, backend.ErrNotRunning):
		return nil
	case !errors.Is(err, backend.ErrUnsupported):
		return fmt.Errorf("isolate %s's IPv6: %w", ins.Labels[LabelNode], err)
	}
	c := backend.Container{ID: id, Labels: ins.Labels, Running: ins.Running}
	var errb bytes.Buffer
	h, err := e.runHelper(ctx, lab, c, backend.HelperSpec{
		Purpose: "isolate", Image: images.Ref(images.Isolate, o.tag), Cmd: args, Caps: images.Caps(images.Isolate), Stderr: &errb,
	})
	if err != nil {
		if errors.Is(err, backend.ErrNotRunning) {
			return nil // it stopped meanwhile (a program that exits at once)
		}
		return fmt.Errorf("isolate %s: %w", c.Labels[LabelNode], err)
	}
	if err := finish(ctx, h, &errb); err != nil {
		return fmt.Errorf("isolate %s's IPv6: %w", c.Labels[LabelNode], err)
	}
	return nil
}
