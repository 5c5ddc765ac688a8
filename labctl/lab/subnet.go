package lab

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
)

// The ranges subnets come from when a scenario gives none. Subnet n of a lab
// is 10.200.n.0/24 and fd5c:1ab:0:n::/64, with n written alike in both (the
// IPv6 group is n's decimal digits read as hex), so that 10.200.18.2 and
// fd5c:1ab:0:18::2 are visibly the same host on the same network.
const (
	DefaultPool4 = "10.200.0.0/16"
	DefaultPool6 = "fd5c:1ab::/48" // a ULA prefix (fd00::/8)
)

// pools cuts an IPv4 and an IPv6 prefix into numbered /24s and /64s.
type pools struct {
	v4, v6 netip.Prefix
	n      int  // how many numbered pairs there are
	digits bool // IPv6 subnet ids are decimal digits read as hex
}

func parsePools(p4, p6 string) (pools, error) {
	v4, err := netip.ParsePrefix(p4)
	if err != nil || !v4.Addr().Is4() || v4.Bits() > 24 {
		return pools{}, fmt.Errorf("%w: IPv4 pool %q: want an IPv4 prefix of length 24 or less", ErrInvalid, p4)
	}
	v6, err := netip.ParsePrefix(p6)
	if err != nil || !v6.Addr().Is6() || v6.Addr().Is4In6() || v6.Bits() > 64 {
		return pools{}, fmt.Errorf("%w: IPv6 pool %q: want an IPv6 prefix of length 64 or less", ErrInvalid, p6)
	}
	n4 := 1 << min(24-v4.Bits(), 16)
	n6 := 1 << min(64-v6.Bits(), 16)
	p := pools{v4: v4.Masked(), v6: v6.Masked(), n: min(n4, n6)}
	// Decimal-looking ids need room up to 0x9999 for n up to 9999.
	if last, _ := strconv.ParseUint(strconv.Itoa(min(p.n, 10000)-1), 16, 32); int(last) < n6 {
		p.digits, p.n = true, min(p.n, 10000)
	}
	return p, nil
}

// pair returns subnet i of each family.
func (p pools) pair(i int) (netip.Prefix, netip.Prefix) {
	a4 := p.v4.Addr().As4()
	v := uint32(a4[0])<<24 | uint32(a4[1])<<16 | uint32(a4[2])<<8 | uint32(a4[3])
	v += uint32(i) << 8
	s4 := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0}), 24)

	id := uint64(i)
	if p.digits {
		id, _ = strconv.ParseUint(strconv.Itoa(i), 16, 64)
	}
	a6 := p.v6.Addr().As16()
	// The subnet id sits in bits 48..63 (bytes 6 and 7) and, for pools
	// shorter than /48, spills into the bytes before.
	hi := uint64(a6[0])<<56 | uint64(a6[1])<<48 | uint64(a6[2])<<40 | uint64(a6[3])<<32 |
		uint64(a6[4])<<24 | uint64(a6[5])<<16 | uint64(a6[6])<<8 | uint64(a6[7])
	hi += id
	var b [16]byte
	for k := range 8 {
		b[k] = byte(hi >> (56 - 8*k))
	}
	return s4, netip.PrefixFrom(netip.AddrFrom16(b), 64)
}

// pick chooses a free subnet for each family asked for, starting at a random
// place so that labs allocating at the same moment rarely choose alike (the
// caller retries when Docker reports an overlap anyway). used holds every
// subnet in use: Docker's networks and those chosen earlier in this lab.
func (p pools) pick(want4, want6 bool, used []netip.Prefix) (v4, v6 netip.Prefix, err error) {
	start := rand.IntN(p.n)
	for k := range p.n {
		s4, s6 := p.pair((start + k) % p.n)
		if want4 && overlapsAny(s4, used) || want6 && overlapsAny(s6, used) {
			continue
		}
		if want4 {
			v4 = s4
		}
		if want6 {
			v6 = s6
		}
		return v4, v6, nil
	}
	return v4, v6, fmt.Errorf("%w in %s and %s: remove unused Docker networks or use WithPools", ErrSubnetsExhausted, p.v4, p.v6)
}

func overlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if u.IsValid() && p.Overlaps(u) {
			return true
		}
	}
	return false
}
