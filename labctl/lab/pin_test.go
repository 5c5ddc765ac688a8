package lab

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"socketlab/labctl/scenario"
)

const pinScenario = `name: pin
networks:
  front: {ipv4: 10.200.1.0/24, ipv6: "fd5c:1ab:0:1::/64"}
  back: {}
nodes:
  web:
    image: web
    networks: [back]
  fixed:
    image: echo
    networks: [{name: front, ipv4: 10.200.1.254, ipv6: "fd5c:1ab:0:1::253"}]
  welcome:
    image: welcome
    networks: [front]
    host: two
  client:
    image: client
    networks: [front, {name: back, aliases: [c]}]
`

func pinPlan(t *testing.T, hosts []string) *plan {
	t.Helper()
	sc, err := scenario.Parse("pin.yaml", []byte(pinScenario))
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPlan(sc, "pin", "up1", defaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.place(sc, hosts); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPin(t *testing.T) {
	p := pinPlan(t, []string{"one", "two"})
	subnets := map[string][]netip.Prefix{
		"front": {netip.MustParsePrefix("10.200.1.0/24"), netip.MustParsePrefix("fd5c:1ab:0:1::/64")},
		"back":  {netip.MustParsePrefix("10.200.2.0/24"), netip.MustParsePrefix("fd5c:1ab:0:2::/64")},
	}
	if err := p.pin(subnets); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	seen := map[netip.Addr]string{}
	for _, n := range p.nodes {
		for i, ep := range n.spec.Networks {
			net := n.node.Networks[i].Network
			got[n.node.Name+"@"+net] = ep.IPv4.String() + " " + ep.IPv6.String()
			for _, a := range []netip.Addr{ep.IPv4, ep.IPv6} {
				if other, dup := seen[a]; dup {
					t.Errorf("%s is given to %s and to %s@%s", a, other, n.node.Name, net)
				}
				seen[a] = n.node.Name + "@" + net
			}
		}
	}
	want := map[string]string{
		"web@back":      "10.200.2.254 fd5c:1ab:0:2::254",
		"fixed@front":   "10.200.1.254 fd5c:1ab:0:1::253", // as the scenario says
		"welcome@front": "10.200.1.252 fd5c:1ab:0:1::252", // 253 is fixed's IPv6: skipped in both
		"client@front":  "10.200.1.251 fd5c:1ab:0:1::251",
		"client@back":   "10.200.2.253 fd5c:1ab:0:2::253",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %s, want %s", k, got[k], w)
		}
	}
	client := p.nodes[3].spec
	for _, h := range []string{"web:10.200.2.254", "web:fd5c:1ab:0:2::254", "welcome:fd5c:1ab:0:1::252", "fixed:10.200.1.254"} {
		if !slices.Contains(client.ExtraHosts, h) {
			t.Errorf("client's ExtraHosts %q lack %s", client.ExtraHosts, h)
		}
	}
	web := p.nodes[0].spec
	if slices.ContainsFunc(web.ExtraHosts, func(h string) bool { return strings.HasPrefix(h, "welcome:") }) {
		t.Errorf("web shares no network with welcome, yet its ExtraHosts are %q", web.ExtraHosts)
	}
	if !slices.Contains(web.ExtraHosts, "c:10.200.2.253") {
		t.Errorf("web's ExtraHosts %q lack client's alias c on back", web.ExtraHosts)
	}
	if got, want := web.Labels[LabelPeers+"back"], "fd5c:1ab:0:2::253=02:42:0a:c8:02:fd"; got != want {
		t.Errorf("web's peers on back = %q, want %q", got, want)
	}
	if got := client.Labels[LabelAttach+"back"]; !strings.Contains(got, `"ipv6":"fd5c:1ab:0:2::253"`) {
		t.Errorf("client's attachment label on back = %s, want the pinned addresses", got)
	}
	hosts := []string{p.nodes[0].spec.Host, p.nodes[1].spec.Host, p.nodes[2].spec.Host, p.nodes[3].spec.Host}
	if strings.Join(hosts, ",") != "one,two,two,two" {
		t.Errorf("placed on %v, want one,two (in turn), two (host: two), two (in turn)", hosts)
	}
}

func TestPinExhausted(t *testing.T) {
	p := pinPlan(t, []string{"one", "two"})
	err := p.pin(map[string][]netip.Prefix{
		"front": {netip.MustParsePrefix("10.200.1.0/30"), netip.MustParsePrefix("fd5c:1ab:0:1::/64")},
		"back":  {netip.MustParsePrefix("10.200.2.0/24")},
	})
	if err == nil || !strings.Contains(err.Error(), "network front: no address left") {
		t.Errorf("pin in a /30 for three nodes: %v", err)
	}
}

func TestPlaceUnknownHost(t *testing.T) {
	sc, err := scenario.Parse("pin.yaml", []byte(pinScenario))
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPlan(sc, "pin", "up1", defaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	err = p.place(sc, nil)
	if err == nil || !strings.Contains(err.Error(), `pin.yaml:15:11: nodes.welcome.host: node welcome is placed on host "two", but the lab runs on one Docker engine (give the hosts with labctl up --hosts FILE, or leave host out)`) {
		t.Errorf("place on one engine: %v", err)
	}
}
