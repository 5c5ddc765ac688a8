package ladder

import (
	"strconv"

	"socketlab/internal/packet"
)

// preview quotes the start of a payload of n bytes on the wire, in ASCII
// with Go's escapes, "..." when there is more ("" for none).
func preview(data []byte, n int) string {
	if n == 0 || len(data) == 0 {
		return ""
	}
	s := strconv.QuoteToASCII(string(data[:min(len(data), PreviewBytes)]))
	if n > PreviewBytes {
		s += "..."
	}
	return s
}

// icmpName names an ICMP or ICMPv6 error: "port unreachable".
func icmpName(d packet.Decoded) string {
	return packet.ICMPName(d.Proto, d.ICMP.Type, d.ICMP.Code)
}
