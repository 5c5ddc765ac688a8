package wireshark_test

import (
	"socketlab/internal/labtest/need"

	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"socketlab/labctl/capture"
	"socketlab/services/lookup/frame"
)

// segment is a TCP segment of a lookup connection 10.1.0.2:5000 → 10.1.0.3:65432.
func segment(t *testing.T, seq uint32, payload []byte) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP{10, 1, 0, 2}, DstIP: net.IP{10, 1, 0, 3}}
	tcp := &layers.TCP{SrcPort: 5000, DstPort: 65432, Seq: seq, Ack: 1, ACK: true, PSH: true, Window: 512}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
		ip, tcp, gopacket.Payload(payload))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLookupDissector(t *testing.T) {
	need.Command(t, "tshark", "tshark")
	tshark, _ := exec.LookPath("tshark")
	msg := func(ctype, content string) []byte {
		b, err := frame.Append(nil, frame.Message{Header: frame.Header{ByteOrder: "little", ContentType: ctype, ContentEncoding: "utf-8"}, Content: []byte(content)})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first := msg("text/json", `{"action": "search", "value": "morpheus"}`)
	second := msg("binary/custom-client-binary-type", "raw request bytes")
	// The first message in one segment; the second split in two, so that only
	// reassembly decodes it.
	segs := [][]byte{first, second[:10], second[10:]}
	var out bytes.Buffer
	w, err := capture.NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	seq := uint32(1)
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for i, s := range segs {
		data := segment(t, seq, s)
		seq += uint32(len(s))
		if err := w.WritePacket(capture.Packet{Time: t0.Add(time.Duration(i) * time.Millisecond), Where: capture.Where{Node: "client", Network: "front"}, Data: data, Length: len(data)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "lookup.pcapng")
	if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tshark, "-n", "-X", "lua_script:lookup.lua", "-r", file, "-Y", "lookup",
		"-T", "fields", "-E", "separator=|", "-e", "frame.interface_name", "-e", "lookup.content_type", "-e", "lookup.content_length", "-e", "lookup.content")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	want := []string{
		`client:front|text/json|41|{"action": "search", "value": "morpheus"}`,
		"client:front|binary/custom-client-binary-type|17|raw request bytes",
	}
	if len(got) != len(want) {
		t.Fatalf("tshark decoded %d lookup messages, want %d:\n%s\nstderr: %s", len(got), len(want), b, stderr.String())
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}
