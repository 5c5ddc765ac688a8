package lab

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"socketlab/labctl/backend"
	"socketlab/labctl/scenario"
)

// plan is a scenario turned into what the backend creates: the lab's name,
// and for each network and node its spec. It is made before anything is
// created, so a scenario the engine cannot run fails without side effects.
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
	node  *scenario.Node
	kind  NodeKind
	image string // the reference it runs
	spec  backend.NodeSpec
}

// newPlan plans sc as the lab name; sc has passed validation.
func newPlan(sc *scenario.Scenario, name, upID string, o options) (*plan, error) {
	if err := scenario.CheckLabName(name); err != nil {
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
		p.nets = append(p.nets, &netPlan{index: i, net: n, spec: spec})
	}
	for i, n := range sc.Nodes {
		k, err := kinds.of(n)
		if err != nil {
			return nil, err
		}
		if v, ok := k.(KindValidator); ok {
			if err := v.Validate(n); err != nil {
				return nil, fmt.Errorf("%w: node %s: %w", ErrInvalid, n.Name, err)
			}
		}
		np := &nodePlan{index: i, node: n, kind: k, image: k.Image(n, o.tag)}
		np.spec = backend.NodeSpec{
			Name: dockerName(name, n.Name), Image: np.image, Hostname: n.Name,
			Labels: baseLabels(name, sc.File, upID, i, nodeSpec(n)),
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
				Network: dockerName(name, a.Network), IPv4: att.IPv4, IPv6: att.IPv6, Aliases: att.Aliases,
			})
		}
		k.Configure(n, &np.spec)
		containerSettings(n, &np.spec)
		p.nodes = append(p.nodes, np)
	}
	return p, nil
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
