package scenario_test

import (
	"net/netip"
	"testing"

	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// TestPoolsMatchEngine checks that the pools validation keeps fixed subnets
// off are the ones the engine allocates from.
func TestPoolsMatchEngine(t *testing.T) {
	for _, p := range []struct{ scenario, engine string }{
		{scenario.DefaultPool4, lab.DefaultPool4},
		{scenario.DefaultPool6, lab.DefaultPool6},
	} {
		if netip.MustParsePrefix(p.scenario) != netip.MustParsePrefix(p.engine) {
			t.Errorf("scenario pool %s, engine pool %s", p.scenario, p.engine)
		}
	}
	// And validation refuses a fixed subnet that is the engine's pool.
	_, err := scenario.Parse("pool.yaml", []byte("name: pool\nnetworks: {front: {ipv4: "+lab.DefaultPool4+", ipv6: \""+lab.DefaultPool6+"\"}}\nnodes: {n: {image: echo, networks: [front]}}\n"))
	want := `pool.yaml:2:26: networks.front.ipv4: subnet 10.200.0.0/16 is labctl's pool for lab networks (a fixed subnet is for one network: use one of the size it needs, e.g. 10.80.1.0/24)
pool.yaml:2:47: networks.front.ipv6: subnet fd5c:1ab::/48 is labctl's pool for lab networks (a fixed subnet is for one network: use one of the size it needs, e.g. fd00:80:1::/64)`
	if err == nil || err.Error() != want {
		t.Errorf("Parse:\n%v\nwant\n%s", err, want)
	}
}
