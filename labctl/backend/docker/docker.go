// Package docker is the Docker backend of the socketlab engine: the only
// package that imports Docker's types. It drives every container's whole
// life with the moby client (create on the first network, connect the
// others, start, exec, stop, remove), so one client owns each container.
//
// testcontainers-go stays what Go tests use to run containers of their own
// (integration/); the engine does not use it: its create/start/wait cycle
// cannot join several networks before start, and it publishes every exposed
// port on the host.
package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"socketlab/labctl/backend"
)

// Backend is a connection to one Docker engine.
type Backend struct {
	cli *client.Client
	// local: the engine runs on this machine (a unix socket), so its
	// containers' processes can be read through /proc.
	local bool
	// endpoint is where it was reached, as the user named it.
	endpoint string

	once   sync.Once
	info   backend.Info
	logDrv string
	err    error
}

var _ backend.Backend = (*Backend)(nil)

// New connects to the Docker engine named by the environment (DOCKER_HOST,
// default the local socket) and checks that it answers; the error wraps
// backend.ErrUnreachable and says what to do.
func New(ctx context.Context) (*Backend, error) {
	if h := os.Getenv("DOCKER_HOST"); strings.HasPrefix(h, "ssh://") {
		return NewAt(ctx, h, nil) // the client itself dials no ssh
	}
	return connect(ctx, "", "is the Docker daemon running? Start it, or point DOCKER_HOST at one", client.FromEnv)
}

// connect makes a client of opts and pings the engine; at names the engine
// as the user did ("": the client's own address), hint what to check.
func connect(ctx context.Context, at, hint string, opts ...client.Opt) (*Backend, error) {
	cli, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", backend.ErrUnreachable, err)
	}
	if at == "" {
		at = cli.DaemonHost()
	}
	b := &Backend{cli: cli, local: strings.HasPrefix(cli.DaemonHost(), "unix://"), endpoint: at}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w at %s: %s (%v)", backend.ErrUnreachable, at, hint, err)
	}
	return b, nil
}

// Endpoint is the address of the engine, e.g. unix:///var/run/docker.sock.
func (b *Backend) Endpoint() string { return b.endpoint }

// Close releases the connection.
func (b *Backend) Close() error { return b.cli.Close() }

// Info describes the engine; it is read once per connection.
func (b *Backend) Info(ctx context.Context) (backend.Info, error) {
	b.once.Do(func() {
		v, err := b.cli.ServerVersion(ctx, client.ServerVersionOptions{})
		if err != nil {
			b.err = classify("engine version", err)
			return
		}
		b.info = backend.Info{
			Name: "docker", Version: v.Version, APIVersion: b.cli.ClientVersion(),
			// Docker 28 (API 1.48) makes bridges without IPv4 and filters
			// IPv6 between networks with ip6tables by default.
			IPv6OnlyNetworks: b.apiAtLeast(1, 48),
			IsolatesIPv6:     b.apiAtLeast(1, 48),
		}
		if in, err := b.cli.Info(ctx, client.InfoOptions{}); err == nil {
			b.logDrv = in.Info.LoggingDriver
			b.info.Product, b.info.Rootless, b.info.ImageStore = describeEngine(v, in.Info)
			if b.info.Product == ProductPodman {
				b.info.Rootless, _ = b.podmanRootless(ctx)
			}
		}
		switch {
		case b.info.Product == ProductPodman:
			// aardvark-dns answers on each network's gateway and asks
			// upstream from its own namespace.
			b.info.DNSAtGateway = true
		case b.local:
			b.info.Resolvers = hostResolvers() // the engine's host is this machine
		}
	})
	return b.info, b.err
}

// apiAtLeast tells whether the engine speaks API major.minor or later.
func (b *Backend) apiAtLeast(major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(b.cli.ClientVersion(), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// classify wraps a Docker error with op and with the backend error it
// stands for, judged by its API status (errdefs), never its text.
func classify(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case client.IsErrConnectionFailed(err):
		return fmt.Errorf("%s: %w: is the Docker daemon running? (%v)", op, backend.ErrUnreachable, err)
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("%s: %w: %v", op, backend.ErrNotFound, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// List lists containers and networks by label.
func (b *Backend) List(ctx context.Context, sel backend.Selector) ([]backend.Container, []backend.Network, error) {
	f := make(client.Filters)
	for k, v := range sel {
		if v == "" {
			f = f.Add("label", k)
		} else {
			f = f.Add("label", k+"="+v)
		}
	}
	cs, err := b.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, nil, classify("list containers", err)
	}
	ns, err := b.cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, nil, classify("list networks", err)
	}
	info, _ := b.Info(ctx) // which engine: Podman's names and bridges differ
	ctrs := make([]backend.Container, len(cs.Items))
	for i, c := range cs.Items {
		name := c.ID[:12]
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		ctrs[i] = backend.Container{
			ID: c.ID, Name: name, Image: b.imageName(c.Image), ImageID: c.ImageID,
			Running: c.State == container.StateRunning, State: string(c.State), Labels: c.Labels,
		}
	}
	nets := make([]backend.Network, len(ns.Items))
	for i, n := range ns.Items {
		nets[i] = backend.Network{ID: n.ID, Name: n.Name, Internal: n.Internal, Labels: n.Labels}
		if n.Driver == "bridge" && !bridgesAway(info) {
			nets[i].Bridge = bridgeName(n.ID, n.Options)
		}
		for _, c := range n.IPAM.Config {
			nets[i].Subnets = append(nets[i].Subnets, c.Subnet)
			switch {
			case c.Gateway.IsValid():
				nets[i].Gateways = append(nets[i].Gateways, c.Gateway)
			case n.Driver == "bridge" && c.Subnet.IsValid():
				// The engine gives a bridge the subnet's first address
				// unless told otherwise, whether it reports it or not.
				nets[i].Gateways = append(nets[i].Gateways, c.Subnet.Masked().Addr().Next())
			}
		}
	}
	return ctrs, nets, nil
}

// Image inspects a local image.
func (b *Backend) Image(ctx context.Context, ref string) (backend.Image, error) {
	img, err := b.cli.ImageInspect(ctx, ref)
	if err != nil {
		return backend.Image{}, classify("inspect image "+ref, err)
	}
	out := backend.Image{ID: img.ID}
	if img.Config != nil && img.Config.Healthcheck != nil {
		out.Healthcheck = healthArgv(img.Config.Healthcheck.Test)
	}
	if info, _ := b.Info(ctx); info.Product == ProductPodman && out.Healthcheck == nil {
		if out.Healthcheck, err = b.podmanHealthcheck(ctx, ref); err != nil {
			return backend.Image{}, fmt.Errorf("inspect image %s: %w", ref, err)
		}
	}
	return out, nil
}

// healthArgv turns a HEALTHCHECK test into a command to exec.
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

// Connect joins a container to a network.
func (b *Backend) Connect(ctx context.Context, net, ctr string, ep backend.Endpoint) error {
	if _, err := b.cli.NetworkConnect(ctx, net, client.NetworkConnectOptions{Container: ctr, EndpointConfig: endpoint(ep)}); err != nil {
		return classify("connect to network "+net, err)
	}
	return nil
}

// Disconnect takes a container off a network.
func (b *Backend) Disconnect(ctx context.Context, net, ctr string) error {
	if _, err := b.cli.NetworkDisconnect(ctx, net, client.NetworkDisconnectOptions{Container: ctr}); err != nil {
		return classify("disconnect from network "+net, err)
	}
	return nil
}

// Start starts a container.
func (b *Backend) Start(ctx context.Context, ctr string) error {
	if _, err := b.cli.ContainerStart(ctx, ctr, client.ContainerStartOptions{}); err != nil {
		return classify("start", err)
	}
	return nil
}

// Stop stops a container gracefully.
func (b *Backend) Stop(ctx context.Context, ctr string, timeout time.Duration) error {
	secs := int(timeout / time.Second)
	if _, err := b.cli.ContainerStop(ctx, ctr, client.ContainerStopOptions{Timeout: &secs}); err != nil {
		return classify("stop", err)
	}
	return nil
}

// Kill sends SIGKILL; a container that is not running is ErrNotRunning.
func (b *Backend) Kill(ctx context.Context, ctr string) error {
	if _, err := b.cli.ContainerKill(ctx, ctr, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		if cerrdefs.IsConflict(err) { // 409: not running
			return fmt.Errorf("kill: %w", backend.ErrNotRunning)
		}
		return classify("kill", err)
	}
	return nil
}

// Remove force-removes a container; one gone or already being removed is
// no error.
func (b *Backend) Remove(ctx context.Context, ctr string) error {
	_, err := b.cli.ContainerRemove(ctx, ctr, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) { // 409: removal in progress
		return classify("remove container", err)
	}
	return nil
}

// Inspect reads a container.
func (b *Backend) Inspect(ctx context.Context, ctr string) (backend.ContainerInfo, error) {
	b.Info(ctx) // which engine: Podman's names differ (imageName)
	res, err := b.cli.ContainerInspect(ctx, ctr, client.ContainerInspectOptions{})
	if err != nil {
		return backend.ContainerInfo{}, classify("inspect", err)
	}
	c := res.Container
	info := backend.ContainerInfo{ID: c.ID, Name: strings.TrimPrefix(c.Name, "/"), ImageID: c.Image}
	if c.Config != nil {
		info.Image, info.User, info.Labels = b.imageName(c.Config.Image), c.Config.User, c.Config.Labels
	}
	pid := 0
	if s := c.State; s != nil {
		info.State, info.Running, pid = string(s.Status), s.Running && !s.Restarting, s.Pid
		if s.Health != nil {
			info.Health = string(s.Health.Status)
		}
		if !s.Running && s.Status != container.StateCreated {
			info.ExitCode = s.ExitCode
		}
	}
	if h := c.HostConfig; h != nil {
		info.Security = backend.Security{
			ReadOnlyRoot: h.ReadonlyRootfs, CapDrop: h.CapDrop, CapAdd: h.CapAdd,
			NoNewPrivileges: slices.Contains(h.SecurityOpt, "no-new-privileges"), SecurityOpt: h.SecurityOpt,
			Privileged: h.Privileged, Memory: h.Memory,
		}
		if h.PidsLimit != nil {
			info.Security.Pids = *h.PidsLimit
		}
		if b.info.Product == ProductPodman {
			info.Security.CapDrop, info.Security.CapAdd = podmanCaps(h.CapDrop, h.CapAdd)
		}
		for t := range h.Tmpfs {
			info.Security.Tmpfs = append(info.Security.Tmpfs, t)
		}
	}
	if c.NetworkSettings == nil {
		return info, nil
	}
	ifaces := map[string]string{}
	if b.local {
		ifaces = interfaces(pid)
	}
	for name, ep := range c.NetworkSettings.Networks {
		e := backend.EndpointInfo{
			Network: name, NetworkID: b.networkID(ctx, name, ep.NetworkID), IPv4: ep.IPAddress, IPv6: ep.GlobalIPv6Address,
			MAC: ep.MacAddress.String(),
			Aliases: slices.DeleteFunc(slices.Clone(ep.Aliases), func(s string) bool {
				return strings.HasPrefix(c.ID, s) // Docker adds the short ID
			}),
		}
		e.Interface = ifaces[e.MAC]
		info.Endpoints = append(info.Endpoints, e)
	}
	slices.SortFunc(info.Endpoints, func(a, b backend.EndpointInfo) int { return strings.Compare(a.Network, b.Network) })
	return info, nil
}

// interfaces maps the MAC address of each interface in the network
// namespace of process pid to its name, read through /proc on this host.
// Docker does not report interface names, and eth0 is not always the
// network a container was created on (the engine joins networks in map
// order at start). A remote engine, or a process without the rights, gives
// an empty map: the names are then unknown.
func interfaces(pid int) map[string]string {
	out := map[string]string{}
	if pid <= 0 {
		return out
	}
	dir := filepath.Join("/proc", strconv.Itoa(pid), "root", "sys", "class", "net")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return out
	}
	for _, e := range ents {
		mac, err := os.ReadFile(filepath.Join(dir, e.Name(), "address"))
		if err == nil {
			out[strings.TrimSpace(string(mac))] = e.Name()
		}
	}
	return out
}

// publish adds port bindings to a container's configuration.
func publish(cfg *container.Config, hc *container.HostConfig, ps []backend.PortBinding) error {
	for _, p := range ps {
		proto := "tcp"
		if p.UDP {
			proto = "udp"
		}
		port, err := network.ParsePort(fmt.Sprintf("%d/%s", p.ContainerPort, proto))
		if err != nil {
			return err
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = network.PortSet{}
			hc.PortBindings = network.PortMap{}
		}
		cfg.ExposedPorts[port] = struct{}{}
		hc.PortBindings[port] = append(hc.PortBindings[port], network.PortBinding{HostIP: p.HostIP, HostPort: strconv.Itoa(int(p.HostPort))})
	}
	return nil
}

// bridgeName is the host interface of a bridge network: the name its
// options give, or "br-" and the first 12 characters of its ID.
func bridgeName(id string, options map[string]string) string {
	if n := options["com.docker.network.bridge.name"]; n != "" {
		return n
	}
	return "br-" + id[:min(12, len(id))]
}
