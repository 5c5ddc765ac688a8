package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"socketlab/labctl/scenario"
)

// Up brings the scenario's lab up and returns when every node has passed its
// image's healthcheck. The lab is named sc.Name unless WithName says
// otherwise.
//
// Up is idempotent: resources that exist as the scenario says are left
// alone (a stopped node is started), missing ones are created, and a lab that
// is up with another definition is an ErrConflict. When Up fails or ctx ends
// (Ctrl-C), it removes what it created before returning.
func Up(ctx context.Context, sc *scenario.Scenario, opts ...Option) (*Lab, error) {
	o := newOptions(opts)
	name := o.name
	if name == "" {
		name = sc.Name
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	p, err := parsePools(o.pool4, o.pool6)
	if err != nil {
		return nil, err
	}
	e, err := connect(ctx)
	if err != nil {
		return nil, err
	}
	u := &upper{
		e: e, o: o, sc: sc, name: name, pools: p,
		upID: newID(), began: time.Now(),
		netIDs: map[string]string{}, images: map[string]imageInfo{},
	}
	changed, err := u.run(ctx)
	if err != nil {
		rerr := u.rollback(ctx)
		e.close()
		if rerr != nil {
			return nil, fmt.Errorf("%w (and rolling back: %v)", err, rerr)
		}
		return nil, err
	}
	return &Lab{name: name, e: e, o: o, changed: changed}, nil
}

func newID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// imageInfo is what Up needs of an image.
type imageInfo struct {
	id     string
	health []string // the HEALTHCHECK command, nil if none
}

// upper is one run of Up.
type upper struct {
	e     *engine
	o     options
	sc    *scenario.Scenario
	name  string
	pools pools
	upID  string
	began time.Time

	netIDs map[string]string // scenario network name -> Docker ID
	images map[string]imageInfo

	mu sync.Mutex // serializes progress events
}

// ref is the image a node runs.
func (u *upper) ref(image string) string { return scenario.ImagePrefix + image + ":" + u.o.tag }

func (u *upper) emit(kind Kind, name string, ph Phase, detail string, err error) {
	if u.o.progress == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.o.progress(Event{Lab: u.name, Kind: kind, Name: name, Phase: ph, Detail: detail, Elapsed: time.Since(u.began), Err: err})
}

func (u *upper) run(ctx context.Context) (changed bool, err error) {
	if err := u.inspectImages(ctx); err != nil {
		return false, err
	}
	ctrs, nets, err := u.e.resources(ctx, LabelLab+"="+u.name)
	if err != nil {
		return false, err
	}
	if err := u.checkExisting(ctx, ctrs, nets); err != nil {
		return false, err
	}
	existing := map[string]network.Summary{}
	for _, n := range nets {
		existing[n.Labels[LabelNetwork]] = n
	}
	for i, n := range u.sc.Networks {
		if ex, ok := existing[n.Name]; ok {
			u.netIDs[n.Name] = ex.ID
			u.emit(KindNetwork, n.Name, Unchanged, subnets(ex), nil)
			continue
		}
		if err := u.createNetwork(ctx, i, n); err != nil {
			u.emit(KindNetwork, n.Name, Failed, "", err)
			return false, err
		}
		changed = true
	}

	byNode := map[string]container.Summary{}
	for _, c := range ctrs {
		byNode[c.Labels[LabelNode]] = c
	}
	// The first node to fail stops the others: the lab will be rolled back.
	nctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var wg sync.WaitGroup
	errs := make([]error, len(u.sc.Nodes))
	did := make([]bool, len(u.sc.Nodes))
	for i, n := range u.sc.Nodes {
		wg.Go(func() {
			if c, ok := byNode[n.Name]; ok {
				did[i], errs[i] = u.resume(nctx, n, c)
			} else {
				did[i], errs[i] = true, u.createNode(nctx, i, n)
			}
			if errs[i] != nil && nctx.Err() == nil {
				stop(errs[i])
				u.emit(KindNode, n.Name, Failed, "", errs[i])
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err := context.Cause(nctx); err != nil {
		return false, err
	}
	return changed || slices.Contains(did, true), nil
}

// inspectImages checks that every image is built (nothing is ever pulled:
// the lab machines have no registry) and reads its healthcheck.
func (u *upper) inspectImages(ctx context.Context) error {
	var refs []string
	for _, n := range u.sc.Nodes {
		if ref := u.ref(n.Image); !slices.Contains(refs, ref) {
			refs = append(refs, ref)
		}
	}
	infos := make([]imageInfo, len(refs))
	errs := make([]error, len(refs))
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Go(func() { infos[i], errs[i] = u.e.inspectImage(ctx, ref) })
	}
	wg.Wait()
	var missing []string
	for i, ref := range refs {
		switch {
		case cerrdefs.IsNotFound(errs[i]):
			missing = append(missing, ref)
		case errs[i] != nil:
			return engineErr("inspect image "+ref, errs[i])
		default:
			u.images[ref] = infos[i]
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s: run make images", ErrImageMissing, strings.Join(missing, ", "))
	}
	return nil
}

func (e *engine) inspectImage(ctx context.Context, ref string) (imageInfo, error) {
	img, err := e.cli.ImageInspect(ctx, ref)
	if err != nil {
		return imageInfo{}, err
	}
	info := imageInfo{id: img.ID}
	if img.Config != nil && img.Config.Healthcheck != nil {
		info.health = healthArgv(img.Config.Healthcheck.Test)
	}
	return info, nil
}

// checkExisting compares what the engine holds with the scenario: the same
// definitions may stay, anything else is a conflict. It also finds Docker
// names the lab needs that belong to someone else.
func (u *upper) checkExisting(ctx context.Context, ctrs []container.Summary, nets []network.Summary) error {
	var diffs []string
	want := map[string]*scenario.Network{}
	for _, n := range u.sc.Networks {
		want[n.Name] = n
	}
	for _, n := range nets {
		name := n.Labels[LabelNetwork]
		switch w, ok := want[name]; {
		case !ok:
			diffs = append(diffs, "network "+name+" is not in the scenario")
		case n.Labels[LabelSpec] != networkSpec(w):
			diffs = append(diffs, "network "+name+" is defined differently")
		}
	}
	wantNode := map[string]*scenario.Node{}
	for _, n := range u.sc.Nodes {
		wantNode[n.Name] = n
	}
	for _, c := range ctrs {
		name := c.Labels[LabelNode]
		w, ok := wantNode[name]
		switch {
		case !ok:
			diffs = append(diffs, "node "+name+" is not in the scenario")
		case c.Labels[LabelSpec] != nodeSpec(w):
			diffs = append(diffs, "node "+name+" is defined differently")
		case c.ImageID != u.images[u.ref(w.Image)].id:
			diffs = append(diffs, "node "+name+" runs an older build of "+u.ref(w.Image))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%w: lab %s: %s: run labctl down %s first, or labctl up --recreate",
			ErrConflict, u.name, strings.Join(diffs, "; "), u.name)
	}

	// Names the lab will create must be free.
	allNets, err := u.e.cli.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return engineErr("list networks", err)
	}
	allCtrs, err := u.e.cli.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return engineErr("list containers", err)
	}
	var taken []string
	for _, n := range u.sc.Networks {
		name := dockerName(u.name, n.Name)
		for _, s := range allNets.Items {
			if s.Name == name && s.Labels[LabelLab] != u.name {
				taken = append(taken, "network "+name)
			}
		}
	}
	for _, n := range u.sc.Nodes {
		name := "/" + dockerName(u.name, n.Name)
		for _, c := range allCtrs.Items {
			if slices.Contains(c.Names, name) && c.Labels[LabelLab] != u.name {
				taken = append(taken, "container "+name[1:])
			}
		}
	}
	if len(taken) > 0 {
		return fmt.Errorf("%w: %s already exist%s and %s not part of lab %s: remove %s, or give the lab another name (labctl up --name)",
			ErrNameTaken, strings.Join(taken, ", "), plural(len(taken), "s", ""), plural(len(taken), "is", "are"), u.name, plural(len(taken), "it", "them"))
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// allocMu serializes subnet allocation within the process; other processes
// are caught by Docker's overlap check and retried.
var allocMu sync.Mutex

// createNetwork creates a lab network with its subnets, allocating those the
// scenario does not give.
func (u *upper) createNetwork(ctx context.Context, index int, n *scenario.Network) error {
	allocMu.Lock()
	defer allocMu.Unlock()

	st := stack(n)
	want4, want6 := st != scenario.IPv6Only, st != scenario.IPv4Only
	fixed4, fixed6 := n.IPv4, n.IPv6 // zero: allocated below

	opts := map[string]string{}
	var enable4 *bool
	if st == scenario.IPv6Only {
		switch {
		case u.e.apiAtLeast(1, 48): // Docker 28: a bridge may have no IPv4
			enable4 = &want4
		case !u.e.apiAtLeast(1, 46):
			// Docker 26 and older always give a bridge IPv4, but do not
			// filter IPv6: with inter-container traffic (icc) off, IPv4
			// between the nodes is dropped and IPv6 flows.
			want4 = true
			opts["com.docker.network.bridge.enable_icc"] = "false"
		default:
			return fmt.Errorf("%w: network %s: an IPv6-only network needs Docker 28 or later (or 26 and earlier); this engine speaks API %s",
				ErrInvalid, n.Name, u.e.cli.ClientVersion())
		}
	}

	const attempts = 8
	for attempt := 1; ; attempt++ {
		used, err := u.e.usedSubnets(ctx)
		if err != nil {
			return err
		}
		v4, v6 := fixed4, fixed6
		a4, a6, err := u.pools.pick(want4 && !v4.IsValid(), want6 && !v6.IsValid(), used)
		if err != nil {
			return fmt.Errorf("network %s: %w", n.Name, err)
		}
		if !v4.IsValid() && want4 {
			v4 = a4
		}
		if !v6.IsValid() && want6 {
			v6 = a6
		}
		ipam := &network.IPAM{Driver: "default"}
		for _, s := range []netip.Prefix{v4, v6} {
			if s.IsValid() {
				ipam.Config = append(ipam.Config, network.IPAMConfig{Subnet: s})
			}
		}
		labels := baseLabels(u.name, u.sc.File, u.upID, index, networkSpec(n))
		labels[LabelNetwork] = n.Name
		labels[LabelStack] = string(st)
		res, err := u.e.cli.NetworkCreate(ctx, dockerName(u.name, n.Name), client.NetworkCreateOptions{
			Driver:     "bridge",
			EnableIPv4: enable4,
			EnableIPv6: &want6,
			IPAM:       ipam,
			Internal:   n.Internal,
			Options:    opts,
			Labels:     labels,
		})
		if isOverlap(err) {
			if fixed4.IsValid() && fixed6.IsValid() || attempt == attempts {
				return fmt.Errorf("create network %s: subnets %s: %w%s", n.Name, describe(v4, v6), err, u.e.overlapping(ctx, v4, v6))
			}
			continue // another lab took it meanwhile: pick again
		}
		if err != nil {
			if cerrdefs.IsConflict(err) {
				return fmt.Errorf("%w: network %s exists and is not part of lab %s", ErrNameTaken, dockerName(u.name, n.Name), u.name)
			}
			return engineErr("create network "+n.Name, err)
		}
		u.netIDs[n.Name] = res.ID
		u.emit(KindNetwork, n.Name, Created, describe(v4, v6), nil)
		return nil
	}
}

func describe(v4, v6 netip.Prefix) string {
	var s []string
	for _, p := range []netip.Prefix{v4, v6} {
		if p.IsValid() {
			s = append(s, p.String())
		}
	}
	return strings.Join(s, " ")
}

// usedSubnets lists every subnet of every Docker network.
func (e *engine) usedSubnets(ctx context.Context) ([]netip.Prefix, error) {
	res, err := e.cli.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return nil, engineErr("list networks", err)
	}
	var used []netip.Prefix
	for _, n := range res.Items {
		for _, c := range n.IPAM.Config {
			used = append(used, c.Subnet)
		}
	}
	return used, nil
}

// overlapping names the networks whose subnets overlap v4 or v6.
func (e *engine) overlapping(ctx context.Context, v4, v6 netip.Prefix) string {
	res, err := e.cli.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return ""
	}
	var who []string
	for _, n := range res.Items {
		for _, c := range n.IPAM.Config {
			if v4.IsValid() && c.Subnet.Overlaps(v4) || v6.IsValid() && c.Subnet.Overlaps(v6) {
				who = append(who, fmt.Sprintf("%s (%s)", n.Name, c.Subnet))
			}
		}
	}
	if len(who) == 0 {
		return ""
	}
	return ": in use by Docker network " + strings.Join(who, ", ")
}

// subnets describes an existing network's subnets.
func subnets(n network.Summary) string {
	var s []string
	for _, c := range n.IPAM.Config {
		s = append(s, c.Subnet.String())
	}
	return strings.Join(s, " ")
}

// resume handles a node that exists as the scenario says: a running one is
// left alone, a stopped one is started.
func (u *upper) resume(ctx context.Context, n *scenario.Node, c container.Summary) (bool, error) {
	if c.State == container.StateRunning {
		u.emit(KindNode, n.Name, Unchanged, u.ref(n.Image), nil)
		return false, nil
	}
	if _, err := u.e.cli.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
		return true, engineErr("start "+n.Name, err)
	}
	u.emit(KindNode, n.Name, Started, u.ref(n.Image), nil)
	if err := u.e.waitHealthy(ctx, c.ID, n.Name, u.images[u.ref(n.Image)].health, u.o.healthTimeout); err != nil {
		return true, err
	}
	u.emit(KindNode, n.Name, Healthy, u.ref(n.Image), nil)
	return true, nil
}

// createNode creates a node's container with testcontainers on its first
// network, connects it to the others while it is not yet running (so that
// the server inside starts with every address), starts it and waits until it
// passes its healthcheck.
func (u *upper) createNode(ctx context.Context, index int, n *scenario.Node) error {
	ref := u.ref(n.Image)
	img := u.images[ref]
	first := n.Networks[0]
	firstNet := dockerName(u.name, first.Network)

	labels := baseLabels(u.name, u.sc.File, u.upID, index, nodeSpec(n))
	labels[LabelNode] = n.Name
	for _, a := range n.Networks {
		labels[LabelAttach+a.Network] = attachLabel(a, n.Name)
	}
	firstEP := endpoint(attachment{IPv4: first.IPv4, IPv6: first.IPv6})
	memory := int64(n.Memory)
	health := &healthStrategy{e: u.e, node: n.Name, argv: img.health, timeout: u.o.healthTimeout}
	var hostConfig *container.HostConfig // set by HostConfigModifier

	req := testcontainers.ContainerRequest{
		Image:          ref,
		Name:           dockerName(u.name, n.Name),
		Env:            n.Env,
		Cmd:            n.Args,
		Labels:         labels,
		Networks:       []string{firstNet},
		NetworkAliases: map[string][]string{firstNet: aliases(first, n.Name)},
		ConfigModifier: func(c *container.Config) {
			c.Hostname = n.Name
			stop := int(StopTimeout / time.Second)
			c.StopTimeout = &stop
		},
		HostConfigModifier: func(h *container.HostConfig) {
			h.ReadonlyRootfs = true
			h.CapDrop = []string{"ALL"}
			h.SecurityOpt = []string{"no-new-privileges"}
			h.Memory = memory
			if n.Pids > 0 {
				pids := n.Pids
				h.PidsLimit = &pids
			}
			hostConfig = h
		},
		EndpointSettingsModifier: func(m map[string]*network.EndpointSettings) {
			if es, ok := m[firstNet]; ok && firstEP.IPAMConfig != nil {
				es.IPAMConfig = firstEP.IPAMConfig
			}
		},
		LifecycleHooks: []testcontainers.ContainerLifecycleHooks{{
			// testcontainers publishes every port the image exposes on a
			// random host port, on every address of the host. A lab's
			// traffic stays between its containers (as with compose.yaml),
			// and each published port costs a docker-proxy process at
			// start: user pre-create hooks run after testcontainers' own,
			// which filled in the bindings, so this one takes them out.
			PreCreates: []testcontainers.ContainerRequestHook{func(context.Context, testcontainers.ContainerRequest) error {
				if hostConfig != nil {
					hostConfig.PortBindings = nil
				}
				return nil
			}},
			PostStarts: []testcontainers.ContainerHook{func(context.Context, testcontainers.Container) error {
				u.emit(KindNode, n.Name, Started, ref, nil)
				return nil
			}},
		}},
		WaitingFor: health,
	}
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: req,
		Started:          false,
		Logger:           tcLogger(u.o.logs),
	})
	if err != nil {
		if cerrdefs.IsConflict(err) {
			return fmt.Errorf("%w: container %s exists and is not part of lab %s", ErrNameTaken, req.Name, u.name)
		}
		return engineErr("create node "+n.Name, err)
	}
	for _, a := range n.Networks[1:] {
		es := endpoint(attachment{IPv4: a.IPv4, IPv6: a.IPv6, Aliases: aliases(a, n.Name)})
		if _, err := u.e.cli.NetworkConnect(ctx, u.netIDs[a.Network], client.NetworkConnectOptions{
			Container: ctr.GetContainerID(), EndpointConfig: es,
		}); err != nil {
			return engineErr(fmt.Sprintf("connect node %s to network %s", n.Name, a.Network), err)
		}
	}
	u.emit(KindNode, n.Name, Created, ref, nil)
	if err := ctr.Start(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if health.err != nil {
			return health.err // without testcontainers' hook wrapping
		}
		return fmt.Errorf("start node %s: %w", n.Name, err)
	}
	u.emit(KindNode, n.Name, Healthy, ref, nil)
	return nil
}

// healthStrategy is the testcontainers readiness check of a node: its
// image's own healthcheck, run by waitHealthy.
type healthStrategy struct {
	e       *engine
	node    string
	argv    []string // the image's healthcheck
	timeout time.Duration
	err     error // why the node did not become healthy
}

var _ wait.Strategy = (*healthStrategy)(nil)

func (h *healthStrategy) WaitUntilReady(ctx context.Context, t wait.StrategyTarget) error {
	c, ok := t.(interface{ GetContainerID() string })
	if !ok {
		return fmt.Errorf("wait for %s: no container ID", h.node)
	}
	h.err = h.e.waitHealthy(ctx, c.GetContainerID(), h.node, h.argv, h.timeout)
	return h.err
}

// rollback removes what this run of Up created, found by the run's label.
// A create that ctx cancelled may still complete in the daemon a moment
// later, so it sweeps until two rounds in a row find nothing.
func (u *upper) rollback(ctx context.Context) error {
	ctx, cancel := quietly(ctx)
	defer cancel()
	var errs []error
	for round, quiet := 0, 0; quiet < 2 && round < 20; round++ {
		ctrs, nets, err := u.e.resources(ctx, LabelUp+"="+u.upID)
		if err != nil {
			return err
		}
		if len(ctrs) == 0 && len(nets) == 0 {
			quiet++
			time.Sleep(150 * time.Millisecond)
			continue
		}
		quiet = 0
		errs = u.e.remove(ctx, ctrs, nets, func(k Kind, name string) {
			u.emit(k, name, Removed, "", nil)
		})
	}
	return joinErrs(errs)
}

// resources lists the containers (running or not) and networks carrying label.
func (e *engine) resources(ctx context.Context, label string) ([]container.Summary, []network.Summary, error) {
	f := make(client.Filters).Add("label", label)
	cs, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, nil, engineErr("list containers", err)
	}
	ns, err := e.cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, nil, engineErr("list networks", err)
	}
	byIndex := func(l map[string]string) int { i, _ := strconv.Atoi(l[LabelIndex]); return i }
	slices.SortFunc(cs.Items, func(a, b container.Summary) int { return byIndex(a.Labels) - byIndex(b.Labels) })
	slices.SortFunc(ns.Items, func(a, b network.Summary) int { return byIndex(a.Labels) - byIndex(b.Labels) })
	return cs.Items, ns.Items, nil
}
