package capture

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"socketlab/internal/packet"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Synthetic packets, serialised by gopacket, for the unit tests.

var (
	macA = net.HardwareAddr{2, 0, 0, 0, 0, 0xa}
	macB = net.HardwareAddr{2, 0, 0, 0, 0, 0xb}
	t0   = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
)

func ser(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func ipLayers(src, dst netip.Addr, proto layers.IPProtocol) (gopacket.SerializableLayer, gopacket.NetworkLayer, layers.EthernetType) {
	if src.Is4() {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		return ip, ip, layers.EthernetTypeIPv4
	}
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	return ip, ip, layers.EthernetTypeIPv6
}

// seg is a TCP segment from src to dst.
type seg struct {
	src, dst string
	flags    packet.TCPFlags
	seq, ack uint32
	payload  string
}

func tcpFrame(t testing.TB, s seg) []byte {
	t.Helper()
	return tcpFrameWin(t, s, 64240, -1)
}

// tcpFrameWin is tcpFrame with the raw window win and, when wscale >= 0, a
// window scale option of that shift.
func tcpFrameWin(t testing.TB, s seg, win uint16, wscale int) []byte {
	t.Helper()
	src, dst := netip.MustParseAddrPort(s.src), netip.MustParseAddrPort(s.dst)
	ipl, nl, et := ipLayers(src.Addr(), dst.Addr(), layers.IPProtocolTCP)
	tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()), Seq: s.seq, Ack: s.ack, Window: win,
		FIN: s.flags&packet.FIN != 0, SYN: s.flags&packet.SYN != 0, RST: s.flags&packet.RST != 0, PSH: s.flags&packet.PSH != 0, ACK: s.flags&packet.ACK != 0}
	if wscale >= 0 {
		tcp.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{byte(wscale)}},
			{OptionType: layers.TCPOptionKindNop, OptionLength: 1}}
	}
	if err := tcp.SetNetworkLayerForChecksum(nl); err != nil {
		t.Fatal(err)
	}
	return ser(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: et}, ipl, tcp, gopacket.Payload(s.payload))
}

func udpFrame(t testing.TB, src, dst, payload string) []byte {
	t.Helper()
	s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
	ipl, nl, et := ipLayers(s.Addr(), d.Addr(), layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: layers.UDPPort(s.Port()), DstPort: layers.UDPPort(d.Port())}
	if err := udp.SetNetworkLayerForChecksum(nl); err != nil {
		t.Fatal(err)
	}
	return ser(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: et}, ipl, udp, gopacket.Payload(payload))
}

// portUnreachable is the ICMP (or ICMPv6) error from host to the sender of quoted.
func portUnreachable(t testing.TB, from string, quoted []byte) []byte {
	t.Helper()
	inner := quoted[14:] // the IP packet the error quotes
	var src, dst netip.Addr
	if inner[0]>>4 == 4 {
		src, _ = netip.AddrFromSlice(inner[16:20])
		dst, _ = netip.AddrFromSlice(inner[12:16])
	} else {
		src, _ = netip.AddrFromSlice(inner[24:40])
		dst, _ = netip.AddrFromSlice(inner[8:24])
	}
	_ = from
	eth := &layers.Ethernet{SrcMAC: macB, DstMAC: macA}
	if src.Is4() {
		eth.EthernetType = layers.EthernetTypeIPv4
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 3)}
		return ser(t, eth, ip, icmp, gopacket.Payload(inner))
	}
	eth.EthernetType = layers.EthernetTypeIPv6
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(1, 4)}
	if err := icmp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return ser(t, eth, ip, icmp, gopacket.Payload(append(make([]byte, 4), inner...)))
}

func neighbourSolicitation(t testing.TB, src, target string) []byte {
	t.Helper()
	s, tg := netip.MustParseAddr(src), netip.MustParseAddr(target)
	dst := netip.MustParseAddr("ff02::1:ff00:0003")
	ip := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: s.AsSlice(), DstIP: dst.AsSlice()}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(135, 0)}
	if err := icmp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	ns := &layers.ICMPv6NeighborSolicitation{TargetAddress: tg.AsSlice()}
	return ser(t, &layers.Ethernet{SrcMAC: macA, DstMAC: net.HardwareAddr{0x33, 0x33, 0xff, 0, 0, 3}, EthernetType: layers.EthernetTypeIPv6}, ip, icmp, ns)
}

func arpRequest(t testing.TB, sender, target string) []byte {
	t.Helper()
	return ser(t, &layers.Ethernet{SrcMAC: macA, DstMAC: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
			SourceHwAddress: macA, SourceProtAddress: netip.MustParseAddr(sender).AsSlice(),
			DstHwAddress: make([]byte, 6), DstProtAddress: netip.MustParseAddr(target).AsSlice()})
}

// pkt wraps a frame as a packet seen by node client on network front.
func pkt(i int, dir Direction, data []byte) Packet {
	return Packet{Time: t0.Add(time.Duration(i) * time.Millisecond), Where: Where{"client", "front"}, Dir: dir, Data: data, Length: len(data)}
}

// welcomeExchange is a welcome connection as the client sees it: handshake,
// greeting, FIN from the server, FIN from the client.
func welcomeExchange(t testing.TB, c, s string) []Packet {
	const isnC, isnS = 1000, 5000
	greet := "Welcome to socketlab! You are " + c + " over IPv4.\n"
	segs := []struct {
		dir Direction
		seg
	}{
		{DirOut, seg{c, s, packet.SYN, isnC, 0, ""}},
		{DirIn, seg{s, c, packet.SYN | packet.ACK, isnS, isnC + 1, ""}},
		{DirOut, seg{c, s, packet.ACK, isnC + 1, isnS + 1, ""}},
		{DirIn, seg{s, c, packet.PSH | packet.ACK, isnS + 1, isnC + 1, greet}},
		{DirIn, seg{s, c, packet.FIN | packet.ACK, isnS + 1 + uint32(len(greet)), isnC + 1, ""}},
		{DirOut, seg{c, s, packet.FIN | packet.ACK, isnC + 1, isnS + 2 + uint32(len(greet)), ""}},
		{DirIn, seg{s, c, packet.ACK, isnS + 2 + uint32(len(greet)), isnC + 2, ""}},
	}
	var out []Packet
	for i, sg := range segs {
		out = append(out, pkt(i, sg.dir, tcpFrame(t, sg.seg)))
	}
	return out
}
