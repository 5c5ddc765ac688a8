package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/google/nftables"

	"socketlab/helpers/isolate"
	"socketlab/internal/images"
	"socketlab/labctl/backend"
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
	subnets := map[string][]netip.Prefix{}
	for _, n := range nets {
		subnets[n.ID] = n.Subnets
	}
	args := []string{}
	for _, ep := range ins.Endpoints {
		for _, s := range subnets[ep.NetworkID] {
			if s.Addr().Is6() {
				args = append(args, s.String())
			}
		}
	}
	allow := make([]netip.Prefix, 0, len(args))
	for _, a := range args {
		allow = append(allow, netip.MustParsePrefix(a))
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
		if err := isolate.Apply(allow, nftables.WithNetNSFd(int(ns.Fd()))); err != nil {
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
