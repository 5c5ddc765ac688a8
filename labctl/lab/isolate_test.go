package lab

import (
	"net/netip"
	"reflect"
	"testing"

	"socketlab/helpers/isolate"
	"socketlab/labctl/backend"
)

// TestFilterOf: a node is sealed to all the lab's subnets but their
// gateways, unless one of its own networks has egress; its IPv6 input
// filter names its own networks' IPv6 subnets, unless the engine keeps
// IPv6 apart itself; name service at the gateways only where the engine
// answers there.
func TestFilterOf(t *testing.T) {
	p, a := netip.MustParsePrefix, netip.MustParseAddr
	front := backend.Network{ID: "f", Subnets: []netip.Prefix{p("10.200.1.0/24"), p("fd5c:1ab:0:1::/64")}, Gateways: []netip.Addr{a("10.200.1.1"), a("fd5c:1ab:0:1::1")}}
	back := backend.Network{ID: "b", Subnets: []netip.Prefix{p("10.200.2.0/24"), p("fd5c:1ab:0:2::/64")}, Gateways: []netip.Addr{a("10.200.2.1"), a("fd5c:1ab:0:2::1")}}
	out := back
	only6 := front
	only6.Labels = map[string]string{LabelStack: "ipv6"}
	out.Labels = map[string]string{LabelEgress: "true"}
	lab := []netip.Prefix{p("10.200.1.0/24"), p("fd5c:1ab:0:1::/64"), p("10.200.2.0/24"), p("fd5c:1ab:0:2::/64")}
	gws := []netip.Addr{a("10.200.1.1"), a("fd5c:1ab:0:1::1"), a("10.200.2.1"), a("fd5c:1ab:0:2::1")}
	on := func(ids ...string) []backend.EndpointInfo {
		var eps []backend.EndpointInfo
		for _, id := range ids {
			eps = append(eps, backend.EndpointInfo{NetworkID: id})
		}
		return eps
	}
	tests := []struct {
		name string
		info backend.Info
		nets []backend.Network
		eps  []backend.EndpointInfo
		want isolate.Filter
	}{
		{"sealed, Docker 20.10", backend.Info{}, []backend.Network{front, back}, on("f"),
			isolate.Filter{Input: []netip.Prefix{p("fd5c:1ab:0:1::/64")}, Gateways: gws, Seal: &isolate.Seal{Lab: lab}}},
		{"sealed, an engine that isolates IPv6", backend.Info{IsolatesIPv6: true}, []backend.Network{front, back}, on("f"),
			isolate.Filter{NoInput: true, Gateways: gws, Seal: &isolate.Seal{Lab: lab}}},
		{"sealed, names at the gateways", backend.Info{IsolatesIPv6: true, DNSAtGateway: true}, []backend.Network{front, back}, on("f"),
			isolate.Filter{NoInput: true, Gateways: gws, Seal: &isolate.Seal{Lab: lab, DNS: gws}}},
		{"sealed, the engine's DNS forwards from the node", backend.Info{Resolvers: []netip.Addr{a("10.255.255.53")}}, []backend.Network{front, back}, on("f"),
			isolate.Filter{Input: []netip.Prefix{p("fd5c:1ab:0:1::/64")}, Gateways: gws, Seal: &isolate.Seal{Lab: lab, DNS: []netip.Addr{a("10.255.255.53")}}}},
		{"sealed, rootless Podman", backend.Info{Rootless: true, DNSAtGateway: true}, []backend.Network{front, back}, on("f"),
			isolate.Filter{Input: []netip.Prefix{p("10.200.1.0/24"), p("fd5c:1ab:0:1::/64")}, Input4: true, Gateways: gws, Seal: &isolate.Seal{Lab: lab, DNS: gws}}},
		{"rootless Podman, an IPv6-only network", backend.Info{Rootless: true, DNSAtGateway: true}, []backend.Network{only6, back}, on("f"),
			isolate.Filter{Input: []netip.Prefix{p("10.200.1.1/32"), p("fd5c:1ab:0:1::/64")}, Input4: true, Gateways: gws, Seal: &isolate.Seal{Lab: lab, DNS: gws}}},
		{"on an egress network", backend.Info{}, []backend.Network{front, out}, on("f", "b"),
			isolate.Filter{Input: []netip.Prefix{p("fd5c:1ab:0:1::/64"), p("fd5c:1ab:0:2::/64")}, Gateways: []netip.Addr{a("10.200.1.1"), a("fd5c:1ab:0:1::1"), a("10.200.2.1"), a("fd5c:1ab:0:2::1")}}},
		{"an egress network it is not on", backend.Info{}, []backend.Network{front, out}, on("f"),
			isolate.Filter{Input: []netip.Prefix{p("fd5c:1ab:0:1::/64")}, Gateways: gws, Seal: &isolate.Seal{Lab: lab}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := filterOf(tt.info, tt.nets, tt.eps); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("filter = %+v (seal %+v)\nwant     %+v (seal %+v)", got, got.Seal, tt.want, tt.want.Seal)
			}
		})
	}
}
