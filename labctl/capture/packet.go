package capture

import "socketlab/internal/packet"

// The decoded packet and the filter language live in internal/packet, below
// both labctl and the helpers; these names keep capture's callers reading
// capture.Decoded and capture.ParseFilter.
type (
	// Decoded is packet.Decoded.
	Decoded = packet.Decoded
	// Filter is packet.Filter.
	Filter = packet.Filter
	// FilterError is packet.FilterError.
	FilterError = packet.FilterError
	// TCPFlags is packet.TCPFlags.
	TCPFlags = packet.TCPFlags
	// Proto is packet.Proto.
	Proto = packet.Proto
	// Family is packet.Family.
	Family = packet.Family
)

// Protocols and TCP flags, as packet defines them.
const (
	ProtoOther  = packet.ProtoOther
	ProtoARP    = packet.ProtoARP
	ProtoICMPv4 = packet.ProtoICMPv4
	ProtoICMPv6 = packet.ProtoICMPv6
	ProtoTCP    = packet.ProtoTCP
	ProtoUDP    = packet.ProtoUDP

	FIN = packet.FIN
	SYN = packet.SYN
	RST = packet.RST
	PSH = packet.PSH
	ACK = packet.ACK
	URG = packet.URG
)

// FilterSyntax is packet.FilterSyntax, for help texts.
const FilterSyntax = packet.FilterSyntax

// Decode is packet.Decode.
func Decode(frame []byte) Decoded { return packet.Decode(frame) }

// ParseFilter is packet.ParseFilter.
func ParseFilter(expr string) (*Filter, error) { return packet.ParseFilter(expr) }
