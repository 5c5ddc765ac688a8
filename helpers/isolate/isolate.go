// Package isolate is the isolation helper's logic: nftables rules in a
// node's network namespace that accept IPv6 only from the subnets of the
// networks the node is on (and from link-local addresses and loopback, and
// replies to what the node sent), and drop the rest; and the seal, which lets the node send only to the
// lab (seal.go); and, in the host's namespace, the forward guard
// (guard.go).
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
	"golang.org/x/sys/unix"
)

// Table is the name of the helper's input filter tables (family ip6, and
// ip where IPv4 is filtered too).
const Table = "socketlab_isolate"

// linkLocal is where neighbour discovery and router messages come from.
var linkLocal = netip.MustParsePrefix("fe80::/10")

// Filter is what a node's namespace holds: the input filter and the seal
// (seal.go). The zero Filter drops all IPv6 from outside the node, leaves
// IPv4 to the engine and the node unsealed.
type Filter struct {
	// Input are the subnets the node accepts packets from (and replies,
	// loopback, IPv6 link-local); every other IPv6 packet coming in is
	// dropped, and every other IPv4 packet when Input holds an IPv4 subnet
	// or Input4 is set (for an engine that keeps no IPv4 filter between
	// its networks: rootless Podman); otherwise IPv4 is left to the engine.
	Input []netip.Prefix
	// Input4 filters IPv4 even with no IPv4 subnet in Input: a node only on
	// IPv6-only networks, which the engine gave IPv4 all the same.
	Input4 bool
	// NoInput leaves the node without an input filter, for an engine that
	// keeps its networks apart itself.
	NoInput bool
	// Gateways are the lab's networks' gateway addresses, the host's side
	// of each: a sealed node never sends to them (but name queries, see
	// Seal.DNS), and where IPv4 is filtered by Input4 (rootless Podman,
	// which masquerades what crosses from one of its networks to another
	// as the destination's gateway) only name-service answers come in from
	// them.
	Gateways []netip.Addr
	// Seal, when set, lets the node send only to the lab.
	Seal *Seal
}

// Install replaces the node's filters with f, in one transaction. opts
// choose the namespace (nftables.WithNetNSFd); by default the caller's.
func Install(f Filter, opts ...nftables.ConnOption) error {
	var in4, in6 []netip.Prefix
	for _, p := range f.Input {
		switch {
		case p.Addr().Is4():
			in4 = append(in4, p)
		case p.Addr().Is6() && !p.Addr().Is4In6():
			in6 = append(in6, p)
		default:
			return fmt.Errorf("isolate: %s is not an IP prefix", p)
		}
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return fmt.Errorf("isolate: netlink: %w", err)
	}
	remove(c)
	var gw4, gw6 []netip.Addr // only name-service answers from them
	for _, g := range f.Gateways {
		if !f.Input4 {
			break
		}
		if g.Is4() {
			gw4 = append(gw4, g)
		} else {
			gw6 = append(gw6, g)
		}
	}
	if !f.NoInput {
		addInput(c, nftables.TableFamilyIPv6, append([]netip.Prefix{linkLocal}, in6...), gw6)
		if f.Input4 || len(in4) > 0 {
			addInput(c, nftables.TableFamilyIPv4, in4, gw4)
		}
	}
	if f.Seal != nil {
		addSeal(c, f.Seal, f.Gateways)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("isolate: install rules: %w", err)
	}
	return nil
}

// addInput queues the input filter table of family on c: its chain
// accepts loopback, replies, name-service answers and nothing else from
// gateways, and the sources in allow, and drops the rest.
func addInput(c *nftables.Conn, family nftables.TableFamily, allow []netip.Prefix, gateways []netip.Addr) {
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
	// Replies to what the node sent: a node on an egress network talks to
	// the outside, and a sealed node sends nowhere else than the lab.
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append(ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), &expr.Verdict{Kind: expr.VerdictAccept})})
	for _, g := range gateways {
		gw := netip.PrefixFrom(g, g.BitLen())
		for _, proto := range []byte{unix.IPPROTO_TCP, unix.IPPROTO_UDP} {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: join(saddrIn(gw), l4proto(proto), sport(53), []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}})})
		}
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append(saddrIn(gw), &expr.Verdict{Kind: expr.VerdictDrop})})
	}
	for _, p := range allow {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append(saddrIn(p), &expr.Verdict{Kind: expr.VerdictAccept})})
	}
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}})
}

// Clear removes the node's filters, input and seal, where there are any;
// opts as for Install.
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

// remove queues the deletion of the node's tables (input IPv6 and IPv4,
// seal) where they exist.
func remove(c *nftables.Conn) {
	removeTable(c, nftables.TableFamilyIPv6, Table)
	removeTable(c, nftables.TableFamilyIPv4, Table)
	removeTable(c, nftables.TableFamilyINet, SealTable)
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
