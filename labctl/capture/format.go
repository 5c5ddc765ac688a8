package capture

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"socketlab/internal/images"
	"socketlab/internal/packet"
)

// The ports of the lab's own protocols that the live view decodes, as the
// catalog lists them.
var (
	welcomePort = uint16(images.PortOf("welcome", "tcp"))
	lookupPort  = uint16(images.PortOf("lookup", "tcp"))
)

// PayloadPreview is how many payload bytes a line shows as text.
const PayloadPreview = 48

// Formatter turns packets into the one-line-per-packet view a learner reads.
// It remembers each TCP connection's first sequence numbers, so seq and ack
// count from 0 as in Wireshark, and the window scale each side's SYN
// announced, so win is the window in bytes, as Wireshark shows it; use one
// Formatter for one run.
type Formatter struct {
	// Where pads the node:network column to this width (0: no padding).
	Where int
	conns map[flowKey]uint32 // initial sequence number of each direction
	// scale is the window scale option of each direction's SYN (-1: none).
	scale map[flowKey]int8
}

type flowKey struct{ src, dst netip.AddrPort }

// Line formats p; it has no trailing newline.
func (f *Formatter) Line(p Packet) string {
	ts := p.Time.Format("15:04:05.000000")
	if p.Marker {
		return fmt.Sprintf("%s ---- %s ----", ts, strings.Join(p.Comments, "; "))
	}
	where := p.Where.String()
	if pad := f.Where - len(where); pad > 0 {
		where += strings.Repeat(" ", pad)
	}
	return ts + " " + where + " " + f.Describe(packet.Decode(p.Data), p.Length)
}

// Describe is the part of a line after time and place: addresses, protocol,
// what the packet means, its length.
func (f *Formatter) Describe(d packet.Decoded, length int) string {
	var b strings.Builder
	switch d.Proto {
	case packet.ProtoARP:
		switch d.ARP.Op {
		case 1:
			fmt.Fprintf(&b, "ARP who has %s? tell %s", d.ARP.TargetIP, d.ARP.SenderIP)
		case 2:
			fmt.Fprintf(&b, "ARP %s is at %s", d.ARP.SenderIP, d.ARP.SenderMAC)
		default:
			fmt.Fprintf(&b, "ARP op %d %s → %s", d.ARP.Op, d.ARP.SenderIP, d.ARP.TargetIP)
		}
	case packet.ProtoTCP:
		fmt.Fprintf(&b, "%s → %s TCP", d.Src, d.Dst)
		if !d.Complete {
			b.WriteString(" (truncated)")
			break
		}
		fmt.Fprintf(&b, " [%s] seq=%d", d.TCP.Flags, f.relSeq(d))
		if d.TCP.Flags&packet.ACK != 0 {
			fmt.Fprintf(&b, " ack=%d", f.relAck(d))
		}
		fmt.Fprintf(&b, " win=%d len=%d", f.window(d), len(d.Payload))
		f.payload(&b, d)
	case packet.ProtoUDP:
		fmt.Fprintf(&b, "%s → %s UDP len=%d", d.Src, d.Dst, len(d.Payload))
		f.payload(&b, d)
	case packet.ProtoICMPv4, packet.ProtoICMPv6:
		fmt.Fprintf(&b, "%s → %s %s %s", d.Src.Addr(), d.Dst.Addr(), d.Proto, packet.ICMPName(d.Proto, d.ICMP.Type, d.ICMP.Code))
		if d.ICMP.Target.IsValid() {
			if d.ICMP.Type == 135 {
				fmt.Fprintf(&b, " who has %s?", d.ICMP.Target)
			} else {
				fmt.Fprintf(&b, " %s is here", d.ICMP.Target)
			}
		}
		if q := d.ICMP.Quoted; q != nil {
			fmt.Fprintf(&b, " (for %s %s → %s)", q.Proto, q.Src, q.Dst)
		}
	default:
		switch d.Family {
		case 4, 6:
			fmt.Fprintf(&b, "%s → %s %s", d.Src.Addr(), d.Dst.Addr(), d.Family)
		default:
			b.WriteString("non-IP frame")
		}
	}
	fmt.Fprintf(&b, " (%d bytes)", length)
	return b.String()
}

func (f *Formatter) isn(src, dst netip.AddrPort, seq uint32, syn bool) uint32 {
	if f.conns == nil {
		f.conns = map[flowKey]uint32{}
	}
	k := flowKey{src, dst}
	base, ok := f.conns[k]
	if !ok || syn {
		// A SYN starts the count again (a new connection on the same ports);
		// a connection seen mid-way counts from its first segment here.
		base = seq
		f.conns[k] = base
	}
	return base
}

// window is d's window in bytes: the raw field shifted by the scale its
// sender announced, once both SYNs had the option (RFC 7323; a SYN's own
// window is never scaled). Without the SYNs, the raw field, as Wireshark.
func (f *Formatter) window(d packet.Decoded) int {
	if f.scale == nil {
		f.scale = map[flowKey]int8{}
	}
	k := flowKey{d.Src, d.Dst}
	if d.TCP.Flags&packet.SYN != 0 {
		f.scale[k] = d.TCP.WindowScale
		return int(d.TCP.Window)
	}
	mine, ok1 := f.scale[k]
	theirs, ok2 := f.scale[flowKey{d.Dst, d.Src}]
	if !ok1 || !ok2 || mine < 0 || theirs < 0 {
		return int(d.TCP.Window)
	}
	return int(d.TCP.Window) << mine
}

func (f *Formatter) relSeq(d packet.Decoded) uint32 {
	return d.TCP.Seq - f.isn(d.Src, d.Dst, d.TCP.Seq, d.TCP.Flags&packet.SYN != 0)
}

func (f *Formatter) relAck(d packet.Decoded) uint32 {
	k := flowKey{d.Dst, d.Src}
	base, ok := f.conns[k]
	if !ok {
		// The other side's first segment is unseen: its ISN is ack-1 at most.
		base = d.TCP.Ack - 1
		f.conns[k] = base
	}
	return d.TCP.Ack - base
}

// payload appends the decoded lab protocol or the first bytes as text.
func (f *Formatter) payload(b *strings.Builder, d packet.Decoded) {
	if len(d.Payload) == 0 {
		return
	}
	if d.Proto == packet.ProtoTCP && (d.Src.Port() == lookupPort || d.Dst.Port() == lookupPort) {
		if s, ok := LookupFrame(d.Payload); ok {
			b.WriteString(" lookup ")
			b.WriteString(s)
			return
		}
	}
	if d.Proto == packet.ProtoTCP && d.Src.Port() == welcomePort {
		b.WriteString(" welcome ")
	} else {
		b.WriteByte(' ')
	}
	b.WriteString(Preview(d.Payload, PayloadPreview))
}

// LookupFrame decodes the start of a lookup message (2-byte big-endian header
// length, JSON header, content) as "header {...} content N bytes "..."". It
// reports false when data does not start with a frame: a segment in the
// middle of a long message shows as plain bytes.
func LookupFrame(data []byte) (string, bool) {
	if len(data) < 3 {
		return "", false
	}
	n := int(binary.BigEndian.Uint16(data))
	if n == 0 || 2+n > len(data) || data[2] != '{' {
		return "", false
	}
	var hdr map[string]any
	if json.Unmarshal(data[2:2+n], &hdr) != nil {
		return "", false
	}
	content := data[2+n:]
	s := fmt.Sprintf("header(%d) %s", n, data[2:2+n])
	if cl, ok := hdr["content-length"].(float64); ok {
		s += fmt.Sprintf(" content %d bytes", int(cl))
		if int(cl) > len(content) {
			s += fmt.Sprintf(" (%d here)", len(content))
		}
	}
	if len(content) > 0 {
		s += " " + Preview(content, PayloadPreview)
	}
	return s, true
}

// Preview quotes up to n bytes of data as text: printable UTF-8 as is,
// other bytes escaped, "…" when there is more.
func Preview(data []byte, n int) string {
	more := len(data) > n
	if more {
		data = data[:n]
		// Do not cut a UTF-8 sequence in two: drop a torn last rune.
		if r, size := utf8.DecodeLastRune(data); r == utf8.RuneError && size <= 1 {
			for i := 1; i < 4 && i <= len(data); i++ {
				if utf8.RuneStart(data[len(data)-i]) {
					if !utf8.FullRune(data[len(data)-i:]) {
						data = data[:len(data)-i]
					}
					break
				}
			}
		}
	}
	s := strconv.QuoteToGraphic(string(data))
	if more {
		s += "…"
	}
	return s
}
