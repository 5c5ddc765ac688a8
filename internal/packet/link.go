package packet

import (
	"encoding/binary"

	"github.com/gopacket/gopacket/layers"
)

// Link is the link-layer header type of a capture's frames, as pcap and
// pcapng number them (LINKTYPE_*).
type Link uint16

// The link types DecodeLink reads: Ethernet (socketlab's own captures and
// tshark on one interface), Linux cooked v1 and v2 (tshark or tcpdump on
// "any"), and bare IP.
const (
	LinkEthernet Link = Link(layers.LinkTypeEthernet)
	LinkRaw      Link = Link(layers.LinkTypeRaw)
	LinkLinuxSLL Link = Link(layers.LinkTypeLinuxSLL)
	LinkIPv4     Link = Link(layers.LinkTypeIPv4)
	LinkIPv6     Link = Link(layers.LinkTypeIPv6)
	LinkSLL2     Link = Link(layers.LinkTypeLinuxSLL2)
)

// Known reports whether DecodeLink reads frames of link type l.
func (l Link) Known() bool {
	switch l {
	case LinkEthernet, LinkRaw, LinkLinuxSLL, LinkIPv4, LinkIPv6, LinkSLL2:
		return true
	}
	return false
}

// LinkInfo is what a Linux cooked header says of a frame (nothing for
// other link types).
type LinkInfo struct {
	// Cooked is true for a Linux cooked (SLL or SLL2) frame.
	Cooked bool
	// PacketType is the cooked header's packet type: 0 to the capturing
	// host, 1 broadcast, 2 multicast, 3 to another host (a bridge port's
	// traffic), 4 sent by the capturing host.
	PacketType uint8
	// IfIndex is the interface the frame was seen on (SLL2 only; 0 otherwise).
	IfIndex uint32
}

// DecodeLink decodes frame as link type l: what Decode does for Ethernet,
// for Linux cooked captures (SLL, SLL2, as tshark or tcpdump write them
// for "any") and bare IP too. A link type it does not read decodes as
// nothing (ProtoOther, Complete false).
func DecodeLink(l Link, frame []byte) (Decoded, LinkInfo) {
	switch l {
	case LinkEthernet:
		return Decode(frame), LinkInfo{}
	case LinkLinuxSLL:
		// packet type, ARPHRD, address length, 8 address bytes, protocol.
		if len(frame) < 16 {
			return Decoded{}, LinkInfo{}
		}
		info := LinkInfo{Cooked: true, PacketType: uint8(binary.BigEndian.Uint16(frame[0:2]))}
		return network(layers.EthernetType(binary.BigEndian.Uint16(frame[14:16])), frame[16:]), info
	case LinkSLL2:
		// protocol, reserved, interface index, ARPHRD, packet type, address length, 8 address bytes.
		if len(frame) < 20 {
			return Decoded{}, LinkInfo{}
		}
		info := LinkInfo{Cooked: true, PacketType: frame[10], IfIndex: binary.BigEndian.Uint32(frame[4:8])}
		return network(layers.EthernetType(binary.BigEndian.Uint16(frame[0:2])), frame[20:]), info
	case LinkRaw, LinkIPv4, LinkIPv6:
		if len(frame) == 0 {
			return Decoded{}, LinkInfo{}
		}
		et := layers.EthernetTypeIPv4
		if frame[0]>>4 == 6 {
			et = layers.EthernetTypeIPv6
		}
		return network(et, frame), LinkInfo{}
	}
	return Decoded{}, LinkInfo{}
}
