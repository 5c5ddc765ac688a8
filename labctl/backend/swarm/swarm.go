// Package swarm is the multi-host backend of the socketlab engine: one lab
// across the Docker engines of a Docker Swarm. Networks are attachable
// overlay networks made on a manager (they span every host), nodes are
// plain containers created on the host the engine places them on and
// joined to those networks, and every other call goes to the engine of the
// container it is about. It drives each engine through the Docker backend
// (package backend/docker), so it holds no Docker types of its own.
//
// Docker 20.10's overlay networks need help with IPv6: the swarm hands out
// IPv4 addresses only (each host gives IPv6 addresses from its own pool, so
// two containers on two hosts get the same one), the embedded DNS answers
// no AAAA, and neighbour discovery does not cross hosts. So Info asks the
// engine to pin every address and give names as ExtraHosts
// (Info.PinAddresses); the engine then sets the pinned IPv6 address and
// its neighbours inside each node with a helper. Inspect reports the
// pinned IPv6 address, recorded in a label at create.
package swarm

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"socketlab/labctl/backend"
	"socketlab/labctl/backend/docker"
)

// labelIPv6 + network ID holds the IPv6 address a container was given on
// that network, which the engine of its host does not report.
const labelIPv6 = "socketlab.ipv6."

// labelSubnet6 holds an overlay network's IPv6 subnet. Docker is not told
// of it: its overlay IPv6 (20.10) hands out duplicate addresses and fails
// attachments now and then ("Invalid address ...: It does not belong to
// any of this network's subnets"), so the network is IPv4 to Docker and
// the engine's pin6 helper sets the IPv6 addresses and neighbours, which
// the overlay carries as it carries any frame.
const labelSubnet6 = "socketlab.subnet6"

// Backend is a connection to every engine of a swarm.
type Backend struct {
	// hosts are in file order, except that the manager networks are made
	// on comes first.
	hosts  []*host
	byName map[string]*host

	mu    sync.Mutex
	where map[string]*host // container ID -> its host
}

type host struct {
	name, endpoint string
	d              *docker.Backend
	node           string // its swarm node ID

	// starts serializes starting containers on the host: a worker that
	// attaches containers to overlay networks side by side fails some of
	// them ("attaching to network failed", Docker 20.10).
	starts sync.Mutex
}

var _ backend.Backend = (*Backend)(nil)

// New connects to every host of hs and checks, before anything is created,
// that each answers and that all are nodes of one swarm with a manager
// among them. Its errors name the host and say what to do.
func New(ctx context.Context, hs *Hosts) (*Backend, error) {
	if len(hs.Hosts) == 0 {
		return nil, fmt.Errorf("%s: no hosts", hs.File)
	}
	b := &Backend{byName: map[string]*host{}, where: map[string]*host{}}
	hosts := make([]*host, len(hs.Hosts))
	states := make([]docker.SwarmState, len(hs.Hosts))
	errs := make([]error, len(hs.Hosts))
	var wg sync.WaitGroup
	for i, x := range hs.Hosts {
		wg.Go(func() {
			d, err := docker.NewAt(ctx, x.Endpoint, x.TLS)
			if err != nil {
				errs[i] = fmt.Errorf("%s:%d:%d: host %s (%s): %w", hs.File, x.Line, x.Column, x.Name, x.Endpoint, err)
				return
			}
			hosts[i] = &host{name: x.Name, endpoint: x.Endpoint, d: d}
			if states[i], err = d.Swarm(ctx); err != nil {
				errs[i] = fmt.Errorf("host %s (%s): %w", x.Name, x.Endpoint, err)
			}
		})
	}
	wg.Wait()
	fail := func(err error) (*Backend, error) {
		for _, h := range hosts {
			if h != nil {
				h.d.Close()
			}
		}
		return nil, err
	}
	if err := errors.Join(errs...); err != nil {
		return fail(err)
	}
	for i, st := range states {
		if !st.Active {
			why := ""
			if st.Error != "" {
				why = " (" + st.Error + ")"
			}
			return fail(fmt.Errorf("%s:%d:%d: host %s (%s) is not in a swarm%s: run docker swarm init on one host, then on the others the docker swarm join command that docker swarm join-token worker prints",
				hs.File, hs.Hosts[i].Line, hs.Hosts[i].Column, hosts[i].name, hosts[i].endpoint, why))
		}
		hosts[i].node = st.NodeID
	}
	m := slices.IndexFunc(states, func(s docker.SwarmState) bool { return s.Manager })
	if m < 0 {
		return fail(fmt.Errorf("%s: none of the hosts %s is a swarm manager: name a manager's engine too (networks are made on it)",
			hs.File, strings.Join(hs.Names(), ", ")))
	}
	members, err := hosts[m].d.SwarmNodes(ctx)
	if err != nil {
		return fail(fmt.Errorf("host %s: %w", hosts[m].name, err))
	}
	for i, h := range hosts {
		if !slices.Contains(members, h.node) {
			return fail(fmt.Errorf("%s:%d:%d: host %s (%s) is in another swarm than the manager %s: make it leave (docker swarm leave) and join %s's swarm",
				hs.File, hs.Hosts[i].Line, hs.Hosts[i].Column, h.name, h.endpoint, hosts[m].name, hosts[m].name))
		}
	}
	b.hosts = append([]*host{hosts[m]}, slices.Delete(slices.Clone(hosts), m, m+1)...)
	for _, h := range b.hosts {
		b.byName[h.name] = h
	}
	return b, nil
}

func (b *Backend) manager() *host { return b.hosts[0] }

// Close closes every connection.
func (b *Backend) Close() error {
	var errs []error
	for _, h := range b.hosts {
		errs = append(errs, h.d.Close())
	}
	return errors.Join(errs...)
}

// Info describes the manager's engine and names the hosts.
func (b *Backend) Info(ctx context.Context) (backend.Info, error) {
	info, err := b.manager().d.Info(ctx)
	if err != nil {
		return info, fmt.Errorf("host %s: %w", b.manager().name, err)
	}
	info.Name = "swarm"
	info.IPv6OnlyNetworks = false // an overlay network always has IPv4
	info.PinAddresses = true
	info.Hosts = nil
	for _, h := range b.hosts {
		info.Hosts = append(info.Hosts, h.name)
	}
	return info, nil
}

// each runs fn on every host side by side.
func (b *Backend) each(fn func(h *host) error) error {
	errs := make([]error, len(b.hosts))
	var wg sync.WaitGroup
	for i, h := range b.hosts {
		wg.Go(func() {
			if err := fn(h); err != nil {
				errs[i] = fmt.Errorf("host %s: %w", h.name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// List merges the containers of every host and the networks they know (an
// overlay network, known to several, once).
func (b *Backend) List(ctx context.Context, sel backend.Selector) ([]backend.Container, []backend.Network, error) {
	var mu sync.Mutex
	var ctrs []backend.Container
	var nets []backend.Network
	seen := map[string]bool{}
	err := b.each(func(h *host) error {
		cs, ns, err := h.d.List(ctx, sel)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, c := range cs {
			b.remember(c.ID, h)
			ctrs = append(ctrs, c)
		}
		for _, n := range ns {
			if !seen[n.ID] {
				seen[n.ID] = true
				if s, err := netip.ParsePrefix(n.Labels[labelSubnet6]); err == nil {
					n.Subnets = append(n.Subnets, s)
				}
				nets = append(nets, n)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return ctrs, nets, nil
}

func (b *Backend) remember(id string, h *host) {
	b.mu.Lock()
	b.where[id] = h
	b.mu.Unlock()
}

// NetNS opens a container's network namespace, when its host runs on this
// machine.
func (b *Backend) NetNS(ctx context.Context, ctr string) (*os.File, error) {
	var f *os.File
	err := b.on(ctx, ctr, func(d *docker.Backend) (err error) {
		f, err = d.NetNS(ctx, ctr)
		return err
	})
	return f, err
}

// CreateNetwork creates an attachable overlay network on the manager; its
// IPv6 subnet is kept in a label (see labelSubnet6).
func (b *Backend) CreateNetwork(ctx context.Context, spec backend.NetworkSpec) (string, error) {
	if spec.IPv6.IsValid() {
		spec.Labels = maps.Clone(spec.Labels)
		spec.Labels[labelSubnet6] = spec.IPv6.String()
		spec.IPv6 = netip.Prefix{}
	}
	return b.manager().d.CreateOverlay(ctx, spec)
}

// RemoveNetwork removes an overlay network on the manager. The swarm
// holds a network for a moment after its last container is removed (its
// attachment tasks end asynchronously): the removal is tried again for a
// while, and a network that is gone meanwhile is no error.
func (b *Backend) RemoveNetwork(ctx context.Context, id string) error {
	m := b.manager().d
	deadline := time.Now().Add(networkGrace)
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		err := m.RemoveNetwork(ctx, id)
		if err == nil {
			return nil
		}
		_, nets, lerr := m.List(ctx, nil)
		if lerr == nil && !slices.ContainsFunc(nets, func(n backend.Network) bool { return n.ID == id }) {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// networkGrace bounds how long RemoveNetwork waits for the swarm to let go
// of a network.
const networkGrace = 20 * time.Second

// CreateNode creates the container on spec.Host (the manager when "").
func (b *Backend) CreateNode(ctx context.Context, spec backend.NodeSpec) (string, error) {
	h := b.manager()
	if spec.Host != "" {
		var ok bool
		if h, ok = b.byName[spec.Host]; !ok {
			return "", fmt.Errorf("create %s: host %q is not in the hosts file (hosts: %s)", spec.Name, spec.Host, strings.Join(b.names(), ", "))
		}
	}
	labels := maps.Clone(spec.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[backend.LabelHost] = h.name
	spec.Networks = slices.Clone(spec.Networks)
	for i, ep := range spec.Networks {
		if ep.IPv6.IsValid() {
			labels[labelIPv6+ep.Network] = ep.IPv6.String()
			spec.Networks[i].IPv6 = netip.Addr{} // see labelSubnet6
		}
	}
	spec.Labels = labels
	if len(spec.Networks) > 0 && spec.Networks[0].Network != "none" {
		// Docker turns IPv6 off in a container on IPv4 networks only;
		// the pin6 helper gives it its addresses.
		spec.Sysctls = maps.Clone(spec.Sysctls)
		if spec.Sysctls == nil {
			spec.Sysctls = map[string]string{}
		}
		spec.Sysctls["net.ipv6.conf.all.disable_ipv6"] = "0"
		spec.Sysctls["net.ipv6.conf.default.disable_ipv6"] = "0"
	}
	id, err := h.d.CreateNode(ctx, spec)
	if id != "" {
		b.remember(id, h)
	}
	if err != nil {
		return id, fmt.Errorf("host %s: %w", h.name, err)
	}
	return id, nil
}

func (b *Backend) names() []string {
	var n []string
	for _, h := range b.hosts {
		n = append(n, h.name)
	}
	return n
}

// hostOf finds the host of a container: the one that created or listed it,
// else the one whose engine knows it.
func (b *Backend) hostOf(ctx context.Context, id string) (*host, error) {
	b.mu.Lock()
	h, ok := b.where[id]
	b.mu.Unlock()
	if ok {
		return h, nil
	}
	found := make([]bool, len(b.hosts))
	err := b.each(func(h *host) error {
		_, err := h.d.Inspect(ctx, id)
		found[h.index(b)] = err == nil
		if errors.Is(err, backend.ErrNotFound) {
			return nil
		}
		return err
	})
	for i, f := range found {
		if f {
			b.remember(id, b.hosts[i])
			return b.hosts[i], nil
		}
	}
	if err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("container %s on hosts %s: %w", id, strings.Join(b.names(), ", "), backend.ErrNotFound)
}

func (h *host) index(b *Backend) int { return slices.Index(b.hosts, h) }

// on runs fn with the engine of container id's host.
func (b *Backend) on(ctx context.Context, id string, fn func(d *docker.Backend) error) error {
	h, err := b.hostOf(ctx, id)
	if err != nil {
		return err
	}
	return fn(h.d)
}
