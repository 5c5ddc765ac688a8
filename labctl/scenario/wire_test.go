package scenario

import (
	"testing"

	"socketlab/internal/packet"
)

// TestWireTyped: expect.wire decodes into typed values, written as a
// learner writes them.
func TestWireTyped(t *testing.T) {
	sc, err := Parse("wire.yaml", []byte(`name: wire
networks: {lab: {}}
nodes:
  welcome: {image: welcome, networks: [lab]}
  responder: {image: responder, networks: [lab]}
  client: {image: client, networks: [lab]}
steps:
  - {node: client, run: welcome, target: welcome, expect: {wire: {handshake: true, close: fin by server, retransmissions: 0, family: IPv6}}}
  - node: client
    run: responder
    target: welcome:9999
    expect: {fail: refused, wire: {icmp: port-unreachable, datagrams: {sent: 1, received: 0}, retransmissions: "<= 2"}}
`))
	if err != nil {
		t.Fatal(err)
	}
	w := sc.Steps[0].Wire()
	if w.Handshake == nil || !*w.Handshake || w.Close != (WireClose{packet.CloseFIN, packet.SideServer}) ||
		*w.Retransmissions != (WireCount{"==", 0}) || w.Family != AddrIPv6 {
		t.Errorf("step 1 wire = %+v", w)
	}
	w = sc.Steps[1].Wire()
	if w.ICMP != "port-unreachable" || *w.Datagrams.Sent != 1 || *w.Datagrams.Received != 0 || *w.Retransmissions != (WireCount{"<=", 2}) {
		t.Errorf("step 2 wire = %+v", w)
	}
	if !sc.HasWire() {
		t.Error("HasWire = false")
	}
	if w.Retransmissions.String() != "<= 2" || sc.Steps[0].Wire().Close.String() != "fin by server" {
		t.Errorf("String: %q, %q", w.Retransmissions, sc.Steps[0].Wire().Close)
	}
}
