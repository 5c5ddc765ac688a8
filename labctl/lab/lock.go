package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"socketlab/labctl/backend"
)

// lock makes up of one lab name exclusive: a container named
// <lab>-lock, created (never started) before anything else. The runtime
// refuses a second container of that name at once, so of two ups at the same
// moment exactly one goes on; the other fails with ErrBusy. A lock left by an
// up that died (kill -9) is taken over when its process is gone.
func (u *upper) lock(ctx context.Context, image string) error {
	me := owner()
	spec := backend.NodeSpec{
		Name: dockerName(u.p.name, "lock"), Image: image,
		Labels: map[string]string{
			LabelLab: u.p.name, LabelRole: RoleLock, LabelUp: u.p.upID, LabelOwner: me,
		},
		Networks: []backend.Endpoint{{Network: "none"}},
		Security: backend.Security{ReadOnlyRoot: true, CapDrop: []string{"ALL"}, NoNewPrivileges: true},
	}
	// A container being created (or removed) holds its name before List
	// shows it: wait a moment for what holds the name to show itself.
	deadline := time.Now().Add(lockWait)
	for {
		id, err := u.e.b.CreateNode(ctx, spec)
		if err == nil {
			u.lockID = id
			return nil
		}
		if !errors.Is(err, backend.ErrNameInUse) {
			return fmt.Errorf("lock lab %s: %w", u.p.name, err)
		}
		all, _, err := u.e.b.List(ctx, nil)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(all, func(c backend.Container) bool { return c.Name == spec.Name })
		switch {
		case i < 0:
			// not visible yet, or just removed: try again
		case all[i].Labels[LabelLab] != u.p.name || all[i].Labels[LabelRole] != RoleLock:
			return fmt.Errorf("%w: container %s exists and is not part of lab %s", ErrNameTaken, spec.Name, u.p.name)
		case alive(all[i].Labels[LabelOwner]):
			return fmt.Errorf("%w (%s): wait for it, or if it is stuck, labctl down %s", ErrBusy, all[i].Labels[LabelOwner], u.p.name)
		default:
			// The up that held it is gone (kill -9): undo what it had
			// done, as it would have on failure, and take the lock over.
			if err := u.e.b.Remove(ctx, all[i].ID); err != nil {
				return err
			}
			if dead := all[i].Labels[LabelUp]; dead != "" {
				if err := u.e.sweep(ctx, dead, u.ev, takeoverQuiet, u.o); err != nil {
					return fmt.Errorf("undo the up that died: %w", err)
				}
			}
			deadline = time.Now().Add(lockWait)
			continue
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: the lock %s stays taken: if no up is running, labctl down %s", ErrBusy, spec.Name, u.p.name)
		}
		if !sleep(ctx, 50*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// lockWait bounds how long up waits for a lock's holder to show itself.
const lockWait = 5 * time.Second

// unlock removes the lock; it runs also when up fails.
func (u *upper) unlock(ctx context.Context) {
	if u.lockID == "" {
		return
	}
	ctx, cancel := quietly(ctx)
	defer cancel()
	u.e.b.Remove(ctx, u.lockID)
}

// owner names this process: host name and pid.
func owner() string {
	host, _ := os.Hostname()
	return host + ":" + strconv.Itoa(os.Getpid())
}

// alive tells whether the process an owner names may still run: on another
// host it cannot be told, so it is taken to be alive.
func alive(who string) bool {
	host, pid, ok := strings.Cut(who, ":")
	me, _ := os.Hostname()
	if !ok || host != me {
		return true
	}
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 0 {
		return false
	}
	return n == os.Getpid() || syscall.Kill(n, 0) == nil
}
