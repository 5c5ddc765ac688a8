package lab

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"strings"

	"socketlab/helpers/isolate"
	"socketlab/internal/images"
	"socketlab/labctl/backend"
)

// The forward guard. On an engine that needs the isolation helper (Docker
// before 28), its IPv4 filter between networks is open for some
// milliseconds whenever it creates a network (see package helpers/isolate).
// So at up each of the lab's bridges gets a table of its own in the host's
// nftables that drops what is forwarded between it and any other bridge;
// down removes it with the bridge. Where labctl runs as root beside the
// engine it changes the host's nftables itself; otherwise the isolation
// helper does, in the host's network namespace.

// guard installs the forward guard of the bridges of the lab's networks.
func (e *Engine) guard(ctx context.Context, lab, upID string, o options) error {
	if done, err := e.isolates(ctx); done || err != nil {
		return err
	}
	_, nets, err := e.b.List(ctx, backend.Selector{LabelLab: lab})
	if err != nil {
		return err
	}
	brs := bridges(nets)
	if len(brs) == 0 {
		return nil
	}
	if here(brs, o) {
		return isolate.Guard(brs)
	}
	return e.guardHelper(ctx, lab, upID, o, "--guard", brs)
}

// unguarder returns what removes the forward guard of nets' bridges once
// the networks are gone; it is made while they are still there, to tell
// whether the engine's bridges are in this namespace.
func (e *Engine) unguarder(ctx context.Context, nets []backend.Network, o options) func() error {
	brs := bridges(nets)
	if done, err := e.isolates(ctx); done || err != nil || len(brs) == 0 {
		return func() error { return nil }
	}
	if here(brs, o) {
		return func() error { return isolate.Unguard(brs) }
	}
	lab, upID := nets[0].Labels[LabelLab], nets[0].Labels[LabelUp]
	return func() error { return e.guardHelper(ctx, lab, upID, o, "--unguard", brs) }
}

// guardHelper runs the isolation helper in the host's network namespace
// with verb (--guard or --unguard) and the bridges.
func (e *Engine) guardHelper(ctx context.Context, lab, upID string, o options, verb string, brs []string) error {
	labels := map[string]string{LabelLab: lab, LabelRole: RoleHelper, LabelHelper: "guard"}
	if upID != "" {
		labels[LabelUp] = upID // a rolled-back up takes it with it
	}
	var errb bytes.Buffer
	h, err := e.b.RunHelper(ctx, "", backend.HelperSpec{
		Name: dockerName(lab, "guard") + "-" + newID()[:6], Image: images.Ref(images.Isolate, o.tag),
		Cmd: append([]string{verb}, brs...), Caps: images.Caps(images.Isolate), Labels: labels, Stderr: &errb,
	})
	if err != nil {
		return fmt.Errorf("forward guard of %s: %w", strings.Join(brs, " "), err)
	}
	if err := finish(ctx, h, &errb); err != nil {
		return fmt.Errorf("forward guard of %s: %w", strings.Join(brs, " "), err)
	}
	return nil
}

// bridges are the host interfaces of nets that are bridges.
func bridges(nets []backend.Network) []string {
	var brs []string
	for _, n := range nets {
		if n.Bridge != "" {
			brs = append(brs, n.Bridge)
		}
	}
	return brs
}

// here tells whether labctl may change the firewall of the namespace the
// bridges are in itself: it is root, and the bridges are in its own.
func here(brs []string, o options) bool {
	if o.helpersOnly || os.Geteuid() != 0 {
		return false
	}
	_, err := net.InterfaceByName(brs[0])
	return err == nil
}
