package lab

import (
	"errors"
	"net/netip"
	"testing"
)

func TestPoolsPair(t *testing.T) {
	p, err := parsePools(DefaultPool4, DefaultPool6)
	if err != nil {
		t.Fatal(err)
	}
	if p.n != 256 || !p.digits {
		t.Fatalf("default pools: %d subnets, digits %v; want 256, true", p.n, p.digits)
	}
	tests := []struct {
		i      int
		v4, v6 string
	}{
		{0, "10.200.0.0/24", "fd5c:1ab::/64"},
		{18, "10.200.18.0/24", "fd5c:1ab:0:18::/64"},
		{255, "10.200.255.0/24", "fd5c:1ab:0:255::/64"},
	}
	for _, tt := range tests {
		v4, v6 := p.pair(tt.i)
		if v4.String() != tt.v4 || v6.String() != tt.v6 {
			t.Errorf("pair(%d) = %s %s, want %s %s", tt.i, v4, v6, tt.v4, tt.v6)
		}
	}
}

func TestPoolsOtherSizes(t *testing.T) {
	tests := []struct {
		name, p4, p6 string
		n            int
		i            int
		v4, v6       string
	}{
		{"small IPv6 pool counts in hex", "10.0.0.0/16", "fd00:1:2:300::/56", 256, 18, "10.0.18.0/24", "fd00:1:2:312::/64"},
		{"IPv4 pool of 4", "192.168.8.0/22", "fd00:9::/48", 4, 3, "192.168.11.0/24", "fd00:9:0:3::/64"},
		{"large pools stop at 9999", "10.0.0.0/8", "fd00::/32", 10000, 9999, "10.39.15.0/24", "fd00:0:0:9999::/64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parsePools(tt.p4, tt.p6)
			if err != nil {
				t.Fatal(err)
			}
			if p.n != tt.n {
				t.Errorf("%d subnets, want %d", p.n, tt.n)
			}
			v4, v6 := p.pair(tt.i)
			if v4.String() != tt.v4 || v6.String() != tt.v6 {
				t.Errorf("pair(%d) = %s %s, want %s %s", tt.i, v4, v6, tt.v4, tt.v6)
			}
		})
	}
}

func TestParsePoolsRejects(t *testing.T) {
	for _, tt := range []struct{ p4, p6 string }{
		{"10.0.0.0/25", DefaultPool6},
		{"fd00::/48", DefaultPool6},
		{"10.0.0.0", DefaultPool6},
		{DefaultPool4, "fd00::/65"},
		{DefaultPool4, "10.0.0.0/8"},
		{DefaultPool4, "::ffff:10.0.0.0/104"},
	} {
		if _, err := parsePools(tt.p4, tt.p6); !errors.Is(err, ErrInvalid) {
			t.Errorf("parsePools(%q, %q) = %v, want ErrInvalid", tt.p4, tt.p6, err)
		}
	}
}

func TestPickAvoidsUsedSubnets(t *testing.T) {
	p, err := parsePools("10.9.0.0/22", "fd09::/62") // 4 pairs
	if err != nil {
		t.Fatal(err)
	}
	used := []netip.Prefix{
		netip.MustParsePrefix("10.9.0.0/23"),     // pairs 0 and 1, IPv4
		netip.MustParsePrefix("fd09:0:0:2::/64"), // pair 2, IPv6
		netip.MustParsePrefix("172.17.0.0/16"),   // unrelated
		netip.MustParsePrefix("fd00:dead::/64"),  // unrelated
		{},                                       // a network without subnet
	}
	for range 50 { // the start is random: every start must land on pair 3
		v4, v6, err := p.pick(true, true, used)
		if err != nil {
			t.Fatal(err)
		}
		if v4.String() != "10.9.3.0/24" || v6.String() != "fd09:0:0:3::/64" {
			t.Fatalf("pick = %s %s, want the only free pair 10.9.3.0/24 fd09:0:0:3::/64", v4, v6)
		}
	}
	// Only IPv6 wanted: pairs 0, 1 and 3 have a free /64.
	for range 50 {
		v4, v6, err := p.pick(false, true, used)
		if err != nil {
			t.Fatal(err)
		}
		if v4.IsValid() || v6.String() == "fd09:0:0:2::/64" {
			t.Fatalf("pick(IPv6 only) = %v %v", v4, v6)
		}
	}
	used = append(used, netip.MustParsePrefix("10.9.3.0/24"))
	if _, _, err := p.pick(true, true, used); !errors.Is(err, ErrSubnetsExhausted) {
		t.Fatalf("pick with every pair used: %v, want ErrSubnetsExhausted", err)
	}
}

func TestPickSpreads(t *testing.T) {
	p, _ := parsePools(DefaultPool4, DefaultPool6)
	seen := map[netip.Prefix]bool{}
	for range 20 {
		v4, _, err := p.pick(true, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		seen[v4] = true
	}
	// Concurrent labs start at random places; 20 picks landing on fewer
	// than 5 subnets out of 256 would mean they do not.
	if len(seen) < 5 {
		t.Fatalf("20 picks gave only %d distinct subnets", len(seen))
	}
}
