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
)

// Table is the name of the helper's nftables table (family ip6).
const Table = "socketlab_isolate"

// linkLocal is where neighbour discovery and router messages come from.
var linkLocal = netip.MustParsePrefix("fe80::/10")

// Filter is what a node's namespace holds: the IPv6 input filter and the
// seal (seal.go). The zero Filter drops all IPv6 from outside the node and
// leaves it unsealed.
type Filter struct {
	// Input are the IPv6 subnets the node accepts IPv6 from (and
	// link-local, loopback); every other IPv6 packet coming in is dropped.
	Input []netip.Prefix
	// NoInput leaves the node without an input filter, for an engine that
	// keeps its networks' IPv6 apart itself.
	NoInput bool
	// Seal, when set, lets the node send only to the lab.
	Seal *Seal
}

// Install replaces the node's filters with f, in one transaction. opts
// choose the namespace (nftables.WithNetNSFd); by default the caller's.
func Install(f Filter, opts ...nftables.ConnOption) error {
	for _, p := range f.Input {
		if !p.Addr().Is6() || p.Addr().Is4In6() {
			return fmt.Errorf("isolate: %s is not an IPv6 prefix", p)
		}
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return fmt.Errorf("isolate: netlink: %w", err)
	}
	removeTable(c, nftables.TableFamilyIPv6, Table)
	removeTable(c, nftables.TableFamilyINet, SealTable)
	if !f.NoInput {
		addInput(c, f.Input)
	}
	if f.Seal != nil {
		addSeal(c, f.Seal)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("isolate: install rules: %w", err)
	}
	return nil
}

// addInput queues the input filter's table and rules on c.
func addInput(c *nftables.Conn, allow []netip.Prefix) {
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv6, Name: Table})
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
	for _, p := range append([]netip.Prefix{linkLocal}, allow...) {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append(saddrIn(p), &expr.Verdict{Kind: expr.VerdictAccept})})
	}
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}})
}

// Clear removes the node's filters, input and seal, where there are any;
// opts as for Apply.
func Clear(opts ...nftables.ConnOption) error {
	c, err := nftables.New(opts...)
	if err != nil {
		return fmt.Errorf("isolate: netlink: %w", err)
	}
	removeTable(c, nftables.TableFamilyIPv6, Table)
	removeTable(c, nftables.TableFamilyINet, SealTable)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("isolate: remove rules: %w", err)
	}
	return nil
}

// saddrIn is "ip6 saddr in p": the source address (offset 8 of the IPv6
// header, 16 bytes) masked to p's length equals p's address.
func saddrIn(p netip.Prefix) []expr.Any {
	p = p.Masked()
	mask := make([]byte, 16)
	for i := range p.Bits() {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	addr := p.Addr().As16()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 16},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 16, Mask: mask, Xor: make([]byte, 16)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr[:]},
	}
}

// ifname is an interface name as nftables compares it: NUL-padded to 16.
func ifname(n string) []byte {
	b := make([]byte, 16)
	copy(b, n)
	return b
}
