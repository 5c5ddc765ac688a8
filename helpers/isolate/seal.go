package isolate

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The seal. A lab's networks are bridges with a gateway address on the
// host and NAT out, so by default a node reaches whatever its host reaches:
// the host's own services (through any gateway address), other Docker
// networks, the LAN and the internet. The seal is an output filter in the
// node's own namespace that lets a node send only to the lab: it holds on
// every engine (on rootless Podman the bridges are out of the user's reach,
// a node's namespace is not) and the node, with no NET_ADMIN, cannot lift it.
//
// What it accepts, in order:
//   - loopback (Docker's embedded DNS is 127.0.0.11);
//   - conntrack established and related: replies to the host reaching a node
//     by its address, to published ports and to other nodes, and the ICMP
//     errors that go with them;
//   - IPv6 neighbour discovery and multicast listener reports;
//   - name service (port 53) to the Seal's DNS addresses: Podman's
//     aardvark-dns answers on the gateway address, and Docker's embedded
//     DNS forwards the names it does not know to its host's resolvers
//     from within the node's namespace (without an answer from them a
//     lookup of a name outside the lab would not fail, but time out);
//   - new traffic to the lab's subnets, except the gateway addresses (the
//     host's side of each network) and the IPv4 subnets' broadcast
//     addresses (the host takes a datagram sent there, and its wildcard
//     services answer it).
//
// The rest is rejected, not dropped, with an administratively prohibited
// ICMP made in the node itself (nothing leaves it): a TCP connect then
// fails at once over IPv4 ("no route to host") and within a second over
// IPv6 ("permission denied": the first error comes while connect holds the
// socket, the second SYN's counts), instead of retrying its SYN for two
// minutes as it would after a drop; so a program aimed outside the lab
// fails fast and says so. A datagram's sendto fails with EPERM either way.

// SealTable is the name of the seal's nftables table (family inet) in a
// node's namespace.
const SealTable = "socketlab_seal"

// Seal is what a sealed node may send to, with the Filter's Gateways (in
// Lab, yet the host's), which it may not. The zero Seal lets the node send
// nothing but replies, loopback and neighbour discovery.
type Seal struct {
	// Lab are the subnets of the lab's networks, both families.
	Lab []netip.Prefix
	// DNS are addresses the node may send name queries to (UDP and TCP
	// port 53) whether in the lab or not: the engine's name server on a
	// gateway, or the resolvers the engine's DNS forwards to from within
	// the node.
	DNS []netip.Addr
}

// addSeal queues the seal's table and rules on c; gateways are the lab's.
func addSeal(c *nftables.Conn, s *Seal, gateways []netip.Addr) {
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: SealTable})
	accept := nftables.ChainPolicyAccept
	ch := c.AddChain(&nftables.Chain{
		Name: "output", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter, Policy: &accept,
	})
	rule := func(verdict expr.Any, parts ...[]expr.Any) {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append(join(parts...), verdict)})
	}
	acc, rej := &expr.Verdict{Kind: expr.VerdictAccept}, &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED}

	rule(acc, name(expr.MetaKeyOIFNAME, expr.CmpOpEq, "lo"))
	rule(acc, ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED))
	for _, typ := range []byte{133, 135, 136, 143} { // router and neighbour solicitation, neighbour advertisement, MLDv2 report
		rule(acc, l4proto(unix.IPPROTO_ICMPV6), []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{typ}},
		})
	}
	for _, a := range s.DNS {
		for _, proto := range []byte{unix.IPPROTO_UDP, unix.IPPROTO_TCP} {
			rule(acc, daddrIn(netip.PrefixFrom(a, a.BitLen())), l4proto(proto), dport(53))
		}
	}
	for _, a := range gateways {
		rule(rej, daddrIn(netip.PrefixFrom(a, a.BitLen())))
	}
	for _, p := range s.Lab {
		if b, ok := broadcast(p); ok {
			rule(rej, daddrIn(netip.PrefixFrom(b, 32)))
		}
	}
	for _, p := range s.Lab {
		rule(acc, daddrIn(p))
	}
	rule(rej)
}

// removeTable queues the deletion of the table name of family when it
// exists.
func removeTable(c *nftables.Conn, family nftables.TableFamily, name string) {
	tables, err := c.ListTablesOfFamily(family)
	if err != nil {
		return
	}
	for _, t := range tables {
		if t.Name == name {
			c.DelTable(t)
		}
	}
}

// ctState is "ct state & bits != 0".
func ctState(bits uint32) []expr.Any {
	mask := binary.NativeEndian.AppendUint32(nil, bits)
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

// l4proto is "meta l4proto p".
func l4proto(p byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

// dport is "th dport p" (TCP and UDP keep the destination port at offset 2).
func dport(p uint16) []expr.Any { return port(2, p) }

// sport is "th sport p" (at offset 0).
func sport(p uint16) []expr.Any { return port(0, p) }

func port(offset uint32, p uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: offset, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, p)},
	}
}

// daddrIn is "ip daddr in p" or "ip6 daddr in p", by p's family: the
// packet's family first (an inet table sees both), then its destination
// address masked to p's length.
func daddrIn(p netip.Prefix) []expr.Any {
	p = p.Masked()
	proto, off := byte(unix.NFPROTO_IPV4), uint32(16)
	if p.Addr().Is6() {
		proto, off = unix.NFPROTO_IPV6, 24
	}
	addr := p.Addr().AsSlice()
	mask := make([]byte, len(addr))
	for i := range p.Bits() {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: uint32(len(addr))},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: uint32(len(addr)), Mask: mask, Xor: make([]byte, len(addr))},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr},
	}
}

// broadcast is the broadcast address of an IPv4 subnet that has one
// (shorter than /31).
func broadcast(p netip.Prefix) (netip.Addr, bool) {
	if !p.Addr().Is4() || p.Bits() >= 31 {
		return netip.Addr{}, false
	}
	a := p.Masked().Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		a[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(a), true
}
