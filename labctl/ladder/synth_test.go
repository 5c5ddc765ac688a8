package ladder

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"socketlab/internal/packet"
)

// Synthetic captures, serialised by gopacket and written as pcapng (or
// pcap) the way labctl's capture and tshark write them.

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// seg is a TCP segment (or, with udp set, a datagram) from src to dst.
type seg struct {
	src, dst string
	flags    packet.TCPFlags
	seq, ack uint32
	payload  string
	udp      bool
	ipid     uint16
	ttl      uint8
}

func ser(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// ipPacket is the IP packet (no link header) of s.
func ipPacket(t testing.TB, s seg) []byte {
	t.Helper()
	src, dst := netip.MustParseAddrPort(s.src), netip.MustParseAddrPort(s.dst)
	ttl := s.ttl
	if ttl == 0 {
		ttl = 64
	}
	proto := layers.IPProtocolTCP
	if s.udp {
		proto = layers.IPProtocolUDP
	}
	var ipl gopacket.SerializableLayer
	var nl gopacket.NetworkLayer
	if src.Addr().Is4() {
		ip := &layers.IPv4{Version: 4, TTL: ttl, Id: s.ipid, Flags: layers.IPv4DontFragment, Protocol: proto, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		ipl, nl = ip, ip
	} else {
		ip := &layers.IPv6{Version: 6, HopLimit: ttl, NextHeader: proto, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		ipl, nl = ip, ip
	}
	if s.udp {
		udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
		if err := udp.SetNetworkLayerForChecksum(nl); err != nil {
			t.Fatal(err)
		}
		return ser(t, ipl, udp, gopacket.Payload(s.payload))
	}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()), Seq: s.seq, Ack: s.ack, Window: 64240,
		FIN: s.flags&packet.FIN != 0, SYN: s.flags&packet.SYN != 0, RST: s.flags&packet.RST != 0, PSH: s.flags&packet.PSH != 0, ACK: s.flags&packet.ACK != 0}
	if err := tcp.SetNetworkLayerForChecksum(nl); err != nil {
		t.Fatal(err)
	}
	return ser(t, ipl, tcp, gopacket.Payload(s.payload))
}

// icmpError is the ICMP (ICMPv6) port unreachable that from sends back for
// the IP packet quoted.
func icmpError(t testing.TB, from string, quoted []byte) []byte {
	t.Helper()
	src := netip.MustParseAddr(from)
	var dst netip.Addr
	if quoted[0]>>4 == 4 {
		dst, _ = netip.AddrFromSlice(quoted[12:16])
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		return ser(t, ip, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 3)}, gopacket.Payload(quoted))
	}
	dst, _ = netip.AddrFromSlice(quoted[8:24])
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(1, 4)}
	if err := icmp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return ser(t, ip, icmp, gopacket.Payload(append(make([]byte, 4), quoted...)))
}

// link wraps an IP packet in the link header of lt.
func link(lt layers.LinkType, ip []byte, pktType uint8, ifindex uint32) []byte {
	et := uint16(layers.EthernetTypeIPv4)
	if ip[0]>>4 == 6 {
		et = uint16(layers.EthernetTypeIPv6)
	}
	var h []byte
	switch lt {
	case layers.LinkTypeEthernet:
		h = make([]byte, 14)
		copy(h[0:6], net.HardwareAddr{2, 0, 0, 0, 0, 0xb})
		copy(h[6:12], net.HardwareAddr{2, 0, 0, 0, 0, 0xa})
		binary.BigEndian.PutUint16(h[12:], et)
	case layers.LinkTypeLinuxSLL:
		h = make([]byte, 16)
		binary.BigEndian.PutUint16(h[0:], uint16(pktType))
		binary.BigEndian.PutUint16(h[2:], 1)
		binary.BigEndian.PutUint16(h[4:], 6)
		binary.BigEndian.PutUint16(h[14:], et)
	case layers.LinkTypeLinuxSLL2:
		h = make([]byte, 20)
		binary.BigEndian.PutUint16(h[0:], et)
		binary.BigEndian.PutUint32(h[4:], ifindex)
		binary.BigEndian.PutUint16(h[8:], 1)
		h[10], h[11] = pktType, 6
	}
	return append(h, ip...)
}

// capFile writes a pcapng capture, one interface per capture point.
type capFile struct {
	t     testing.TB
	buf   bytes.Buffer
	w     *pcapgo.NgWriter
	ids   map[string]int
	link  layers.LinkType
	items []item
}

func newCap(t testing.TB, lt layers.LinkType) *capFile {
	return &capFile{t: t, ids: map[string]int{}, link: lt}
}

func (c *capFile) id(where string) int {
	if id, ok := c.ids[where]; ok {
		return id
	}
	intf := pcapgo.NgInterface{Name: where, LinkType: c.link, TimestampResolution: 9}
	var err error
	id := 0
	if c.w == nil {
		c.w, err = pcapgo.NewNgWriterInterface(&c.buf, intf, pcapgo.NgWriterOptions{})
	} else {
		id, err = c.w.AddInterface(intf)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	c.ids[where] = id
	return id
}

// frame records one frame seen at where, in direction dir, at time at.
func (c *capFile) frame(where string, dir Dir, at time.Time, data []byte) {
	c.items = append(c.items, item{where: where, dir: dir, at: at, data: data})
}

// drops records an interface statistics block: packets dropped so far.
func (c *capFile) drops(where string, at time.Time, dropped uint64) {
	c.items = append(c.items, item{where: where, at: at, dropped: dropped, stats: true})
}

type item struct {
	where   string
	dir     Dir
	at      time.Time
	data    []byte
	stats   bool
	dropped uint64
}

// bytes writes the frames and statistics in time order.
func (c *capFile) bytes() []byte {
	slices.SortStableFunc(c.items, func(a, b item) int { return a.at.Compare(b.at) })
	for _, it := range c.items {
		c.id(it.where)
	}
	for _, it := range c.items {
		id := c.id(it.where)
		if it.stats {
			if err := c.w.WriteInterfaceStats(id, pcapgo.NgInterfaceStatistics{LastUpdate: it.at, PacketsReceived: 100, PacketsDropped: it.dropped}); err != nil {
				c.t.Fatal(err)
			}
			continue
		}
		opts := pcapgo.NgPacketOptions{}
		switch it.dir {
		case DirIn:
			opts.Flags = &pcapgo.NgEpbFlags{Direction: pcapgo.NgEpbFlagDirectionInbound}
		case DirOut:
			opts.Flags = &pcapgo.NgEpbFlags{Direction: pcapgo.NgEpbFlagDirectionOutbound}
		}
		ci := gopacket.CaptureInfo{Timestamp: it.at, CaptureLength: len(it.data), Length: len(it.data), InterfaceIndex: id}
		if err := c.w.WritePacketWithOptions(ci, it.data, opts); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := c.w.Flush(); err != nil {
		c.t.Fatal(err)
	}
	return c.buf.Bytes()
}

// lab is a two-node exchange captured at both ends, as labctl captures
// it: each packet leaves one node (out) and arrives at the other (in) a
// little later, unless lost.
type lab struct {
	c       *capFile
	a, b    string // capture points of the two ends
	aAddr   string
	now     time.Time
	transit time.Duration
	ipid    uint16
	onlyA   bool // only the A end is captured
}

func newLab(t testing.TB, aWhere, bWhere, aAddr string) *lab {
	return &lab{c: newCap(t, layers.LinkTypeEthernet), a: aWhere, b: bWhere, aAddr: aAddr, now: t0, transit: 80 * time.Microsecond}
}

// send puts s on the wire at the current time and moves the clock on a
// millisecond; lost packets leave and never arrive.
func (l *lab) send(s seg, lost ...bool) []byte {
	l.ipid++
	if s.ipid == 0 {
		s.ipid = l.ipid
	}
	ip := ipPacket(l.c.t, s)
	l.at(l.now, s, ip, len(lost) > 0 && lost[0])
	l.now = l.now.Add(time.Millisecond)
	return ip
}

// at writes ip sent at time at, from whichever end has s.src.
func (l *lab) at(at time.Time, s seg, ip []byte, lost bool) {
	from, to := l.a, l.b
	if s.src != l.aAddr {
		from, to = l.b, l.a
	}
	fr := link(layers.LinkTypeEthernet, ip, 0, 0)
	if !(l.onlyA && from == l.b) {
		l.c.frame(from, DirOut, at, fr)
	}
	if !lost && !(l.onlyA && to == l.b) {
		l.c.frame(to, DirIn, at.Add(l.transit), fr)
	}
}
