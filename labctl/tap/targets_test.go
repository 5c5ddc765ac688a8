package tap

import (
	"fmt"
	"strings"
	"testing"

	"socketlab/labctl/lab"
)

func TestResolve(t *testing.T) {
	st := &lab.Status{Lab: "demo",
		Networks: []lab.NetworkStatus{{Name: "front"}, {Name: "back"}},
		Nodes: []lab.NodeStatus{
			{Name: "client", State: "running", Addresses: []lab.Address{{Network: "front", Interface: "eth1"}, {Network: "back", Interface: "eth0"}}},
			{Name: "echo", State: "running", Addresses: []lab.Address{{Network: "front", Interface: "eth0"}}},
			{Name: "web", State: "exited", Addresses: []lab.Address{{Network: "back", Interface: "eth0"}}},
		}}
	for _, tc := range []struct {
		args    []string
		network string
		want    string // targets as node=iface:network..., or the error
	}{
		{[]string{"client"}, "", "client=map[eth0:back eth1:front]"},
		{[]string{"client:front", "client:back"}, "", "client=map[eth0:back eth1:front]"},
		{nil, "front", "client=map[eth1:front] echo=map[eth0:front]"},
		{nil, "back", "client=map[eth0:back]"}, // web is not running: left out
		{[]string{"clinet"}, "", `lab demo has no node "clinet" (did you mean "client"?)`},
		{[]string{"echo:back"}, "", `node "echo" is not on network "back" (it is on: front)`},
		{[]string{"client:bak"}, "", `lab demo has no network "bak" (did you mean "back"?)`},
		{[]string{"web"}, "", `node "web" is exited, not running: start it first (labctl status shows its state)`},
		{nil, "", "say what to capture: NODE, NODE:NETWORK or --network NETWORK (the lab's nodes: client, echo, web)"},
	} {
		ts, err := Resolve(st, tc.args, tc.network)
		var got []string
		for _, t := range ts {
			got = append(got, fmt.Sprintf("%s=%v", t.Node, t.Interfaces))
		}
		g := strings.Join(got, " ")
		if err != nil {
			g = err.Error()
		}
		if g != tc.want {
			t.Errorf("Resolve(%q, %q) = %s\nwant %s", tc.args, tc.network, g, tc.want)
		}
	}
}
