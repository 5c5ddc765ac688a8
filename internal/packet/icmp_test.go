package packet

import "testing"

// TestWireICMP: every name a scenario may expect is one ICMPName gives to
// some ICMP or ICMPv6 message, so expect.wire.icmp can always be met.
func TestWireICMP(t *testing.T) {
	given := map[string]bool{}
	for _, proto := range []Proto{ProtoICMPv4, ProtoICMPv6} {
		for typ := range 256 {
			for code := range 256 {
				given[WireName(ICMPName(proto, uint8(typ), uint8(code)))] = true
			}
		}
	}
	for _, name := range WireICMP() {
		if !given[name] {
			t.Errorf("WireICMP lists %q, which ICMPName never gives", name)
		}
	}
}
