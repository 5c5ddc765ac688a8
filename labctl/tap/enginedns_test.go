package tap

import (
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"socketlab/labctl/capture"
	"socketlab/labctl/lab"
)

func udp4(t *testing.T, src, dst string) capture.Packet {
	t.Helper()
	s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: s.Addr().AsSlice(), DstIP: d.Addr().AsSlice()}
	u := &layers.UDP{SrcPort: layers.UDPPort(s.Port()), DstPort: layers.UDPPort(d.Port())}
	u.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: mac, DstMAC: mac, EthernetType: layers.EthernetTypeIPv4}, ip, u, gopacket.Payload("x")); err != nil {
		t.Fatal(err)
	}
	return capture.Packet{Data: buf.Bytes()}
}

// TestWithoutEngineDNS: a step's packets lose the lookups the engine's DNS
// server (at the gateway, no node) answered, and keep everything else: the
// step's own datagrams, and DNS with a node (a lab's own DNS server).
func TestWithoutEngineDNS(t *testing.T) {
	st := lab.Status{Nodes: []lab.NodeStatus{
		{Name: "client", Addresses: []lab.Address{{IPv4: "10.200.1.2"}}},
		{Name: "welcome", Addresses: []lab.Address{{IPv4: "10.200.1.3"}}},
	}}
	pkts := []capture.Packet{
		udp4(t, "10.200.1.2:40000", "10.200.1.1:53"), // query to the gateway: the engine's
		udp4(t, "10.200.1.1:53", "10.200.1.2:40000"), // its answer
		udp4(t, "10.200.1.2:40001", "10.200.1.3:9999"),
		udp4(t, "10.200.1.2:40002", "10.200.1.3:53"), // a node's own DNS server
	}
	got := withoutEngineDNS(pkts, Names(&st))
	if len(got) != 2 || &got[0].Data[0] != &pkts[2].Data[0] || &got[1].Data[0] != &pkts[3].Data[0] {
		t.Errorf("kept %d packets, want the datagram to welcome:9999 and the query to welcome:53", len(got))
	}
}
