package lab

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"socketlab/helpers/impair/shape"
	"socketlab/labctl/backend"
	"socketlab/labctl/scenario"
)

// plan is a scenario turned into what the backend creates: the lab's name,
// and for each network and node its spec. It is resolved before anything
// is created (newPlan, then place and resolveReadiness, which read the
// runtime), so a scenario the engine cannot run fails without side
// effects, and Up then executes it without going back to the scenario.
// Only what the runtime decides at create time comes later: the subnets it
// allocates, and on a runtime that pins addresses (pin) the addresses
// taken from them.
type plan struct {
	name string
	file string
	upID string
	nets []*netPlan
	// nodes are in scenario order.
	nodes []*nodePlan
}

// netPlan is one network: what the scenario says and the spec to create.
type netPlan struct {
	index int
	net   *scenario.Network
	spec  backend.NetworkSpec // subnets not fixed by the scenario are allocated at create
}

// nodePlan is one node.
type nodePlan struct {
	index int
	name  string         // the scenario's name of the node
	node  *scenario.Node // what it was planned from; Up reads the fields below
	kind  NodeKind
	image string // the reference it runs (before its files are added)
	spec  backend.NodeSpec
	// nets are the scenario networks it joins, in spec.Networks' order.
	nets []string
	// impairs are the links the scenario impairs, in nets' order.
	impairs []impairPlan
	// files go into its image (AddFiles), host paths resolved.
	files []backend.File
	// ready is how Up knows it is ready (resolveReadiness), within timeout.
	ready   func() (Readiness, func())
	timeout time.Duration
}

// impairPlan is a link of a node that the scenario impairs.
type impairPlan struct {
	network  string
	settings shape.Settings
}

// newPlan plans sc as the lab name; sc has passed validation. The host
// paths of its files and mounts must exist and, unless o.hostPaths, stay
// inside the scenario's folder: resolved here, unless the caller resolved
// them already under that rule (labctl does, to fail with exit status 2
// first), which ResolveHostPaths sees and does not redo.
func newPlan(sc *scenario.Scenario, name, upID string, o options) (*plan, error) {
	if err := scenario.CheckLabName(name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := sc.ResolveHostPaths(o.hostPaths); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	p := &plan{name: name, file: sc.File, upID: upID}
	for i, n := range sc.Networks {
		st := stackOf(n)
		spec := backend.NetworkSpec{
			Name: dockerName(name, n.Name), IPv4: n.IPv4, IPv6: n.IPv6, Internal: n.Internal,
			Labels: baseLabels(name, sc.File, upID, i, networkSpec(n)),
		}
		spec.Labels[LabelNetwork] = n.Name
		spec.Labels[LabelStack] = string(st)
		if n.Egress {
			spec.Labels[LabelEgress] = "true"
		}
		p.nets = append(p.nets, &netPlan{index: i, net: n, spec: spec})
	}
	for i, n := range sc.Nodes {
		np, err := planNode(sc, name, upID, i, n, o)
		if err != nil {
			return nil, err
		}
		p.nodes = append(p.nodes, np)
	}
	return p, nil
}

// planNode plans node n, the i-th of sc.
func planNode(sc *scenario.Scenario, lab, upID string, i int, n *scenario.Node, o options) (*nodePlan, error) {
	k, err := kinds.of(n)
	if err != nil {
		return nil, err
	}
	if v, ok := k.(KindValidator); ok {
		if err := v.Validate(n); err != nil {
			return nil, fmt.Errorf("%w: node %s: %w", ErrInvalid, n.Name, err)
		}
	}
	np := &nodePlan{index: i, name: n.Name, node: n, kind: k, image: k.Image(n, o.tag), timeout: o.healthTimeout}
	np.spec = backend.NodeSpec{
		Name: dockerName(lab, n.Name), Image: np.image, Hostname: n.Name,
		Labels: baseLabels(lab, sc.File, upID, i, nodeSpec(n)),
	}
	np.spec.Labels[LabelRole] = RoleNode
	np.spec.Labels[LabelNode] = n.Name
	np.spec.Labels[LabelKind] = k.Name()
	for _, key := range slices.Sorted(maps.Keys(n.Env)) {
		np.spec.Env = append(np.spec.Env, key+"="+n.Env[key])
	}
	for _, a := range n.Networks {
		att := attachmentOf(a, n.Name)
		np.spec.Labels[LabelAttach+a.Network] = attachLabel(att)
		np.spec.Networks = append(np.spec.Networks, backend.Endpoint{
			Network: dockerName(lab, a.Network), IPv4: att.IPv4, IPv6: att.IPv6, Aliases: att.Aliases,
		})
		np.nets = append(np.nets, a.Network)
		if a.Impair != nil {
			np.impairs = append(np.impairs, impairPlan{network: a.Network, settings: *a.Impair})
		}
	}
	for _, f := range n.Files {
		np.files = append(np.files, backend.File{Source: f.HostPath, Target: f.Target})
	}
	if r := n.Ready; r != nil {
		np.spec.Labels[LabelReadyCheck] = readyLabel(r)
		if r.Timeout > 0 {
			np.timeout = time.Duration(r.Timeout)
		}
	}
	k.Configure(n, &np.spec)
	containerSettings(n, &np.spec)
	return np, nil
}

// resolveReadiness decides each node's readiness check, once the images
// are known: the scenario's, else its kind's (the image's healthcheck).
// tcp and udp checks run sock from probeImage.
func (p *plan) resolveReadiness(imgs map[string]backend.Image, probeImage string) {
	for _, n := range p.nodes {
		if r := n.node.Ready; r != nil {
			probe := probeSpec{image: probeImage, name: n.spec.Name, labels: helperLabels(n.spec.Labels, "ready")}
			n.ready = func() (Readiness, func()) { return scenarioReadiness(r, probe) }
		} else {
			rd := n.kind.Readiness(n.node, imgs[n.image])
			n.ready = func() (Readiness, func()) { return rd, func() {} }
		}
		rd, done := n.ready()
		done()
		n.spec.Labels[LabelReady] = rd.What
	}
}

// images are the image references the plan needs, each once, in order.
func (p *plan) images() []string {
	var refs []string
	for _, n := range p.nodes {
		if !slices.Contains(refs, n.image) {
			refs = append(refs, n.image)
		}
	}
	return refs
}

// needsProbe tells whether a node's readiness check runs the sock probe
// (tcp or udp), which needs the client image.
func (p *plan) needsProbe() bool {
	for _, n := range p.nodes {
		if r := n.node.Ready; r != nil && (r.TCP != 0 || r.UDP != 0) {
			return true
		}
	}
	return false
}

func indexOf(labels map[string]string) int {
	i, _ := strconv.Atoi(labels[LabelIndex])
	return i
}
