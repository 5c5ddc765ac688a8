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
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Lab is a lab on the Docker engine: the handle for its status and nodes.
// Nodes and networks are named as in the scenario. Close releases the
// connection to the engine; it does not stop the lab.
type Lab struct {
	name    string
	e       *engine
	o       options
	changed bool
}

// Name is the lab's name, as its Docker resources' labels carry it.
func (l *Lab) Name() string { return l.name }

// Changed reports whether the Up that returned l created or started
// anything; false means the lab was already up as the scenario says.
func (l *Lab) Changed() bool { return l.changed }

// Close releases the connection to the Docker engine.
func (l *Lab) Close() error { return l.e.close() }

// Open finds the running lab called name. It fails with ErrNoLab when the
// engine holds no resource of that lab.
func Open(ctx context.Context, name string, opts ...Option) (*Lab, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	e, err := connect(ctx)
	if err != nil {
		return nil, err
	}
	l := &Lab{name: name, e: e, o: newOptions(opts)}
	ctrs, nets, err := e.resources(ctx, LabelLab+"="+name)
	if err != nil {
		e.close()
		return nil, err
	}
	if len(ctrs) == 0 && len(nets) == 0 {
		e.close()
		return nil, fmt.Errorf("%w %q: labctl status lists the labs that are up", ErrNoLab, name)
	}
	return l, nil
}

// container finds the container of node.
func (l *Lab) container(ctx context.Context, node string) (container.Summary, error) {
	ctrs, err := l.e.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelLab+"="+l.name),
	})
	if err != nil {
		return container.Summary{}, engineErr("list containers", err)
	}
	var names []string
	for _, c := range ctrs.Items {
		if c.Labels[LabelNode] == node {
			return c, nil
		}
		names = append(names, c.Labels[LabelNode])
	}
	slices.Sort(names)
	return container.Summary{}, fmt.Errorf("%w %q in lab %s (nodes: %s)", ErrNoNode, node, l.name, strings.Join(names, ", "))
}

// network finds the Docker network of the lab's network name.
func (l *Lab) network(ctx context.Context, name string) (network.Summary, error) {
	nets, err := l.e.cli.NetworkList(ctx, client.NetworkListOptions{
		Filters: make(client.Filters).Add("label", LabelLab+"="+l.name),
	})
	if err != nil {
		return network.Summary{}, engineErr("list networks", err)
	}
	var names []string
	for _, n := range nets.Items {
		if n.Labels[LabelNetwork] == name {
			return n, nil
		}
		names = append(names, n.Labels[LabelNetwork])
	}
	slices.Sort(names)
	return network.Summary{}, fmt.Errorf("%w %q in lab %s (networks: %s)", ErrNoNetwork, name, l.name, strings.Join(names, ", "))
}

// Streams are the standard streams of a command run by ExecStream. A nil
// Stdin gives the command no input; nil writers drop the output.
type Streams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

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
	code, err := l.e.exec(ctx, c.ID, argv, s)
	if err != nil {
		if cerrdefs.IsConflict(err) || strings.Contains(err.Error(), "is not running") {
			return -1, fmt.Errorf("exec in %s: %w (labctl status shows its state)", node, ErrNotRunning)
		}
		return -1, fmt.Errorf("exec %q in %s: %w", strings.Join(argv, " "), node, err)
	}
	return code, nil
}

func (e *engine) exec(ctx context.Context, id string, argv []string, s Streams) (int, error) {
	cr, err := e.cli.ExecCreate(ctx, id, client.ExecCreateOptions{
		Cmd: argv, AttachStdin: s.Stdin != nil, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return -1, engineErr("exec create", err)
	}
	att, err := e.cli.ExecAttach(ctx, cr.ID, client.ExecAttachOptions{})
	if err != nil {
		return -1, engineErr("exec attach", err)
	}
	defer att.Close()
	if s.Stdin != nil {
		go func() {
			io.Copy(att.Conn, s.Stdin)
			att.CloseWrite()
		}()
	}
	stdout, stderr := s.Stdout, s.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(stdout, stderr, att.Reader)
		copied <- err
	}()
	select {
	case err := <-copied:
		if err != nil && !errors.Is(err, io.EOF) {
			return -1, fmt.Errorf("exec read: %w", err)
		}
	case <-ctx.Done():
		att.Close()
		return -1, ctx.Err()
	}
	// The daemon closes the stream when the process ends but may mark the
	// exec as ended a moment later.
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		ins, err := e.cli.ExecInspect(ctx, cr.ID, client.ExecInspectOptions{})
		if err != nil {
			return -1, engineErr("exec inspect", err)
		}
		if !ins.Running {
			return ins.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return -1, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// StopTimeout is how long Stop lets a node shut down gracefully before
// Docker kills it.
const StopTimeout = 5 * time.Second

// Stop stops node gracefully: SIGTERM, then SIGKILL after StopTimeout.
func (l *Lab) Stop(ctx context.Context, node string) error {
	c, err := l.container(ctx, node)
	if err != nil {
		return err
	}
	secs := int(StopTimeout / time.Second)
	if _, err := l.e.cli.ContainerStop(ctx, c.ID, client.ContainerStopOptions{Timeout: &secs}); err != nil {
		return engineErr("stop "+node, err)
	}
	return nil
}

// Kill stops node at once with SIGKILL, as a crash would.
func (l *Lab) Kill(ctx context.Context, node string) error {
	c, err := l.container(ctx, node)
	if err != nil {
		return err
	}
	if _, err := l.e.cli.ContainerKill(ctx, c.ID, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		if cerrdefs.IsConflict(err) || strings.Contains(err.Error(), "is not running") {
			return fmt.Errorf("kill %s: %w", node, ErrNotRunning)
		}
		return engineErr("kill "+node, err)
	}
	return nil
}

// Start starts a stopped node and waits until it passes its healthcheck.
// Starting a running node changes nothing.
func (l *Lab) Start(ctx context.Context, node string) error {
	c, err := l.container(ctx, node)
	if err != nil {
		return err
	}
	if c.State == container.StateRunning {
		return nil
	}
	if _, err := l.e.cli.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
		return engineErr("start "+node, err)
	}
	argv, err := l.e.healthcheck(ctx, c.ImageID)
	if err != nil {
		return err
	}
	return l.e.waitHealthy(ctx, c.ID, node, argv, l.o.healthTimeout)
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
	if _, err := l.e.cli.NetworkDisconnect(ctx, n.ID, client.NetworkDisconnectOptions{Container: c.ID}); err != nil {
		return engineErr(fmt.Sprintf("disconnect %s from %s", node, net), err)
	}
	return nil
}

// Connect joins node to network with the addresses and aliases the scenario
// gave it there (for a network the node was not on in the scenario: its name
// as alias, addresses chosen by Docker).
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
	es := endpoint(a)
	if _, err := l.e.cli.NetworkConnect(ctx, n.ID, client.NetworkConnectOptions{Container: c.ID, EndpointConfig: es}); err != nil {
		return engineErr(fmt.Sprintf("connect %s to %s", node, net), err)
	}
	return nil
}

// endpoint is the Docker endpoint configuration of an attachment.
func endpoint(a attachment) *network.EndpointSettings {
	es := &network.EndpointSettings{Aliases: a.Aliases}
	if !a.IPv4.IsValid() && !a.IPv6.IsValid() {
		return es
	}
	es.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: a.IPv4, IPv6Address: a.IPv6}
	return es
}

// Logs copies node's log (its stdout and stderr) to stdout and stderr; with
// follow, it goes on until ctx ends or the node stops.
func (l *Lab) Logs(ctx context.Context, node string, follow bool, stdout, stderr io.Writer) error {
	c, err := l.container(ctx, node)
	if err != nil {
		return err
	}
	rc, err := l.e.cli.ContainerLogs(ctx, c.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow})
	if err != nil {
		return engineErr("logs of "+node, err)
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(stdout, stderr, rc); err != nil && ctx.Err() == nil {
		return fmt.Errorf("logs of %s: %w", node, err)
	}
	return nil
}

// healthcheck returns the command of the image's HEALTHCHECK, or nil when
// it has none.
func (e *engine) healthcheck(ctx context.Context, image string) ([]string, error) {
	img, err := e.cli.ImageInspect(ctx, image)
	if err != nil {
		return nil, engineErr("inspect image "+image, err)
	}
	if img.Config == nil || img.Config.Healthcheck == nil {
		return nil, nil
	}
	return healthArgv(img.Config.Healthcheck.Test), nil
}

func healthArgv(test []string) []string {
	if len(test) < 2 {
		return nil // none, or NONE
	}
	switch test[0] {
	case "CMD":
		return test[1:]
	case "CMD-SHELL":
		return []string{"/bin/sh", "-c", test[1]}
	}
	return nil
}

// healthPoll is how often a starting node's healthcheck runs. Each run costs
// the engine tens of milliseconds of CPU; servers listen within milliseconds
// of starting, so the first or second run passes.
const healthPoll = 100 * time.Millisecond

// waitHealthy runs argv, the image's healthcheck (nil: none), inside the
// container until it passes. Docker runs the same check on its own, but only after the image's
// interval (Docker 20.10 has no start interval), which would make every
// `up` take seconds; this one runs at once and then every healthPoll.
func (e *engine) waitHealthy(ctx context.Context, id, node string, argv []string, timeout time.Duration) error {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last bytes.Buffer
	for first := true; ; first = false {
		wait := healthPoll
		if first {
			wait = 20 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			if parent.Err() != nil {
				return parent.Err()
			}
			return fmt.Errorf("%w: %s failed its healthcheck for %s: %s", ErrUnhealthy, node, timeout, strings.TrimSpace(last.String()))
		case <-time.After(wait):
		}
		ins, err := e.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			if ctx.Err() != nil {
				continue // the select above says why
			}
			return engineErr("inspect "+node, err)
		}
		if st := ins.Container.State; !st.Running {
			return fmt.Errorf("%w: %s exited with code %d%s", ErrUnhealthy, node, st.ExitCode, e.logTail(ctx, id))
		}
		if argv == nil {
			return nil
		}
		last.Reset()
		code, err := e.exec(ctx, id, argv, Streams{Stdout: &last, Stderr: &last})
		if err == nil && code == 0 {
			return nil
		}
	}
}

// logTail is the end of a container's log, to explain why it stopped.
func (e *engine) logTail(ctx context.Context, id string) string {
	rc, err := e.cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "5"})
	if err != nil {
		return ""
	}
	defer rc.Close()
	var b bytes.Buffer
	stdcopy.StdCopy(&b, &b, io.LimitReader(rc, 4096))
	if s := strings.TrimSpace(b.String()); s != "" {
		return "; its log ends with:\n" + s
	}
	return ""
}
