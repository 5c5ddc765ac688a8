package packet

import (
	"fmt"
	"strings"
)

// ICMPName names an ICMP (proto ProtoICMPv4) or ICMPv6 type and code as a
// learner reads it: "port unreachable", "neighbour solicitation".
func ICMPName(proto Proto, typ, code uint8) string {
	if proto == ProtoICMPv6 {
		switch typ {
		case 1:
			names := []string{"no route to destination", "administratively prohibited", "beyond scope of source address", "address unreachable", "port unreachable", "source address failed policy", "reject route"}
			if int(code) < len(names) {
				return names[code]
			}
			return fmt.Sprintf("destination unreachable (code %d)", code)
		case 2:
			return "packet too big"
		case 3:
			return "time exceeded"
		case 4:
			return "parameter problem"
		case 128:
			return "echo request"
		case 129:
			return "echo reply"
		case 133:
			return "router solicitation"
		case 134:
			return "router advertisement"
		case 135:
			return "neighbour solicitation"
		case 136:
			return "neighbour advertisement"
		case 137:
			return "redirect"
		case 143:
			return "multicast listener report v2"
		}
		return fmt.Sprintf("type %d code %d", typ, code)
	}
	switch typ {
	case 0:
		return "echo reply"
	case 3:
		names := []string{"net unreachable", "host unreachable", "protocol unreachable", "port unreachable", "fragmentation needed", "source route failed", "network unknown", "host unknown"}
		if int(code) < len(names) {
			return names[code]
		}
		if code == 13 {
			return "administratively prohibited"
		}
		return fmt.Sprintf("destination unreachable (code %d)", code)
	case 5:
		return "redirect"
	case 8:
		return "echo request"
	case 11:
		return "time exceeded"
	case 12:
		return "parameter problem"
	}
	return fmt.Sprintf("type %d code %d", typ, code)
}

// wireICMP are the ICMP and ICMPv6 messages a scenario's expect.wire.icmp
// may name: the names ICMPName gives (TestWireICMP keeps them so) with
// dashes for spaces.
var wireICMP = []string{
	"port-unreachable", "host-unreachable", "net-unreachable", "protocol-unreachable",
	"address-unreachable", "administratively-prohibited", "no-route-to-destination",
	"fragmentation-needed", "packet-too-big", "time-exceeded",
	"echo-request", "echo-reply", "neighbour-solicitation", "neighbour-advertisement",
	"router-solicitation", "router-advertisement",
}

// WireICMP returns the names expect.wire.icmp may use, in the order help
// and the schema list them. The slice is the caller's to keep.
func WireICMP() []string { return append([]string(nil), wireICMP...) }

// WireName is name as expect.wire.icmp writes it: dashes for spaces.
func WireName(name string) string { return strings.ReplaceAll(name, " ", "-") }
