// Package packet decodes one captured frame (Ethernet or Linux cooked) into
// what socketlab judges and draws — addresses, ports, TCP flags and sequence
// numbers, ICMP with the datagram it quotes, ARP — and parses the filter
// language that keeps packets (ParseFilter). The capture and impairment
// helpers and labctl all read packets through it, so a filter means the
// same everywhere.
package packet

import (
	"encoding/binary"
	"net"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Proto is the protocol a decoded packet carries, at the highest layer decoded.
type Proto uint8

// Protocols Decode tells apart.
const (
	ProtoOther Proto = iota
	ProtoARP
	ProtoICMPv4
	ProtoICMPv6
	ProtoTCP
	ProtoUDP
)

// String names p as a person reads it: "TCP", "ICMPv6".
func (p Proto) String() string {
	return [...]string{"other", "ARP", "ICMP", "ICMPv6", "TCP", "UDP"}[p]
}

// Family is the IP version of a packet: 0 (none, e.g. ARP), 4 or 6.
type Family uint8

// String is "IPv4", "IPv6" or "" for no IP.
func (f Family) String() string {
	switch f {
	case 4:
		return "IPv4"
	case 6:
		return "IPv6"
	}
	return ""
}

// TCPFlags are the flags of a TCP segment, in header bit order.
type TCPFlags uint8

// TCP flag bits.
const (
	FIN TCPFlags = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
)

// String lists the set flags as Wireshark does: "SYN,ACK".
func (f TCPFlags) String() string {
	var b []byte
	for i, name := range []string{"FIN", "SYN", "RST", "PSH", "ACK", "URG"} {
		if f&(1<<i) != 0 {
			if len(b) > 0 {
				b = append(b, ',')
			}
			b = append(b, name...)
		}
	}
	return string(b)
}

// TCP is the TCP header of a segment.
type TCP struct {
	Flags    TCPFlags
	Seq, Ack uint32
	// Window is the raw window field; after the handshake the receiver
	// multiplies it by 2^shift, the shift its sender's SYN announced.
	Window uint16
	// WindowScale is the shift of the window scale option (RFC 7323), which
	// only a SYN carries; -1 when the segment has none.
	WindowScale int8
	// TSVal is the sender's timestamp option (RFC 7323), 0 without one: a
	// retransmission carries a new one, so it tells a resent segment from
	// the same segment seen at a second place.
	TSVal uint32
	// dataOffset is the header's length in 32-bit words.
	dataOffset uint8
}

// ICMP is an ICMPv4 or ICMPv6 message; for errors (unreachable, time
// exceeded) Quoted is the datagram it answers, as far as it was quoted.
type ICMP struct {
	Type, Code uint8
	// Target is the address a neighbour solicitation or advertisement is about.
	Target netip.Addr
	// Quoted is the packet an error message quotes (its addresses, ports, protocol).
	Quoted *Decoded
}

// ARP is an ARP request or reply.
type ARP struct {
	Op                 uint16 // 1 request, 2 reply
	SenderIP, TargetIP netip.Addr
	SenderMAC          net.HardwareAddr
}

// Decoded is what Decode learnt of one Ethernet frame. Src and Dst carry the
// ports for TCP and UDP, port 0 otherwise; Payload is the transport payload
// (a slice of the frame, not a copy).
type Decoded struct {
	Family   Family
	Proto    Proto
	Src, Dst netip.AddrPort
	// TTL is the IPv4 time to live or the IPv6 hop limit: 64 as a Linux
	// host sends, one less after each router.
	TTL uint8
	// IPID is the IPv4 identification field (0 for IPv6).
	IPID    uint16
	TCP     TCP
	ICMP    ICMP
	ARP     ARP
	Payload []byte
	// PayloadLen is the transport payload's size on the wire, from the IP
	// header's length: more than len(Payload) when the snaplen cut the frame.
	PayloadLen int
	// Complete is false when the frame ended before its headers did (a short snaplen).
	Complete bool
}

// Decode reads the Ethernet, IP and transport headers of frame. It never
// fails: what it cannot read stays zero (ProtoOther, Complete false).
func Decode(frame []byte) Decoded {
	var eth layers.Ethernet
	if eth.DecodeFromBytes(frame, gopacket.NilDecodeFeedback) != nil {
		return Decoded{}
	}
	return network(eth.EthernetType, eth.Payload)
}

// network decodes what a link header carried: an ARP message or an IP
// packet, told apart by the EtherType.
func network(et layers.EthernetType, payload []byte) Decoded {
	var d Decoded
	switch et {
	case layers.EthernetTypeARP:
		var arp layers.ARP
		if arp.DecodeFromBytes(payload, gopacket.NilDecodeFeedback) == nil && arp.Protocol == layers.EthernetTypeIPv4 {
			d.Proto, d.Complete = ProtoARP, true
			d.ARP.Op = arp.Operation
			d.ARP.SenderIP, _ = netip.AddrFromSlice(arp.SourceProtAddress)
			d.ARP.TargetIP, _ = netip.AddrFromSlice(arp.DstProtAddress)
			d.ARP.SenderMAC = net.HardwareAddr(arp.SourceHwAddress)
			d.Src = netip.AddrPortFrom(d.ARP.SenderIP, 0)
			d.Dst = netip.AddrPortFrom(d.ARP.TargetIP, 0)
		}
		return d
	case layers.EthernetTypeIPv4:
		return decodeIPv4(payload)
	case layers.EthernetTypeIPv6:
		return decodeIPv6(payload)
	}
	return d
}

// decodeTransport reads, without allocating, the common case of a packet
// on a lab's links: an unfragmented IPv4 or IPv6 packet (no extension
// header) carrying TCP or UDP, whose headers are all there. The delay line
// decodes every packet it sees with it. Anything else (ok false) is left
// to gopacket's decoders.
func decodeTransport(b []byte) (d Decoded, ok bool) {
	var (
		src, dst netip.Addr
		proto    byte
		payload  []byte
		ipLen    int // the IP payload's size on the wire
	)
	switch {
	case len(b) >= 20 && b[0]>>4 == 4:
		ihl, total := int(b[0]&0x0f)*4, int(binary.BigEndian.Uint16(b[2:4]))
		if ihl != 20 || total < ihl || binary.BigEndian.Uint16(b[6:8])&0x3fff != 0 {
			return d, false // options (gopacket judges them), or a fragment
		}
		d.Family, proto, d.TTL, d.IPID = 4, b[9], b[8], binary.BigEndian.Uint16(b[4:6])
		src, dst = netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
		payload, ipLen = b[ihl:min(total, len(b))], total-ihl
	case len(b) >= 40 && b[0]>>4 == 6:
		d.Family, proto, d.TTL = 6, b[6], b[7]
		src, dst = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
		ipLen = int(binary.BigEndian.Uint16(b[4:6]))
		payload = b[40:min(40+ipLen, len(b))]
	default:
		return d, false
	}
	hdr := 8
	switch proto {
	case 6:
		if len(payload) < 20 {
			return d, false
		}
		hdr = int(payload[12]>>4) * 4
		if hdr < 20 || len(payload) < hdr {
			return d, false
		}
		ts, scale, ok := tcpOptions(payload[20:hdr])
		if !ok {
			return d, false
		}
		d.Proto = ProtoTCP
		d.TCP = TCP{Flags: TCPFlags(payload[13]) & (FIN | SYN | RST | PSH | ACK | URG),
			Seq: binary.BigEndian.Uint32(payload[4:8]), Ack: binary.BigEndian.Uint32(payload[8:12]),
			Window: binary.BigEndian.Uint16(payload[14:16]), WindowScale: scale, TSVal: ts, dataOffset: uint8(hdr / 4)}
	case 17:
		if len(payload) < 8 {
			return d, false
		}
		// What the UDP header counts, as gopacket reads it (0: all of it).
		switch n := int(binary.BigEndian.Uint16(payload[4:6])); {
		case n > 0 && n < 8:
			return d, false
		case n >= 8 && n < len(payload):
			payload = payload[:n]
		}
		d.Proto = ProtoUDP
	default:
		return d, false
	}
	d.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(payload[0:2]))
	d.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(payload[2:4]))
	d.Payload = payload[hdr:]
	d.PayloadLen = wireLen(d, ipLen)
	d.Complete = true
	return d, true
}

// tcpOptions reads a TCP header's options as gopacket's decoder does: the
// last of each kind wins, and reading stops at an option whose length
// cannot be followed. It returns the timestamp option's TSval (0 without
// one) and the window scale option's shift (at most 14, as RFC 7323 says;
// -1 without one). ok is false for an MPTCP option, whose many forms are
// left to gopacket.
func tcpOptions(opts []byte) (ts uint32, scale int8, ok bool) {
	scale = -1
	for len(opts) > 0 {
		switch kind := opts[0]; {
		case kind == 0: // end of options
			return ts, scale, true
		case kind == 1: // no-op
			opts = opts[1:]
			continue
		case kind == 30:
			return 0, -1, false
		case len(opts) < 2 || opts[1] < 2 || int(opts[1]) > len(opts):
			return ts, scale, true
		case kind == 8 && opts[1] >= 6:
			ts = binary.BigEndian.Uint32(opts[2:6])
		case kind == 3 && opts[1] == 3:
			scale = int8(min(opts[2], 14))
		}
		opts = opts[opts[1]:]
	}
	return ts, scale, true
}

// DecodeIP reads a bare IPv4 or IPv6 packet (no link-layer header), as
// NFQUEUE hands one over, like Decode.
func DecodeIP(pkt []byte) Decoded {
	if d, ok := decodeTransport(pkt); ok {
		return d
	}
	if len(pkt) > 0 {
		switch pkt[0] >> 4 {
		case 4:
			return decodeIPv4(pkt)
		case 6:
			return decodeIPv6(pkt)
		}
	}
	return Decoded{}
}

func decodeIPv4(b []byte) Decoded {
	var (
		d   Decoded
		ip4 layers.IPv4
		tcp layers.TCP
		udp layers.UDP
	)
	if ip4.DecodeFromBytes(b, gopacket.NilDecodeFeedback) != nil {
		return d
	}
	d.Family, d.TTL, d.IPID = 4, ip4.TTL, ip4.Id
	src, _ := netip.AddrFromSlice(ip4.SrcIP.To4())
	dst, _ := netip.AddrFromSlice(ip4.DstIP.To4())
	d = transport(d, src, dst, ip4.Protocol, ip4.Payload, &tcp, &udp)
	d.PayloadLen = wireLen(d, int(ip4.Length)-int(ip4.IHL)*4)
	return d
}

func decodeIPv6(b []byte) Decoded {
	var (
		d   Decoded
		ip6 layers.IPv6
		tcp layers.TCP
		udp layers.UDP
	)
	if ip6.DecodeFromBytes(b, gopacket.NilDecodeFeedback) != nil {
		return d
	}
	d.Family, d.TTL = 6, ip6.HopLimit
	src, _ := netip.AddrFromSlice(ip6.SrcIP)
	dst, _ := netip.AddrFromSlice(ip6.DstIP)
	d = transport(d, src, dst, ip6.NextHeader, ip6.Payload, &tcp, &udp)
	d.PayloadLen = wireLen(d, int(ip6.Length))
	return d
}

// wireLen is the size on the wire of d's transport payload, given the IP
// payload's size from the IP header; len(d.Payload) when that is unknown.
func wireLen(d Decoded, ipPayload int) int {
	hdr := 0
	switch d.Proto {
	case ProtoTCP:
		hdr = int(d.TCP.dataOffset) * 4
	case ProtoUDP:
		hdr = 8
	default:
		return len(d.Payload)
	}
	if n := ipPayload - hdr; hdr > 0 && n >= len(d.Payload) {
		return n
	}
	return len(d.Payload)
}

// decodeIP reads a bare IP packet, as an ICMP error quotes one.
func decodeIP(b []byte) *Decoded {
	var (
		d   Decoded
		tcp layers.TCP
		udp layers.UDP
	)
	if len(b) == 0 {
		return nil
	}
	switch b[0] >> 4 {
	case 4:
		var ip layers.IPv4
		if ip.DecodeFromBytes(b, gopacket.NilDecodeFeedback) != nil {
			return nil
		}
		d.Family = 4
		src, _ := netip.AddrFromSlice(ip.SrcIP.To4())
		dst, _ := netip.AddrFromSlice(ip.DstIP.To4())
		// A quote holds the IP header and at least 8 bytes: the ports.
		d = transport(d, src, dst, ip.Protocol, quoted(b, int(ip.IHL)*4), &tcp, &udp)
	case 6:
		var ip layers.IPv6
		if ip.DecodeFromBytes(b, gopacket.NilDecodeFeedback) != nil {
			return nil
		}
		d.Family = 6
		src, _ := netip.AddrFromSlice(ip.SrcIP)
		dst, _ := netip.AddrFromSlice(ip.DstIP)
		d = transport(d, src, dst, ip.NextHeader, quoted(b, 40), &tcp, &udp)
	default:
		return nil
	}
	return &d
}

func quoted(b []byte, hdr int) []byte {
	if hdr > len(b) {
		return nil
	}
	return b[hdr:]
}

func transport(d Decoded, src, dst netip.Addr, proto layers.IPProtocol, payload []byte, tcp *layers.TCP, udp *layers.UDP) Decoded {
	d.Src, d.Dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
	switch proto {
	case layers.IPProtocolTCP:
		d.Proto = ProtoTCP
		if len(payload) >= 8 {
			// The ports come first: a quoted segment (8 bytes) still names them.
			d.Src = netip.AddrPortFrom(src, uint16(payload[0])<<8|uint16(payload[1]))
			d.Dst = netip.AddrPortFrom(dst, uint16(payload[2])<<8|uint16(payload[3]))
		}
		if tcp.DecodeFromBytes(payload, gopacket.NilDecodeFeedback) != nil {
			return d
		}
		d.TCP = TCP{Seq: tcp.Seq, Ack: tcp.Ack, Window: tcp.Window, WindowScale: -1, dataOffset: tcp.DataOffset}
		for _, o := range tcp.Options {
			switch {
			case o.OptionType == layers.TCPOptionKindWindowScale && len(o.OptionData) == 1:
				d.TCP.WindowScale = int8(min(o.OptionData[0], 14)) // RFC 7323: at most 14
			case o.OptionType == layers.TCPOptionKindTimestamps && len(o.OptionData) >= 4:
				d.TCP.TSVal = uint32(o.OptionData[0])<<24 | uint32(o.OptionData[1])<<16 | uint32(o.OptionData[2])<<8 | uint32(o.OptionData[3])
			}
		}
		for _, f := range []struct {
			set  bool
			flag TCPFlags
		}{{tcp.FIN, FIN}, {tcp.SYN, SYN}, {tcp.RST, RST}, {tcp.PSH, PSH}, {tcp.ACK, ACK}, {tcp.URG, URG}} {
			if f.set {
				d.TCP.Flags |= f.flag
			}
		}
		d.Payload = tcp.Payload
	case layers.IPProtocolUDP:
		d.Proto = ProtoUDP
		if udp.DecodeFromBytes(payload, gopacket.NilDecodeFeedback) != nil {
			return d
		}
		d.Src = netip.AddrPortFrom(src, uint16(udp.SrcPort))
		d.Dst = netip.AddrPortFrom(dst, uint16(udp.DstPort))
		d.Payload = udp.Payload
	case layers.IPProtocolICMPv4:
		d.Proto = ProtoICMPv4
		if len(payload) < 8 {
			return d
		}
		d.ICMP.Type, d.ICMP.Code = payload[0], payload[1]
		if t := d.ICMP.Type; t == 3 || t == 11 || t == 12 {
			d.ICMP.Quoted = decodeIP(payload[8:])
		}
		d.Payload = payload[8:]
	case layers.IPProtocolICMPv6:
		d.Proto = ProtoICMPv6
		if len(payload) < 8 {
			return d
		}
		d.ICMP.Type, d.ICMP.Code = payload[0], payload[1]
		switch t := d.ICMP.Type; {
		case t >= 1 && t <= 4:
			d.ICMP.Quoted = decodeIP(payload[8:])
		case (t == 135 || t == 136) && len(payload) >= 24:
			d.ICMP.Target, _ = netip.AddrFromSlice(payload[8:24])
		}
		d.Payload = payload[8:]
	default:
		d.Complete = true
		return d
	}
	d.Complete = true
	return d
}
