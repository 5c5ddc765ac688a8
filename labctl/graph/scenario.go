package graph

import (
	"net/netip"
	"strconv"
	"strings"

	"socketlab/labctl/scenario"
	"socketlab/services/chat"
	"socketlab/services/echo"
	"socketlab/services/lookup"
	"socketlab/services/responder"
	"socketlab/services/web"
	"socketlab/services/welcome"
)

// servicePorts are what each socketlab image serves by default, taken from
// the services themselves.
var servicePorts = map[string][]string{
	"welcome":   {"tcp/" + strconv.Itoa(welcome.Port)},
	"echo":      {"tcp/" + strconv.Itoa(echo.Port), "udp/" + strconv.Itoa(echo.Port)},
	"chat":      {"tcp/" + strconv.Itoa(chat.Port)},
	"responder": {"udp/" + strconv.Itoa(responder.Port)},
	"lookup":    {"tcp/" + strconv.Itoa(lookup.Port)},
	"web":       {"tcp/" + strconv.Itoa(web.Port)},
}

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

// ports are the ports node n serves: its image's, on the port its
// environment or arguments move the server to.
func ports(n *scenario.Node) []string {
	def := servicePorts[n.Image]
	if len(def) == 0 {
		return nil
	}
	port := n.Env["PORT"]
	for i, a := range n.Args {
		switch {
		case (a == "--port" || a == "-p") && i+1 < len(n.Args):
			port = n.Args[i+1]
		case strings.HasPrefix(a, "--port="):
			port = strings.TrimPrefix(a, "--port=")
		}
	}
	if port == "" {
		return def
	}
	out := make([]string, len(def))
	for i, p := range def {
		proto, _, _ := strings.Cut(p, "/")
		out[i] = proto + "/" + port
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
