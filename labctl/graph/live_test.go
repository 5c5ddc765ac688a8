package graph

import (
	"strings"
	"testing"

	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// A running lab's graph carries what the engine reports: interface names,
// live addresses, state (unhealthy shown, Docker's first "starting" not), ports moved by the scenario, no IPv4
// on an ipv6 network, and a network joined from outside the lab.
func TestFromStatus(t *testing.T) {
	st := &lab.Status{
		Lab: "show-live",
		Networks: []lab.NetworkStatus{
			{Name: "front", Stack: "dual", IPv4: "10.81.0.0/24", IPv6: "fd5c:1ab:1::/64"},
			{Name: "six", Stack: "ipv6", IPv4: "172.30.0.0/16", IPv6: "fd5c:1ab:2::/64", Note: "blocked"},
		},
		Nodes: []lab.NodeStatus{
			{Name: "echo", Image: "socketlab/echo:latest", State: "running", Health: "unhealthy", Addresses: []lab.Address{
				{Network: "front", Interface: "eth1", IPv4: "10.81.0.2", IPv6: "fd5c:1ab:1::2", Aliases: []string{"e"}},
				{Network: "six", Interface: "eth0", IPv4: "172.30.0.2", IPv6: "fd5c:1ab:2::2"},
			}},
			{Name: "web", Image: "socketlab/web:show", State: "exited", ExitCode: 2, Addresses: []lab.Address{}},
			{Name: "client", Image: "socketlab/client:latest", State: "running", Health: "starting", Addresses: []lab.Address{
				{Network: "front", Interface: "eth0", IPv4: "10.81.0.3", IPv6: "fd5c:1ab:1::3"},
				{Network: "bridge", Interface: "eth1", IPv4: "172.17.0.5"},
			}},
		},
	}
	sc := &scenario.Scenario{Nodes: []*scenario.Node{{Name: "echo", Image: "echo", Env: map[string]string{"PORT": "7007"}}}}
	g := FromStatus(st, sc)
	out := acceptedEverywhere(t, g)

	if len(g.Networks) != 3 || g.Networks[2].Name != "bridge" {
		t.Errorf("networks = %+v, want front, six and the outside bridge", g.Networks)
	}
	if g.Networks[1].IPv4 != "" || g.Links[1].IPv4 != "" || g.Links[1].IPv6 != "fd5c:1ab:2::2" {
		t.Errorf("the ipv6 network shows IPv4: %+v %+v", g.Networks[1], g.Links[1])
	}
	want := map[string]string{"echo": "tcp/7007,udp/7007 running, unhealthy", "web": "tcp/80 exited (2)", "client": " running"}
	for _, n := range g.Nodes {
		if got := strings.Join(n.Ports, ",") + " " + n.State; got != want[n.Name] {
			t.Errorf("node %s: ports and state %q, want %q", n.Name, got, want[n.Name])
		}
	}
	if g.Nodes[0].Image != "socketlab/echo" || g.Nodes[1].Image != "socketlab/web:show" {
		t.Errorf("images = %q, %q", g.Nodes[0].Image, g.Nodes[1].Image)
	}
	text := svgText(t, out["svg"])
	for _, s := range []string{"eth1", "10.81.0.2", "fd5c:1ab:1::2", "aka e", "state: running, unhealthy", "state: exited (2)", "172.17.0.5"} {
		if !strings.Contains(text, s) {
			t.Errorf("the SVG lacks %q:\n%s", s, text)
		}
	}
	if !strings.Contains(out["mermaid"], "eth1<br/>10.81.0.2<br/>fd5c:1ab:1::2") {
		t.Errorf("the mermaid link of echo on front lacks its interface and addresses:\n%s", out["mermaid"])
	}
}
