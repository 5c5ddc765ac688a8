package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"socketlab/internal/images"
	"socketlab/labctl/backend"
)

// Lab is a lab on the engine: the handle for its status and nodes. Nodes
// and networks are named as in the scenario.
type Lab struct {
	name    string
	e       *Engine
	o       options
	changed bool
}

// Name is the lab's name, as its resources' labels carry it.
func (l *Lab) Name() string { return l.name }

// Changed reports whether the Up that returned l created or started
// anything; false means the lab was already up as the scenario says.
func (l *Lab) Changed() bool { return l.changed }

// container finds the container of node (never a helper).
func (l *Lab) container(ctx context.Context, node string) (backend.Container, error) {
	ctrs, _, err := l.e.b.List(ctx, backend.Selector{LabelLab: l.name})
	if err != nil {
		return backend.Container{}, err
	}
	var names []string
	for _, c := range ctrs {
		if isHelper(c.Labels) {
			continue
		}
		if c.Labels[LabelNode] == node {
			return c, nil
		}
		names = append(names, c.Labels[LabelNode])
	}
	slices.Sort(names)
	return backend.Container{}, fmt.Errorf("%w %q in lab %s (nodes: %s)", ErrNoNode, node, l.name, strings.Join(names, ", "))
}

// network finds the network of the lab's network name.
func (l *Lab) network(ctx context.Context, name string) (backend.Network, error) {
	_, nets, err := l.e.b.List(ctx, backend.Selector{LabelLab: l.name})
	if err != nil {
		return backend.Network{}, err
	}
	var names []string
	for _, n := range nets {
		if n.Labels[LabelNetwork] == name {
			return n, nil
		}
		names = append(names, n.Labels[LabelNetwork])
	}
	slices.Sort(names)
	return backend.Network{}, fmt.Errorf("%w %q in lab %s (networks: %s)", ErrNoNetwork, name, l.name, strings.Join(names, ", "))
}

// Streams are the standard streams of a command run by ExecStream. A nil
// Stdin gives the command no input; nil writers drop the output.
type Streams = backend.Streams

// Exec runs argv inside node (argv[0] is a program in the node's image, e.g.
// sock) and returns what it wrote and its exit status. err is set only when
// the command could not be run at all (no such node, node not running, engine
// gone); a command that ran and failed has err nil and exitCode ≠ 0.
func (l *Lab) Exec(ctx context.Context, node string, argv []string) (stdout, stderr []byte, exitCode int, err error) {
	var out, errb bytes.Buffer
	code, err := l.ExecStream(ctx, node, argv, Streams{Stdout: &out, Stderr: &errb})
	return out.Bytes(), errb.Bytes(), code, err
}

// ExecStream is Exec with the command's streams connected to s, for a person
// at a terminal: input is passed on until s.Stdin ends, then closed.
// When ctx ends, ExecStream returns ctx's error; the command itself runs on
// until it ends by itself (Docker cannot kill an exec'd process), so give the
// command its own timeout.
func (l *Lab) ExecStream(ctx context.Context, node string, argv []string, s Streams) (exitCode int, err error) {
	c, err := l.container(ctx, node)
	if err != nil {
		return -1, err
	}
	if len(argv) == 0 {
		return -1, fmt.Errorf("%w: exec in %s: no command", ErrInvalid, node)
	}
	code, err := l.e.b.Exec(ctx, c.ID, argv, s)
	switch {
	case errors.Is(err, backend.ErrNotRunning):
		return -1, fmt.Errorf("exec in %s: %w (labctl status shows its state)", node, ErrNotRunning)
	case err != nil:
		return -1, fmt.Errorf("exec %q in %s: %w", strings.Join(argv, " "), node, err)
	}
	return code, nil
}

// Stop stops node gracefully: SIGTERM, then SIGKILL after StopTimeout.
func (l *Lab) Stop(ctx context.Context, node string) error {
	c, err := l.container(ctx, node)
	if err != nil {
		return err
	}
	if err := l.e.b.Stop(ctx, c.ID, StopTimeout); err != nil {
		return fmt.Errorf("stop %s: %w", node, err)
	}
	return nil
}

// Kill stops node at once with SIGKILL, as a crash would.
func (l *Lab) Kill(ctx context.Context, node string) error {
	c, err := l.container(ctx, node)
	if err != nil {
		return err
	}
	switch err := l.e.b.Kill(ctx, c.ID); {
	case errors.Is(err, backend.ErrNotRunning):
		return fmt.Errorf("kill %s: %w", node, ErrNotRunning)
	case err != nil:
		return fmt.Errorf("kill %s: %w", node, err)
	}
	return nil
}

// Start starts a stopped node and waits until it is ready. Starting a
// running node changes nothing.
func (l *Lab) Start(ctx context.Context, node string) error {
	c, err := l.container(ctx, node)
	if err != nil {
		return err
	}
	if c.Running {
		return nil
	}
	if err := l.e.b.Start(ctx, c.ID); err != nil {
		return fmt.Errorf("start %s: %w", node, err)
	}
	// A started container has a new network namespace: filter it again.
	if err := l.e.isolate(ctx, l.name, c.ID, l.o); err != nil {
		return err
	}
	if err := l.reimpair(ctx, node); err != nil {
		return err
	}
	if _, err := l.ClearFaults(ctx, node, ""); err != nil { // they served the old namespace
		return err
	}
	probe := probeSpec{image: images.Ref(images.Client, l.o.tag), name: c.Name, labels: helperLabels(c.Labels, "ready")}
	if r, done, ok := readinessFromLabels(c.Labels, probe); ok {
		defer done()
		return waitReady(ctx, l.e.b, c.ID, node, r, l.o.healthTimeout)
	}
	img, err := l.e.b.Image(ctx, c.ImageID)
	if err != nil {
		return err
	}
	return waitReady(ctx, l.e.b, c.ID, node, healthcheck(img), l.o.healthTimeout)
}

// Disconnect takes node off network, as if its cable were pulled.
func (l *Lab) Disconnect(ctx context.Context, node, net string) error {
	c, err := l.container(ctx, node)
	if err != nil {
		return err
	}
	n, err := l.network(ctx, net)
	if err != nil {
		return err
	}
	if err := l.e.b.Disconnect(ctx, n.ID, c.ID); err != nil {
		return fmt.Errorf("disconnect %s from %s: %w", node, net, err)
	}
	// The link is gone, and with it what impaired it and its faults.
	if err := l.Heal(ctx, node, net); err != nil {
		return err
	}
	if _, err := l.ClearFaults(ctx, node, net); err != nil {
		return err
	}
	return l.reisolate(ctx, c)
}

// Connect joins node to network with the addresses and aliases the scenario
// gave it there (for a network the node was not on in the scenario: its name
// as alias, addresses chosen by the runtime).
func (l *Lab) Connect(ctx context.Context, node, net string) error {
	c, err := l.container(ctx, node)
	if err != nil {
		return err
	}
	n, err := l.network(ctx, net)
	if err != nil {
		return err
	}
	a := attachment{Aliases: []string{node}}
	if s, ok := c.Labels[LabelAttach+net]; ok {
		if err := json.Unmarshal([]byte(s), &a); err != nil {
			return fmt.Errorf("connect %s to %s: label %s: %w", node, net, LabelAttach+net, err)
		}
	}
	ep := backend.Endpoint{Network: n.ID, IPv4: a.IPv4, IPv6: a.IPv6, Aliases: a.Aliases}
	if err := l.e.b.Connect(ctx, n.ID, c.ID, ep); err != nil {
		return fmt.Errorf("connect %s to %s: %w", node, net, err)
	}
	return l.reisolate(ctx, c)
}

// Logs copies node's log (its stdout and stderr) to stdout and stderr; with
// follow, it goes on until ctx ends or the node stops.
func (l *Lab) Logs(ctx context.Context, node string, follow bool, stdout, stderr io.Writer) error {
	c, err := l.container(ctx, node)
	if err != nil {
		return err
	}
	if err := l.e.b.Logs(ctx, c.ID, follow, 0, stdout, stderr); err != nil {
		return fmt.Errorf("logs of %s: %w", node, err)
	}
	return nil
}

// reisolate filters a running node's IPv6 again after its networks changed.
func (l *Lab) reisolate(ctx context.Context, c backend.Container) error {
	if !c.Running {
		return nil // start filters it
	}
	return l.e.isolate(ctx, l.name, c.ID, l.o)
}
