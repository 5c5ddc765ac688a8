package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"socketlab/labctl/backend"
)

// DefaultHealthTimeout bounds how long Up and Start wait for a node to be
// ready.
const DefaultHealthTimeout = 30 * time.Second

// healthPoll is how often a starting node's readiness check runs. Each run
// costs the engine tens of milliseconds of CPU; servers listen within
// milliseconds of starting, so the first or second run passes.
const healthPoll = 100 * time.Millisecond

// rollbackPause is the wait between two sweeps of a rollback; rollbackQuiet
// how long a rollback sweeps on after it last found something, and
// takeoverQuiet the same when undoing an up that was killed (its last
// requests may still be running in the daemon).
const (
	rollbackPause = 150 * time.Millisecond
	rollbackQuiet = 300 * time.Millisecond
	takeoverQuiet = 3 * time.Second
)

// waitReady waits until the container runs and r's check passes.
func waitReady(ctx context.Context, b ReadyBackend, id, node string, r Readiness, timeout time.Duration) error {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for first := true; ; first = false {
		wait := healthPoll
		if first {
			wait = 20 * time.Millisecond
		}
		if !sleep(ctx, wait) {
			if parent.Err() != nil {
				return parent.Err()
			}
			why := ""
			if last != nil {
				why = ": " + last.Error()
			}
			lctx, cancel := context.WithTimeout(context.WithoutCancel(parent), 5*time.Second)
			defer cancel()
			return fmt.Errorf("%w: %s did not pass its readiness check (%s) within %s%s%s", ErrUnhealthy, node, r.What, timeout, why, logTail(lctx, b, id))
		}
		ins, err := b.Inspect(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				continue // the sleep above says why
			}
			return fmt.Errorf("inspect %s: %w", node, err)
		}
		if !ins.Running {
			return fmt.Errorf("%w: %s exited with code %d%s", ErrUnhealthy, node, ins.ExitCode, logTail(ctx, b, id))
		}
		if r.Check == nil {
			return nil
		}
		if last = r.Check(ctx, b, id); last == nil {
			return nil
		}
		var lo *lastingError
		if errors.As(last, &lo) {
			return fmt.Errorf("%w: %s is not ready (%s): %s%s", ErrUnhealthy, node, r.What, lo.msg, logTail(ctx, b, id))
		}
	}
}

// execCheck runs argv in the container: ready when it exits 0.
func execCheck(ctx context.Context, b backend.Execer, id string, argv []string) error {
	var out bytes.Buffer
	code, err := b.Exec(ctx, id, argv, backend.Streams{Stdout: &out, Stderr: &out})
	switch {
	case err != nil:
		return err
	case code != 0:
		if s := strings.TrimSpace(out.String()); s != "" {
			return fmt.Errorf("%s", s)
		}
		return fmt.Errorf("%s exited with %d", strings.Join(argv, " "), code)
	}
	return nil
}

// logTail is the end of a container's log, to explain why it stopped.
func logTail(ctx context.Context, b backend.Containers, id string) string {
	var buf bytes.Buffer
	w := &limited{w: &buf, n: 4096}
	if err := b.Logs(ctx, id, false, 5, w, w); err != nil {
		return ""
	}
	if s := strings.TrimSpace(buf.String()); s != "" {
		return "; its log ends with:\n" + s
	}
	return ""
}

// limited writes at most n bytes to w and drops the rest.
type limited struct {
	w io.Writer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	k := min(len(p), l.n)
	l.n -= k
	if k > 0 {
		l.w.Write(p[:k])
	}
	return len(p), nil
}

// sleep waits for d, or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
