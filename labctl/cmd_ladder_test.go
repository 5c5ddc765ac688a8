package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"socketlab/labctl/capture"
)

// refusedCapture is a pcapng as labctl capture writes it of a refused
// connection: the client's SYN and the RST that answers it, each seen
// leaving one node and arriving at the other.
func refusedCapture(t *testing.T) string {
	t.Helper()
	c, s := netip.MustParseAddrPort("10.0.1.2:40000"), netip.MustParseAddrPort("10.0.1.3:9998")
	frame := func(src, dst netip.AddrPort, tcp *layers.TCP) []byte {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		tcp.SrcPort, tcp.DstPort, tcp.Window = layers.TCPPort(src.Port()), layers.TCPPort(dst.Port()), 64240
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	var out bytes.Buffer
	w, err := capture.NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	syn := frame(c, s, &layers.TCP{SYN: true, Seq: 1000})
	rst := frame(s, c, &layers.TCP{RST: true, ACK: true, Ack: 1001})
	for _, p := range []capture.Packet{
		{Time: t0, Where: capture.Where{Node: "client", Network: "lab"}, Dir: capture.DirOut, Data: syn},
		{Time: t0.Add(50 * time.Microsecond), Where: capture.Where{Node: "welcome", Network: "lab"}, Dir: capture.DirIn, Data: syn},
		{Time: t0.Add(time.Millisecond), Where: capture.Where{Node: "welcome", Network: "lab"}, Dir: capture.DirOut, Data: rst},
		{Time: t0.Add(1050 * time.Microsecond), Where: capture.Where{Node: "client", Network: "lab"}, Dir: capture.DirIn, Data: rst},
	} {
		p.Length = len(p.Data)
		if err := w.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return write(t, "refused.pcapng", out.String())
}

// labctl ladder of a file needs no engine: lanes named by the nodes of the
// capture's interfaces, the states, each format; bad input exits 2.
func TestLadderFile(t *testing.T) {
	file := refusedCapture(t)
	code, stdout, stderr := labctl(t, "ladder", file)
	for _, want := range []string{"#1 TCP client 10.0.1.2:40000 → welcome 10.0.1.3:9998, IPv4", "closed: RST by welcome",
		"SYN_SENT     |-- SYN seq=0 --", "CLOSED       |<--", "RST,ACK seq=1 ack=1 --|"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("ladder: exit %d, stdout lacks %q:\n%s%s", code, want, stdout, stderr)
		}
	}
	code, stdout, _ = labctl(t, "ladder", "-o", "json", file)
	var l struct {
		Conversations []struct {
			Arrows []struct{ Flags string } `json:"arrows"`
		} `json:"conversations"`
	}
	if err := json.Unmarshal([]byte(stdout), &l); code != 0 || err != nil || len(l.Conversations) != 1 || len(l.Conversations[0].Arrows) != 2 {
		t.Errorf("ladder -o json: exit %d, %v: %.300s", code, err, stdout)
	}
	for _, f := range []struct{ format, starts string }{{"svg", "<svg"}, {"html", "<!DOCTYPE html>"}} {
		if code, stdout, _ := labctl(t, "ladder", "-o", f.format, file); code != 0 || !strings.HasPrefix(stdout, f.starts) || !strings.Contains(stdout, "SYN_SENT") {
			t.Errorf("ladder -o %s: exit %d: %.200s", f.format, code, stdout)
		}
	}
	if code, stdout, _ := labctl(t, "ladder", "--filter", "udp", file); code != 0 || !strings.Contains(stdout, "no TCP or UDP conversation in 4 frames") {
		t.Errorf("ladder --filter udp: exit %d: %s", code, stdout)
	}

	notPcap := write(t, "notes.txt", "hello\n")
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown format", []string{"ladder", "-o", "png", file}, `-o "png": want one of text, svg, html, json`},
		{"bad filter", []string{"ladder", "--filter", "port x", file}, `port needs a number from 0 to 65535, got "x"`},
		{"not a capture", []string{"ladder", notPcap}, "not a pcap or pcapng capture (it starts with 68 65 6c 6c"},
		{"no such conversation", []string{"ladder", "--conversation", "2", file}, "the capture has 1 conversations"},
		{"no file", []string{"ladder"}, "accepts 1 arg(s)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := labctl(t, tt.args...)
			if code != 2 || stdout != "" || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, want 2; stderr lacks %q:\n%s%s", code, tt.want, stderr, stdout)
			}
		})
	}
}
