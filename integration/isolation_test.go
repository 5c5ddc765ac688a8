package integration

import (
	"strings"
	"testing"

	"socketlab/internal/labtest"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// isolated is a lab of two networks: a client and echo on front, echo on
// back.
func isolated() *scenario.Scenario {
	return &scenario.Scenario{
		Name:     "iso",
		Networks: []*scenario.Network{{Name: "front"}, {Name: "back"}},
		Nodes: []*scenario.Node{
			{Name: "near", Image: "echo", Networks: attach("front")},
			{Name: "far", Image: "echo", Networks: attach("back")},
			{Name: "client", Image: scenario.ClientImage, Networks: attach("front")},
		},
	}
}

// TestIsolation: a lab's networks are closed to each other, and labs to
// each other, over IPv6 as over IPv4, in both directions; within a network
// both families work.
func TestIsolation(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "echo", scenario.ClientImage)
	a := labtest.Up(t, isolated())
	b := labtest.Up(t, isolated(), lab.WithHelpersOnly()) // the helper path, as against a remote engine
	sa, sb := status(t, a), status(t, b)

	// echo runs a client in lab l's client node against addr over fam and
	// tells whether the bytes came back.
	echo := func(l *lab.Lab, fam, addr string) (bool, string) {
		p, _ := run(t, l, "client", "sock", "echo", fam, "--timeout", "2s", "--json", addr, "isolated?")
		return p.OK, p.Error
	}
	for _, fam := range []struct{ flag, name string }{{"-4", "IPv4"}, {"-6", "IPv6"}} {
		if ok, why := echo(a, fam.flag, "near"); !ok {
			t.Errorf("%s within a network: failed (%s), want it to work", fam.name, why)
		}
		cases := []struct {
			what string
			from *lab.Lab
			to   string
		}{
			{"to another network of the lab", a, address(t, node(t, sa, "far"), "back", fam.name)},
			{"to another lab", a, address(t, node(t, sb, "near"), "front", fam.name)},
			{"from another lab", b, address(t, node(t, sa, "near"), "front", fam.name)},
		}
		for _, c := range cases {
			target := c.to
			if strings.Contains(target, ":") {
				target = "[" + target + "]"
			}
			if ok, _ := echo(c.from, fam.flag, target); ok {
				t.Errorf("%s %s (%s) answered: the lab is open", fam.name, c.what, c.to)
			}
		}
	}
}
