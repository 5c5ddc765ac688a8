package graph

import (
	"fmt"
	"strings"

	"socketlab/internal/images"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// FromStatus is the graph of a running lab as st shows it: its networks
// with the subnets they were given, its nodes with their image, state and
// health, and one link per interface with the interface's name and the
// addresses it has now.
//
// sc, when not nil, is the scenario the lab was brought up from; it tells
// the ports each node serves (a PORT variable or --port argument moves
// them). Without it the ports are the image's defaults.
//
// On an ipv6 network the graph shows no IPv4: Docker 20.10 gives every
// network an IPv4 subnet, but labctl blocks IPv4 between its nodes there,
// so a learner would be shown addresses that lead nowhere (labctl status
// lists them, with a note). A node joined to a network from outside the lab
// links to a network of that name with nothing more known about it.
func FromStatus(st *lab.Status, sc *scenario.Scenario) *Graph {
	g := &Graph{Name: st.Lab, Networks: []Network{}, Nodes: []Node{}, Links: []Link{}}
	v6only := map[string]bool{}
	for _, n := range st.Networks {
		net := Network{Name: n.Name, Stack: n.Stack, IPv4: n.IPv4, IPv6: n.IPv6, Internal: n.Internal}
		if n.Stack == string(scenario.IPv6Only) {
			net.IPv4 = ""
			v6only[n.Name] = true
		}
		g.Networks = append(g.Networks, net)
	}
	planned := map[string]*scenario.Node{}
	if sc != nil {
		for _, n := range sc.Nodes {
			planned[n.Name] = n
		}
	}
	for _, n := range st.Nodes {
		node := Node{Name: n.Name, Image: strings.TrimSuffix(n.Image, ":latest"), State: liveState(n)}
		if p, ok := planned[n.Name]; ok {
			node.Ports = ports(p)
		} else {
			node.Ports = servicePorts(imageName(n.Image), "")
		}
		g.Nodes = append(g.Nodes, node)
		for _, a := range n.Addresses {
			if g.networkIndex(a.Network) < 0 {
				g.Networks = append(g.Networks, Network{Name: a.Network})
			}
			l := Link{Node: n.Name, Network: a.Network, Interface: a.Interface, IPv4: a.IPv4, IPv6: a.IPv6, Aliases: a.Aliases}
			if v6only[a.Network] {
				l.IPv4 = ""
			}
			g.Links = append(g.Links, l)
		}
	}
	return g
}

// liveState is a node's state for a person: running, exited with its
// status, or running but unhealthy. Docker's "starting" is left out: Docker
// first runs a healthcheck one interval after start, while Up has already
// run it and seen it pass, so right after up it would only mislead.
func liveState(n lab.NodeStatus) string {
	switch {
	case n.State == "exited":
		return fmt.Sprintf("exited (%d)", n.ExitCode)
	case n.Health == "unhealthy":
		return n.State + ", unhealthy"
	}
	return n.State
}

// imageName is the short name of a socketlab service image reference
// (socketlab/echo:latest is echo); any other image keeps its reference.
func imageName(ref string) string {
	if name, ok := images.ShortName(ref); ok && images.IsService(name) {
		return name
	}
	return ref
}
