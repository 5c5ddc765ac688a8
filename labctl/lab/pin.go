package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"socketlab/internal/images"
	"socketlab/labctl/backend"
	"socketlab/labctl/scenario"
)

// Placement and pinned addresses, for a runtime that spans several hosts
// (backend.Info.Hosts, Info.PinAddresses): Docker 20.10's overlay networks
// give duplicate IPv6 addresses across hosts, resolve no AAAA and carry no
// neighbour discovery between hosts. So the engine chooses every node's
// host and addresses itself, writes the lab's names into each node's
// /etc/hosts (ExtraHosts) and, once a node runs, pins its IPv6 addresses
// and neighbours with the pin6 helper.

// LabelPeers + network name holds the IPv6 neighbours a node is given on
// that network: the other nodes' addresses and MACs, "ADDR=MAC,...".
const LabelPeers = "socketlab.peers."

// place checks the scenario's hosts against the runtime's and puts every
// node without one on the hosts in turn, in scenario order.
func (p *plan) place(sc *scenario.Scenario, hosts []string) error {
	if err := sc.CheckHosts(hosts); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if len(hosts) == 0 {
		return nil
	}
	for i, n := range p.nodes {
		n.spec.Host = n.node.Host
		if n.spec.Host == "" {
			n.spec.Host = hosts[i%len(hosts)]
		}
		n.spec.Labels[LabelHost] = n.spec.Host
	}
	return nil
}

// pin gives every node an IPv4 and an IPv6 address on each of its networks
// (those the scenario fixes stay; the others are taken from the top of the
// network's subnets, the IPv6 one written like the IPv4 one: 10.200.18.254
// and fd5c:1ab:0:18::254), and every node the names of the nodes it shares
// a network with, in both families. subnets are each network's, by
// scenario name.
func (p *plan) pin(subnets map[string][]netip.Prefix) error {
	type member struct {
		n *nodePlan
		i int // index in n.spec.Networks
	}
	for _, np := range p.nets {
		name := np.net.Name
		var s4, s6 netip.Prefix
		for _, s := range subnets[name] {
			if s.Addr().Is4() {
				s4 = s
			} else {
				s6 = s
			}
		}
		var members []member
		used := map[netip.Addr]bool{}
		for _, n := range p.nodes {
			for i, a := range n.node.Networks {
				if a.Network == name {
					members = append(members, member{n, i})
					used[a.IPv4], used[a.IPv6] = true, true
				}
			}
		}
		k := 0
		next := func() (netip.Addr, netip.Addr, error) {
			for {
				k++
				a4, a6, ok := hostAddrs(s4, s6, k)
				if !ok {
					return a4, a6, fmt.Errorf("%w: network %s: no address left to give in %s", ErrSubnetsExhausted, name, describe(s4, s6))
				}
				if !used[a4] && !used[a6] {
					return a4, a6, nil
				}
			}
		}
		for _, m := range members {
			ep := &m.n.spec.Networks[m.i]
			if ep.IPv4.IsValid() && (ep.IPv6.IsValid() || !s6.IsValid()) {
				continue
			}
			a4, a6, err := next()
			if err != nil {
				return err
			}
			if !ep.IPv4.IsValid() && s4.IsValid() {
				ep.IPv4 = a4
			}
			if !ep.IPv6.IsValid() && s6.IsValid() {
				ep.IPv6 = a6
			}
		}
		for _, m := range members {
			ep := m.n.spec.Networks[m.i]
			m.n.spec.Labels[LabelAttach+name] = attachLabel(attachment{IPv4: ep.IPv4, IPv6: ep.IPv6, Aliases: ep.Aliases})
			var peers []string
			for _, o := range members {
				if o.n == m.n {
					continue
				}
				oe := o.n.spec.Networks[o.i]
				for _, alias := range oe.Aliases {
					for _, a := range []netip.Addr{oe.IPv4, oe.IPv6} {
						if a.IsValid() {
							m.n.spec.ExtraHosts = append(m.n.spec.ExtraHosts, alias+":"+a.String())
						}
					}
				}
				if oe.IPv6.IsValid() && oe.IPv4.IsValid() {
					peers = append(peers, oe.IPv6.String()+"="+overlayMAC(oe.IPv4).String())
				}
			}
			if len(peers) > 0 {
				m.n.spec.Labels[LabelPeers+name] = strings.Join(peers, ",")
			}
		}
	}
	return nil
}

// hostAddrs is the k-th address from the top of each subnet (the last
// address of an IPv4 subnet, its broadcast, is skipped), the IPv6 one with
// the IPv4 host number's decimal digits read as hex; ok is false when k
// reaches the network or gateway address.
func hostAddrs(s4, s6 netip.Prefix, k int) (a4, a6 netip.Addr, ok bool) {
	host := 0
	if s4.IsValid() {
		size := 1 << (32 - s4.Bits())
		host = size - 1 - k
		if host < 2 {
			return a4, a6, false
		}
		b := s4.Masked().Addr().As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) + uint32(host)
		a4 = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	} else {
		host = 0xffff - k // an IPv6-only network: from ::ffff down
		if host < 2 {
			return a4, a6, false
		}
	}
	if s6.IsValid() {
		id := uint64(host)
		if s4.IsValid() {
			id, _ = strconv.ParseUint(strconv.Itoa(host), 16, 64)
		}
		b := s6.Masked().Addr().As16()
		for i := 15; i >= 8 && id > 0; i-- {
			sum := uint64(b[i]) + id&0xff
			b[i] = byte(sum)
			id = id>>8 + sum>>8
		}
		a6 = netip.AddrFrom16(b)
	}
	return a4, a6, true
}

// overlayMAC is the MAC address Docker's overlay driver gives the endpoint
// with IPv4 address a: 02:42 and a's four bytes.
func overlayMAC(a netip.Addr) net.HardwareAddr {
	b := a.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

// pinIPv6 runs the pin6 helper in the node container id of lab, on a
// runtime that asks for pinned addresses: each overlay interface gets the
// node's IPv6 address from its attachment label, and the neighbours from
// its peers label.
func (e *Engine) pinIPv6(ctx context.Context, lab, id, tag string) error {
	info, err := e.b.Info(ctx)
	if err != nil || !info.PinAddresses {
		return err
	}
	ins, err := e.b.Inspect(ctx, id)
	if err != nil || !ins.Running {
		return err // not running: its readiness wait says why
	}
	_, nets, err := e.b.List(ctx, backend.Selector{LabelLab: lab})
	if err != nil {
		return err
	}
	byID := map[string]backend.Network{}
	for _, n := range nets {
		byID[n.ID] = n
	}
	var args []string
	for _, ep := range ins.Endpoints {
		n, ok := byID[ep.NetworkID]
		if !ok || ep.MAC == "" {
			continue
		}
		name := n.Labels[LabelNetwork]
		var a attachment
		if err := json.Unmarshal([]byte(ins.Labels[LabelAttach+name]), &a); err != nil || !a.IPv6.IsValid() {
			continue
		}
		i := slices.IndexFunc(n.Subnets, func(s netip.Prefix) bool { return s.Addr().Is6() })
		if i < 0 {
			continue
		}
		args = append(args, "--link", ep.MAC+"="+netip.PrefixFrom(a.IPv6, n.Subnets[i].Bits()).String())
		if peers := ins.Labels[LabelPeers+name]; peers != "" {
			for _, p := range strings.Split(peers, ",") {
				args = append(args, "--peer", p)
			}
		}
	}
	if len(args) == 0 {
		return nil
	}
	node := ins.Labels[LabelNode]
	var errb bytes.Buffer
	c := backend.Container{ID: id, Labels: ins.Labels, Running: ins.Running}
	h, err := e.runHelper(ctx, lab, c, backend.HelperSpec{
		Purpose: "pin6", Image: images.Ref(images.Pin6, tag), Cmd: args, Caps: images.Caps(images.Pin6), Stderr: &errb,
	})
	if err != nil {
		return fmt.Errorf("pin %s's IPv6 addresses: %w", node, err)
	}
	if err := finish(ctx, h, &errb); err != nil {
		return fmt.Errorf("pin %s's IPv6 addresses: %w", node, err)
	}
	return nil
}
