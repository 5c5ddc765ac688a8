package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"socketlab/labctl/backend"
)

// Exec runs argv in a running container.
func (b *Backend) Exec(ctx context.Context, ctr string, argv []string, s backend.Streams) (int, error) {
	cr, err := b.cli.ExecCreate(ctx, ctr, client.ExecCreateOptions{
		Cmd: argv, AttachStdin: s.Stdin != nil, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		if cerrdefs.IsConflict(err) || b.stopped(ctx, ctr) { // Docker: 409; Podman: 500, so its state says
			return -1, fmt.Errorf("exec: %w", backend.ErrNotRunning)
		}
		return -1, classify("exec create", err)
	}
	att, err := b.cli.ExecAttach(ctx, cr.ID, client.ExecAttachOptions{})
	if err != nil {
		return -1, classify("exec attach", err)
	}
	defer att.Close()
	if s.Stdin != nil {
		go func() {
			io.Copy(att.Conn, s.Stdin)
			att.CloseWrite()
		}()
	}
	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(orDiscard(s.Stdout), orDiscard(s.Stderr), att.Reader)
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
		ins, err := b.cli.ExecInspect(ctx, cr.ID, client.ExecInspectOptions{})
		if err != nil {
			return -1, classify("exec inspect", err)
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

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// Logs copies a container's output.
func (b *Backend) Logs(ctx context.Context, ctr string, follow bool, tail int, stdout, stderr io.Writer) error {
	opts := client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow}
	if tail > 0 {
		opts.Tail = strconv.Itoa(tail)
	}
	rc, err := b.cli.ContainerLogs(ctx, ctr, opts)
	if err != nil {
		return classify("logs", err)
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(orDiscard(stdout), orDiscard(stderr), rc); err != nil && ctx.Err() == nil {
		return fmt.Errorf("logs: %w", err)
	}
	return nil
}

// RunHelper runs a helper container in ctr's network namespace, or the
// host's when ctr is "".
func (b *Backend) RunHelper(ctx context.Context, ctr string, spec backend.HelperSpec) (backend.Helper, error) {
	hc := &container.HostConfig{NetworkMode: container.NetworkMode("container:" + ctr)}
	if ctr == "" {
		hc.NetworkMode = container.NetworkMode(network.NetworkHost)
	}
	confine(hc, backend.Security{ReadOnlyRoot: true, CapDrop: []string{"ALL"}, CapAdd: spec.Caps, NoNewPrivileges: true})
	res, err := b.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: spec.Name,
		Config: &container.Config{
			Image: spec.Image, Cmd: spec.Cmd, Labels: spec.Labels,
			AttachStdout: true, AttachStderr: true,
		},
		HostConfig: hc,
	})
	if err != nil {
		if cerrdefs.IsConflict(err) {
			return nil, fmt.Errorf("create helper %s: %w", spec.Name, backend.ErrNameInUse)
		}
		return nil, classify("create helper "+spec.Name, err)
	}
	h := &helper{b: b, id: res.ID}
	// Attach before start, so that nothing the helper writes is missed.
	att, err := b.cli.ContainerAttach(ctx, res.ID, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		b.Remove(context.WithoutCancel(ctx), res.ID)
		return nil, classify("attach helper "+spec.Name, err)
	}
	pr, pw := io.Pipe()
	h.stdout, h.att = pr, att.HijackedResponse
	go func() {
		_, err := stdcopy.StdCopy(pw, orDiscard(spec.Stderr), att.Reader)
		pw.CloseWithError(err)
	}()
	if _, err := b.cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		att.Close()
		b.Remove(context.WithoutCancel(ctx), res.ID)
		if cerrdefs.IsConflict(err) { // 409: the node is not running (restarting, stopped)
			return nil, fmt.Errorf("helper %s: %w", spec.Name, backend.ErrNotRunning)
		}
		err = classify("start", err)
		if errors.Is(err, backend.ErrNotFound) {
			return nil, fmt.Errorf("helper %s: the node's container is gone: %w", spec.Name, err)
		}
		return nil, fmt.Errorf("start helper %s: %w", spec.Name, err)
	}
	return h, nil
}

// helper is a running helper container.
type helper struct {
	b      *Backend
	id     string
	stdout io.Reader
	att    client.HijackedResponse
}

func (h *helper) ID() string        { return h.id }
func (h *helper) Stdout() io.Reader { return h.stdout }

func (h *helper) Wait(ctx context.Context) (int, error) {
	w := h.b.cli.ContainerWait(ctx, h.id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-w.Result:
		return int(r.StatusCode), nil
	case err := <-w.Error:
		return -1, classify("wait for helper", err)
	}
}

func (h *helper) Remove(ctx context.Context, grace time.Duration) error {
	defer h.att.Close()
	if grace > 0 {
		h.b.Stop(ctx, h.id, grace)
	}
	return h.b.Remove(ctx, h.id)
}
