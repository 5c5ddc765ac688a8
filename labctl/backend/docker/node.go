package docker

import (
	"context"
	"fmt"
	"strconv"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"socketlab/labctl/backend"
)

// CreateNode creates a node's container on its first network and joins it
// to the others before it starts.
func (b *Backend) CreateNode(ctx context.Context, spec backend.NodeSpec) (string, error) {
	if len(spec.Networks) == 0 {
		return "", fmt.Errorf("create %s: no network", spec.Name)
	}
	if _, err := b.Info(ctx); err != nil {
		return "", err
	}
	stop := int(spec.StopTimeout / time.Second)
	cfg := &container.Config{
		Image: spec.Image, Hostname: spec.Hostname, Cmd: spec.Cmd, Entrypoint: spec.Entrypoint,
		Env: spec.Env, WorkingDir: spec.WorkDir, User: spec.User, Labels: spec.Labels, StopTimeout: &stop,
	}
	hc := &container.HostConfig{NetworkMode: container.NetworkMode(spec.Networks[0].Network)}
	confine(hc, spec.Security)
	hc.ExtraHosts = spec.ExtraHosts
	hc.Sysctls = spec.Sysctls
	if b.info.Product == ProductPodman {
		podmanSysctls(hc)
	}
	if spec.Init {
		init := true
		hc.Init = &init
	}
	for _, m := range spec.Mounts {
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	if err := publish(cfg, hc, spec.Publish); err != nil {
		return "", fmt.Errorf("create %s: %w", spec.Name, err)
	}
	if spec.RestartOnFailure {
		hc.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: 5}
	}
	if spec.LogMaxBytes > 0 && (b.logDrv == "json-file" || b.logDrv == "local") {
		hc.LogConfig = container.LogConfig{Type: b.logDrv, Config: map[string]string{
			"max-size": strconv.FormatInt(spec.LogMaxBytes, 10), "max-file": "1",
		}}
	}
	first := spec.Networks[0]
	var nc *network.NetworkingConfig
	// Podman refuses endpoint settings with network mode none (the lock)
	// or host; Docker needs none there either.
	if !hc.NetworkMode.IsNone() && !hc.NetworkMode.IsHost() {
		nc = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{first.Network: endpoint(first)}}
	}
	res, err := b.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: spec.Name, Config: cfg, HostConfig: hc, NetworkingConfig: nc,
	})
	switch {
	case cerrdefs.IsConflict(err):
		return "", fmt.Errorf("create %s: %w", spec.Name, backend.ErrNameInUse)
	case err != nil:
		return "", classify("create "+spec.Name, err)
	}
	// API < 1.44 creates a container on one network only.
	for _, ep := range spec.Networks[1:] {
		if err := b.Connect(ctx, ep.Network, res.ID, ep); err != nil {
			return res.ID, err
		}
	}
	return res.ID, nil
}

// confine applies s to a host configuration.
func confine(hc *container.HostConfig, s backend.Security) {
	hc.ReadonlyRootfs = s.ReadOnlyRoot
	hc.CapDrop = s.CapDrop
	hc.CapAdd = s.CapAdd
	if s.NoNewPrivileges {
		hc.SecurityOpt = []string{"no-new-privileges"}
	}
	hc.Memory = s.Memory
	if s.Pids > 0 {
		p := s.Pids
		hc.PidsLimit = &p
	}
	if len(s.Tmpfs) > 0 {
		hc.Tmpfs = map[string]string{}
		for _, t := range s.Tmpfs {
			hc.Tmpfs[t] = ""
		}
	}
}
