// Package isolate is the isolation helper's logic: nftables rules in a
// node's network namespace that accept IPv6 only from the subnets of the
// networks the node is on (and from link-local addresses and loopback),
// and drop the rest.
//
// Docker 20.10 filters IPv4 between networks but installs no ip6tables
// rules, and the host forwards IPv6: without these rules a node reaches the
// nodes of other networks, and of other labs, over IPv6. The rules are the
// node's own input filter, so they hold on any engine; the node itself has
// no capability to change them.
package isolate

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// Table is the name of the helper's nftables tables (family ip6, and ip
// where IPv4 is filtered too).
const Table = "socketlab_isolate"

// linkLocal is where neighbour discovery and router messages come from.
var linkLocal = netip.MustParsePrefix("fe80::/10")

// Apply replaces the isolation table with one that accepts IPv6 from the
// IPv6 prefixes of allow (and link-local, and loopback) and drops every
// other IPv6 packet coming in. An empty allow drops all IPv6 from outside
// the node. When allow holds IPv4 prefixes too, IPv4 is filtered the same
// way (for an engine that keeps no IPv4 filter between its networks:
// rootless Podman); otherwise IPv4 is left to the engine. opts choose the
// namespace (nftables.WithNetNSFd); by default the caller's.
func Apply(allow []netip.Prefix, opts ...nftables.ConnOption) error {
	return apply(allow, nil, false, opts)
}

// ApplyBoth is Apply filtering IPv4 in any case: with no IPv4 prefix in
// allow, every IPv4 packet from outside the node is dropped (a node only
// on IPv6-only networks, where the engine gave them IPv4 anyway). From
// the gateways, only DNS answers (source port 53) are accepted: rootless
// Podman masquerades what crosses from one of its networks to another as
// the destination network's gateway, inside the allowed subnet.
func ApplyBoth(allow []netip.Prefix, gateways []netip.Addr, opts ...nftables.ConnOption) error {
	return apply(allow, gateways, true, opts)
}

func apply(allow []netip.Prefix, gateways []netip.Addr, both bool, opts []nftables.ConnOption) error {
	var allow4, allow6 []netip.Prefix
	for _, p := range allow {
		switch {
		case p.Addr().Is4():
			allow4 = append(allow4, p)
		case p.Addr().Is6() && !p.Addr().Is4In6():
			allow6 = append(allow6, p)
		default:
			return fmt.Errorf("isolate: %s is not an IP prefix", p)
		}
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return fmt.Errorf("isolate: netlink: %w", err)
	}
	remove(c)
	var gw4, gw6 []netip.Addr
	for _, g := range gateways {
		if g.Is4() {
			gw4 = append(gw4, g)
		} else {
			gw6 = append(gw6, g)
		}
	}
	filter(c, nftables.TableFamilyIPv6, append([]netip.Prefix{linkLocal}, allow6...), gw6)
	if both || len(allow4) > 0 {
		filter(c, nftables.TableFamilyIPv4, allow4, gw4)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("isolate: install rules: %w", err)
	}
	return nil
}

// filter queues the table of family whose input chain accepts loopback,
// DNS answers from gateways and nothing else of theirs, and the sources in
// allow, and drops the rest.
func filter(c *nftables.Conn, family nftables.TableFamily, allow []netip.Prefix, gateways []netip.Addr) {
	t := c.AddTable(&nftables.Table{Family: family, Name: Table})
	accept := nftables.ChainPolicyAccept
	ch := c.AddChain(&nftables.Chain{
		Name: "input", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept,
	})
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname("lo")},
		&expr.Verdict{Kind: expr.VerdictAccept},
	}})
	for _, g := range gateways {
		gw := netip.PrefixFrom(g, g.BitLen())
		for _, proto := range []byte{6, 17} { // TCP, UDP
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append(saddrIn(gw),
				&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 53}},
				&expr.Verdict{Kind: expr.VerdictAccept})})
		}
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append(saddrIn(gw), &expr.Verdict{Kind: expr.VerdictDrop})})
	}
	for _, p := range allow {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append(saddrIn(p), &expr.Verdict{Kind: expr.VerdictAccept})})
	}
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}})
}

// Clear removes the isolation table, if there is one; opts as for Apply.
func Clear(opts ...nftables.ConnOption) error {
	c, err := nftables.New(opts...)
	if err != nil {
		return fmt.Errorf("isolate: netlink: %w", err)
	}
	remove(c)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("isolate: remove rules: %w", err)
	}
	return nil
}

// remove queues the deletion of the tables (IPv6, IPv4) when they exist.
func remove(c *nftables.Conn) {
	for _, family := range []nftables.TableFamily{nftables.TableFamilyIPv6, nftables.TableFamilyIPv4} {
		tables, err := c.ListTablesOfFamily(family)
		if err != nil {
			continue
		}
		for _, t := range tables {
			if t.Name == Table {
				c.DelTable(t)
			}
		}
	}
}

// saddrIn is "ip6 saddr in p" (or "ip saddr in p"): the source address
// (offset 8 of the IPv6 header, 16 bytes; offset 12 of the IPv4 header, 4
// bytes) masked to p's length equals p's address.
func saddrIn(p netip.Prefix) []expr.Any {
	p = p.Masked()
	addr := p.Addr().AsSlice()
	off := uint32(8)
	if p.Addr().Is4() {
		off = 12
	}
	mask := make([]byte, len(addr))
	for i := range p.Bits() {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	n := uint32(len(addr))
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: mask, Xor: make([]byte, n)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr},
	}
}

// ifname is an interface name as nftables compares it: NUL-padded to 16.
func ifname(n string) []byte {
	b := make([]byte, 16)
	copy(b, n)
	return b
}
