package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"socketlab/internal/labtest"
	"socketlab/labctl/graph"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// labctl graph of a running lab draws what Docker has: the same interface
// names and addresses as labctl status, the nodes' states; once the lab is
// down, graph says so and exits 2.
func TestGraphLive(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "echo", scenario.ClientImage)
	file := filepath.Join(t.TempDir(), "graph.yaml")
	os.WriteFile(file, []byte(`name: graph
networks:
  front: {}
  six: {stack: ipv6}
nodes:
  echo:
    image: echo
    networks: [six]
    env: {PORT: "7007"}
  client:
    image: client
    networks: [front, six]
`), 0o644)
	name := labtest.Name(t)
	t.Cleanup(func() { labctl(t, "down", name) })
	if code, _, stderr := labctl(t, "up", "-q", "--name", name, file); code != 0 {
		t.Fatalf("up: exit %d: %s", code, stderr)
	}
	code, out, stderr := labctl(t, "graph", "-o", "json", name)
	if code != 0 {
		t.Fatalf("graph -o json %s: exit %d: %s", name, code, stderr)
	}
	var g graph.Graph
	if err := json.Unmarshal([]byte(out), &g); err != nil {
		t.Fatalf("graph -o json: %v\n%s", err, out)
	}
	code, out, _ = labctl(t, "status", "-o", "json", name)
	var st lab.Status
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("status: exit %d: %s", code, out)
	}
	type key struct{ node, network string }
	want := map[key]lab.Address{}
	for _, n := range st.Nodes {
		for _, a := range n.Addresses {
			want[key{n.Name, a.Network}] = a
		}
	}
	if len(g.Links) != 3 {
		t.Errorf("graph has %d links, want 3: %+v", len(g.Links), g.Links)
	}
	for _, l := range g.Links {
		a, ok := want[key{l.Node, l.Network}]
		switch {
		case !ok:
			t.Errorf("graph links %s to %s, which status does not show", l.Node, l.Network)
		case l.Interface == "" || l.Interface != a.Interface || l.IPv6 != a.IPv6 || l.IPv6 == "":
			t.Errorf("link %s–%s: interface %q ipv6 %q; status says %q %q", l.Node, l.Network, l.Interface, l.IPv6, a.Interface, a.IPv6)
		case l.Network == "six" && l.IPv4 != "":
			t.Errorf("link %s–six shows IPv4 %s on an ipv6 network", l.Node, l.IPv4)
		case l.Network == "front" && l.IPv4 != a.IPv4:
			t.Errorf("link %s–front: ipv4 %q, status says %q", l.Node, l.IPv4, a.IPv4)
		}
	}
	for _, n := range g.Nodes {
		if !strings.HasPrefix(n.State, "running") {
			t.Errorf("node %s: state %q, want running", n.Name, n.State)
		}
		if n.Name == "echo" && strings.Join(n.Ports, ",") != "tcp/7007,udp/7007" {
			t.Errorf("echo's ports = %v, want the scenario's PORT 7007", n.Ports)
		}
	}
	code, svg, _ := labctl(t, "graph", "-o", "svg", name)
	if code != 0 || !strings.Contains(svg, want[key{"client", "front"}].IPv4) {
		t.Errorf("graph -o svg: exit %d, lacks the client's address: %.300s", code, svg)
	}

	if code, _, stderr := labctl(t, "down", name); code != 0 {
		t.Fatalf("down: %s", stderr)
	}
	code, out, stderr = labctl(t, "graph", name)
	if code != 2 || out != "" || !strings.Contains(stderr, "no such lab") || !strings.Contains(stderr, "give a scenario file") {
		t.Errorf("graph of a lab that is down: exit %d, stdout %q, stderr %q; want 2 and why", code, out, stderr)
	}
}
