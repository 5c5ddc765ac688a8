// Package pin6 is the IPv6 pinning helper's logic: in a node's network
// namespace, it gives each interface the IPv6 address the engine chose for
// it, in place of the one the runtime assigned, and adds a permanent
// neighbour entry for each other node of the lab on that network.
//
// Docker 20.10's overlay networks (a lab across several hosts) need both:
// each host assigns overlay IPv6 addresses from its own pool, so nodes on
// two hosts get the same one, and neighbour discovery does not cross hosts
// (the overlay answers ARP for IPv4 only). With fixed addresses and static
// neighbours, IPv6 flows between hosts as IPv4 does.
package pin6

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Link is an interface, found by its MAC address, and the address it is to
// have (with the network's prefix length).
type Link struct {
	MAC  net.HardwareAddr
	Addr netip.Prefix
}

// Peer is another node's IPv6 address on one of the links' networks and
// the MAC address it answers at.
type Peer struct {
	Addr netip.Addr
	MAC  net.HardwareAddr
}

// Apply pins each link's address (removing the other global IPv6 addresses
// in its subnet) and sets a permanent neighbour entry for each peer on the
// link whose subnet holds it.
func Apply(links []Link, peers []Peer) error {
	all, err := netlink.LinkList()
	if err != nil {
		return fmt.Errorf("pin6: list interfaces: %w", err)
	}
	found := make([]netlink.Link, len(links))
	for i, l := range links {
		for _, nl := range all {
			if nl.Attrs().HardwareAddr.String() == l.MAC.String() {
				found[i] = nl
			}
		}
		if found[i] == nil {
			return fmt.Errorf("pin6: no interface has MAC address %s", l.MAC)
		}
		if err := pin(found[i], l.Addr); err != nil {
			return fmt.Errorf("pin6: %s: %w", found[i].Attrs().Name, err)
		}
	}
	var errs []error
	for _, p := range peers {
		i := -1
		for k, l := range links {
			if l.Addr.Masked().Contains(p.Addr) {
				i = k
			}
		}
		if i < 0 {
			errs = append(errs, fmt.Errorf("pin6: peer %s is on none of the node's networks", p.Addr))
			continue
		}
		n := &netlink.Neigh{
			LinkIndex: found[i].Attrs().Index, Family: netlink.FAMILY_V6, State: netlink.NUD_PERMANENT,
			IP: net.IP(p.Addr.AsSlice()), HardwareAddr: p.MAC,
		}
		if err := netlink.NeighSet(n); err != nil {
			errs = append(errs, fmt.Errorf("pin6: neighbour %s at %s: %w", p.Addr, p.MAC, err))
		}
	}
	return errors.Join(errs...)
}

// pin makes want the only global IPv6 address of link in want's subnet.
func pin(link netlink.Link, want netip.Prefix) error {
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V6)
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
	have := false
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok || ip.IsLinkLocalUnicast() || !want.Masked().Contains(ip) {
			continue
		}
		if ip == want.Addr() {
			have = true
			continue
		}
		if err := netlink.AddrDel(link, &a); err != nil {
			return fmt.Errorf("remove %s: %w", ip, err)
		}
	}
	if have {
		return nil
	}
	a := &netlink.Addr{
		IPNet: &net.IPNet{IP: net.IP(want.Addr().AsSlice()), Mask: net.CIDRMask(want.Bits(), 128)},
		// The engine chose it unique: no duplicate address detection, so
		// it is usable at once.
		Flags: unix.IFA_F_NODAD,
	}
	if err := netlink.AddrAdd(link, a); err != nil {
		return fmt.Errorf("add %s: %w", want, err)
	}
	return nil
}
