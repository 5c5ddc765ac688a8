package docker

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/moby/moby/client"

	"socketlab/labctl/backend"
)

// NetNS opens the network namespace of the container's process. It works
// only when the engine runs on this machine (the process's cgroup names the
// container: a pid from a remote engine would be some local process) and
// this process may open it.
func (b *Backend) NetNS(ctx context.Context, ctr string) (*os.File, error) {
	res, err := b.cli.ContainerInspect(ctx, ctr, client.ContainerInspectOptions{})
	if err != nil {
		return nil, classify("inspect", err)
	}
	c := res.Container
	if c.State == nil || !c.State.Running || c.State.Restarting || c.State.Pid <= 0 {
		return nil, fmt.Errorf("namespace of %s: %w", ctr, backend.ErrNotRunning)
	}
	pid := strconv.Itoa(c.State.Pid)
	cg, err := os.ReadFile("/proc/" + pid + "/cgroup")
	if err != nil || !strings.Contains(string(cg), c.ID) {
		return nil, fmt.Errorf("namespace of %s: the engine is not on this machine: %w", ctr, backend.ErrUnsupported)
	}
	ns, err := os.Open("/proc/" + pid + "/ns/net")
	if err != nil {
		return nil, fmt.Errorf("namespace of %s: %w (%v)", ctr, backend.ErrUnsupported, err)
	}
	return ns, nil
}
