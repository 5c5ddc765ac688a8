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
	"socketlab/labctl/scenario"
)

// A node's filters. labctl leaves two in each node's own network
// namespace, where they hold on every engine (a node has no NET_ADMIN to
// lift them), whenever the node's networks change (up, start, connect,
// disconnect):
//
//   - the seal (package helpers/isolate): the node sends only to the lab's
//     own subnets, never to a network's gateway (the host), unless one of
//     its networks has egress: true;
//   - on an engine that does not keep its networks' IPv6 apart (Docker
//     20.10 filters IPv4 between networks but not IPv6, and the host
//     forwards it), an input filter that accepts IPv6 only from the
//     subnets of the node's own networks, link-local and loopback.

// PurposeIsolate is the isolation helper's purpose (HelperSpec.Purpose).
const PurposeIsolate = "isolate"

// isolates tells whether the engine filters IPv6 between networks itself.
func (e *Engine) isolates(ctx context.Context) (bool, error) {
	info, err := e.b.Info(ctx)
	return info.IsolatesIPv6, err
}

// isolate installs the filters of the node container id of lab, from the
// networks it is on now.
func (e *Engine) isolate(ctx context.Context, lab, id string, o options) error {
	// A node across hosts first gets its own IPv6 addresses (pin.go).
	if err := e.pinIPv6(ctx, lab, id, o.tag); err != nil {
		return err
	}
	info, err := e.b.Info(ctx)
	if err != nil {
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
	f := filterOf(info, nets, ins.Endpoints)
	node := ins.Labels[LabelNode]
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
		if err := isolate.Install(f, nftables.WithNetNSFd(int(ns.Fd()))); err != nil {
			return fmt.Errorf("isolate %s: %w", node, err)
		}
		return nil
	case errors.Is(err, backend.ErrNotRunning):
		return nil
	case !errors.Is(err, backend.ErrUnsupported):
		return fmt.Errorf("isolate %s: %w", node, err)
	}
	c := backend.Container{ID: id, Labels: ins.Labels, Running: ins.Running}
	var errb bytes.Buffer
	h, err := e.runHelper(ctx, lab, c, backend.HelperSpec{
		Purpose: PurposeIsolate, Image: images.Ref(images.Isolate, o.tag), Cmd: f.Args(), Caps: images.Caps(images.Isolate), Stderr: &errb,
	})
	if err != nil {
		if errors.Is(err, backend.ErrNotRunning) {
			return nil // it stopped meanwhile (a program that exits at once)
		}
		return fmt.Errorf("isolate %s: %w", node, err)
	}
	if err := finish(ctx, h, &errb); err != nil {
		if he := (*helperExit)(nil); errors.As(err, &he) && he.code == 2 { // its usage error: it does not know the arguments
			return fmt.Errorf("isolate %s: %w (the image %s is older than this labctl: rebuild it with make build && scripts/images.sh isolate)",
				node, err, images.Ref(images.Isolate, o.tag))
		}
		return fmt.Errorf("isolate %s: %w", node, err)
	}
	return nil
}

// filterOf is the filter of a node on the lab networks eps name, nets
// being all the lab's networks.
func filterOf(info backend.Info, nets []backend.Network, eps []backend.EndpointInfo) isolate.Filter {
	byID := map[string]backend.Network{}
	seal := &isolate.Seal{DNS: info.Resolvers}
	// A rootless engine's networks may reach each other over IPv4 too
	// (rootless Podman's netavark keeps no filter between them, and
	// masquerades what crosses as the destination's gateway): the node
	// then filters IPv4 as IPv6, and takes only DNS answers from gateways.
	f := isolate.Filter{NoInput: info.IsolatesIPv6, Input4: info.Rootless, Seal: seal}
	for _, n := range nets {
		byID[n.ID] = n
		seal.Lab = append(seal.Lab, n.Subnets...)
		f.Gateways = append(f.Gateways, n.Gateways...)
		if info.DNSAtGateway {
			seal.DNS = append(seal.DNS, n.Gateways...)
		}
	}
	for _, ep := range eps {
		n, ok := byID[ep.NetworkID]
		if !ok {
			continue // not the lab's: a filter keeps it out all the same
		}
		if n.Labels[LabelEgress] == "true" {
			f.Seal = nil
		}
		if f.NoInput {
			continue
		}
		for _, s := range n.Subnets {
			switch {
			case s.Addr().Is6(), info.Rootless && n.Labels[LabelStack] != string(scenario.IPv6Only):
				f.Input = append(f.Input, s)
			case info.Rootless:
				// An IPv6-only network, which Podman gives IPv4 all the
				// same: only its gateway, where the engine's DNS answers.
				f.Input = append(f.Input, netip.PrefixFrom(s.Masked().Addr().Next(), 32))
			}
		}
	}
	return f
}
