package graph

import (
	"net/netip"
	"strings"

	"socketlab/internal/images"
	"socketlab/labctl/scenario"
)

// FromScenario is the graph of the lab sc describes, before it is up:
// networks with their stack and any fixed subnets, nodes with their image
// and the ports it serves (moved by a PORT variable or a --port argument),
// one link per attachment with any fixed addresses and aliases. Interface
// names are left empty: Docker does not promise them in attachment order,
// so only a running lab can tell them, like its addresses, states and
// impairments, which the caller fills in.
func FromScenario(sc *scenario.Scenario) *Graph {
	g := &Graph{Name: sc.Name, Networks: []Network{}, Nodes: []Node{}, Links: []Link{}}
	for _, n := range sc.Networks {
		g.Networks = append(g.Networks, Network{
			Name: n.Name, Stack: string(n.Stack), IPv4: prefixText(n.IPv4), IPv6: prefixText(n.IPv6), Internal: n.Internal,
		})
	}
	for _, n := range sc.Nodes {
		g.Nodes = append(g.Nodes, Node{Name: n.Name, Image: n.Image, Ports: ports(n)})
		for _, a := range n.Networks {
			g.Links = append(g.Links, Link{
				Node: n.Name, Network: a.Network,
				IPv4: addrText(a.IPv4), IPv6: addrText(a.IPv6), Aliases: a.Aliases,
			})
		}
	}
	return g
}

// ports are the ports node n serves: its image's (as the catalog lists
// them), on the port its environment or arguments move the server to.
func ports(n *scenario.Node) []string {
	port := n.Env["PORT"]
	for i, a := range n.Args {
		switch {
		case (a == "--port" || a == "-p") && i+1 < len(n.Args):
			port = n.Args[i+1]
		case strings.HasPrefix(a, "--port="):
			port = strings.TrimPrefix(a, "--port=")
		}
	}
	return servicePorts(n.Image, port)
}

// servicePorts are the ports the service image serves, moved to port
// unless it is "": nil for an image that is no service.
func servicePorts(image, port string) []string {
	svc, ok := images.LookupService(image)
	if !ok {
		return nil
	}
	out := make([]string, len(svc.Ports))
	for i, p := range svc.Ports {
		out[i] = p.String()
		if port != "" {
			out[i] = p.Proto + "/" + port
		}
	}
	return out
}

// prefixText is a fixed subnet as text, "" when the scenario leaves it to
// the engine.
func prefixText(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

// addrText is a fixed address as text, "" when the engine chooses it.
func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
