// Package graph draws a lab: its networks as shared segments (one shape per
// network, with its stack and subnets), its nodes (image, ports, state) and
// one line for every interface that joins a node to a network, with the
// interface's addresses and any impairment in force. The same Graph renders
// as Mermaid and Graphviz dot text, as an SVG picture drawn here (no
// Graphviz, no JavaScript), or as JSON.
//
// A Graph is plain text fields, so it is built from a scenario file (what
// the lab will be) or from a running lab (what it is now, live addresses
// and states filled in); every field is optional except the names.
package graph

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Graph is a lab to draw.
type Graph struct {
	// Name is the lab's name.
	Name string `json:"name"`
	// Networks are the lab's networks, in scenario order.
	Networks []Network `json:"networks"`
	// Nodes are the lab's nodes, in scenario order.
	Nodes []Node `json:"nodes"`
	// Links join a node to a network, one per interface.
	Links []Link `json:"links"`
}

// Network is one shared segment of the lab.
type Network struct {
	Name string `json:"name"`
	// Stack is dual, ipv4 or ipv6.
	Stack string `json:"stack,omitempty"`
	// IPv4 and IPv6 are the subnets, e.g. 10.80.1.0/24 and fd00:80:1::/64;
	// empty when not fixed (from a file) or not carried.
	IPv4 string `json:"ipv4,omitempty"`
	IPv6 string `json:"ipv6,omitempty"`
	// Internal networks have no way out of the lab.
	Internal bool `json:"internal,omitempty"`
}

// Node is one container of the lab.
type Node struct {
	Name string `json:"name"`
	// Image is the node's image, e.g. echo or socketlab/echo:latest.
	Image string `json:"image,omitempty"`
	// Ports are what the node serves, e.g. tcp/7 and udp/7.
	Ports []string `json:"ports,omitempty"`
	// State is the node's state in a running lab (running, exited, ...);
	// empty when drawn from a file.
	State string `json:"state,omitempty"`
}

// Link is one interface of a node on a network.
type Link struct {
	Node    string `json:"node"`
	Network string `json:"network"`
	// Interface is the interface's name inside the node, e.g. eth0.
	Interface string `json:"interface,omitempty"`
	// IPv4 and IPv6 are the node's addresses on the network.
	IPv4 string `json:"ipv4,omitempty"`
	IPv6 string `json:"ipv6,omitempty"`
	// Aliases are the node's further DNS names on this network.
	Aliases []string `json:"aliases,omitempty"`
	// Impairment is what shapes the node's traffic on this network, e.g.
	// "loss 10%, delay 50ms"; empty when none.
	Impairment string `json:"impairment,omitempty"`
}

// Formats are the names Write takes, in the order help lists them.
var Formats = []string{"mermaid", "dot", "svg", "json"}

// Write renders g in format (one of Formats) to w.
func Write(w io.Writer, g *Graph, format string) error {
	switch format {
	case "mermaid":
		return Mermaid(w, g)
	case "dot":
		return Dot(w, g)
	case "svg":
		return SVG(w, g)
	case "json":
		return JSON(w, g)
	}
	return fmt.Errorf("graph: format %q: want one of %v", format, Formats)
}

// JSON writes g as one indented JSON document.
func JSON(w io.Writer, g *Graph) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(g)
}

// linksOf returns the links of the node called name, in g's order.
func (g *Graph) linksOf(name string) []Link {
	var ls []Link
	for _, l := range g.Links {
		if l.Node == name {
			ls = append(ls, l)
		}
	}
	return ls
}

// networkIndex returns the position of the network called name, or -1.
func (g *Graph) networkIndex(name string) int {
	return slices.IndexFunc(g.Networks, func(n Network) bool { return n.Name == name })
}

// networkFacts are the lines that describe a network after its name.
func networkFacts(n Network) []string {
	f := nonEmpty(n.Stack, n.IPv4, n.IPv6)
	if n.Internal {
		f = append(f, "internal")
	}
	return f
}

// nodeFacts are the lines that describe a node after its name.
func nodeFacts(n Node) []string {
	var f []string
	if n.Image != "" {
		f = append(f, "image: "+n.Image)
	}
	if len(n.Ports) > 0 {
		f = append(f, "ports: "+strings.Join(n.Ports, ", "))
	}
	if n.State != "" {
		f = append(f, "state: "+n.State)
	}
	return f
}

// linkFacts are the lines that label a link: interface, addresses,
// aliases, impairment.
func linkFacts(l Link) []string {
	f := nonEmpty(l.Interface, l.IPv4, l.IPv6)
	if len(l.Aliases) > 0 {
		f = append(f, "aka "+strings.Join(l.Aliases, ", "))
	}
	if l.Impairment != "" {
		f = append(f, "impaired: "+l.Impairment)
	}
	return f
}

// nonEmpty are the strings of ss that are not "", in order.
func nonEmpty(ss ...string) []string {
	var f []string
	for _, s := range ss {
		if s != "" {
			f = append(f, s)
		}
	}
	return f
}

// check reports a graph the renderers cannot draw faithfully: a name used
// twice, or a link to a node or network the graph does not have.
func (g *Graph) check() error {
	seen := map[string]bool{}
	for _, n := range g.Networks {
		if seen[n.Name] {
			return fmt.Errorf("graph %s: network %q is listed twice", g.Name, n.Name)
		}
		seen[n.Name] = true
	}
	nodes := map[string]bool{}
	for _, n := range g.Nodes {
		if nodes[n.Name] {
			return fmt.Errorf("graph %s: node %q is listed twice", g.Name, n.Name)
		}
		nodes[n.Name] = true
	}
	for _, l := range g.Links {
		if !nodes[l.Node] {
			return fmt.Errorf("graph %s: a link names node %q, which the graph does not have", g.Name, l.Node)
		}
		if !seen[l.Network] {
			return fmt.Errorf("graph %s: node %s links to network %q, which the graph does not have", g.Name, l.Node, l.Network)
		}
	}
	return nil
}
