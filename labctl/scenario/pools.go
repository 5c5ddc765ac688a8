package scenario

import (
	"fmt"
	"net/netip"
)

// The pools labctl's engine allocates a lab's subnets from when the
// scenario gives none. labctl/lab defines the same (lab.DefaultPool4 and
// lab.DefaultPool6; a test checks that they agree): the scenario package
// cannot import the engine, and validation must keep fixed subnets off them.
const (
	DefaultPool4 = "10.200.0.0/16"
	DefaultPool6 = "fd5c:1ab::/48"
)

// reservedPool is a range that fixed subnets must leave whole: a fixed
// subnet may lie inside it (Docker refuses an overlap with a network that
// exists, at up), but may not take in a whole block of it, which would
// swallow what the engine, Docker or other labs allocate from.
type reservedPool struct {
	region netip.Prefix
	block  int // the size of what is allocated from it, as prefix bits
	what   string
}

// reservedPools are labctl's own pools, then Docker's usual ones: its
// default address pools (172.17.0.0/16 to 172.31.0.0/16, 192.168.0.0/16 in
// /20s), 10.0.0.0/8 (where engines are commonly configured to allocate) and
// the whole unique local IPv6 range.
var reservedPools = []reservedPool{
	{netip.MustParsePrefix(DefaultPool4), 16, "labctl's pool for lab networks"},
	{netip.MustParsePrefix(DefaultPool6), 48, "labctl's pool for lab networks"},
	{netip.MustParsePrefix("172.16.0.0/12"), 16, "the range of Docker's default address pools"},
	{netip.MustParsePrefix("192.168.0.0/16"), 20, "the range of Docker's default address pools"},
	{netip.MustParsePrefix("10.0.0.0/8"), 8, "a range Docker engines are often set to allocate networks from"},
	{netip.MustParsePrefix("fd00::/8"), 8, "the whole unique local range, where other labs and Docker networks live"},
}

// swallows reports the reserved range that subnet p takes in whole, as a
// reason; "" if none.
func swallows(p netip.Prefix) string {
	for _, r := range reservedPools {
		if p.Bits() > r.block || !p.Overlaps(r.region) {
			continue
		}
		taken := r.region
		if p.Bits() > r.region.Bits() {
			taken = netip.PrefixFrom(p.Addr(), r.block).Masked()
		}
		if taken == p {
			return fmt.Sprintf("subnet %s is %s", p, r.what)
		}
		return fmt.Sprintf("subnet %s takes in %s, %s", p, taken, r.what)
	}
	return ""
}
