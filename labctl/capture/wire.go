package capture

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"socketlab/internal/packet"
)

// Close is how a connection ended and who ended it.
type Close struct {
	Kind packet.CloseKind
	// By is the side that sent the first RST (Kind rst) or the first FIN (fin).
	By packet.Side
	// ByNode is true when the captured node itself sent it.
	ByNode bool
	// Both is true when both sides sent a FIN (an orderly close both ways).
	Both bool
}

// String is "fin by server (both ways)", "rst by client", "none".
func (c Close) String() string {
	if c.Kind == packet.CloseNone {
		return "none"
	}
	s := fmt.Sprintf("%s by %s", c.Kind, c.By)
	if c.Both {
		s += " (both ways)"
	}
	return s
}

// Conn is one TCP connection seen during a step.
type Conn struct {
	Client, Server netip.AddrPort
	// Handshake is true when SYN, SYN-ACK and ACK were all seen.
	Handshake       bool
	Close           Close
	Retransmissions int
	// Bytes is the payload each side sent (retransmissions not counted).
	ClientBytes, ServerBytes int
}

// Datagrams counts the UDP datagrams the node sent and received.
type Datagrams struct{ Sent, Received int }

// Wire is what crossed the wire during one step as the step's node saw it;
// Analyze computes it and Expect.Check compares it with a scenario's
// expect.wire.
type Wire struct {
	// Families are the IP versions of the TCP and UDP packets, in order: [4], [6], [4 6].
	Families []packet.Family
	Conns    []Conn
	// Handshake is true when there was a connection and each had its three-way handshake.
	Handshake bool
	// Close is how the first connection that ended, ended (CloseNone if none did).
	Close Close
	// ICMP names the ICMP and ICMPv6 messages seen, in order of appearance, once each.
	ICMP []string
	// PortUnreachable is true when an ICMP or ICMPv6 port unreachable was seen.
	PortUnreachable bool
	// Retransmissions totals the retransmitted TCP segments of every connection.
	Retransmissions int
	Datagrams       Datagrams
	// Packets is how many packets were analysed.
	Packets int
}

// Select returns the packets of pkts seen by node between from and to
// (inclusive), markers excluded: the packets of one step.
func Select(pkts []Packet, node string, from, to time.Time) []Packet {
	var out []Packet
	for _, p := range pkts {
		if !p.Marker && p.Where.Node == node && !p.Time.Before(from) && !p.Time.After(to) {
			out = append(out, p)
		}
	}
	return out
}

// connState follows one connection.
type connState struct {
	Conn
	client           netip.AddrPort
	syn, synAck, ack bool
	finFrom          map[netip.AddrPort]bool
	end              map[netip.AddrPort]uint32 // highest seq+len sent by each side
	seen             map[netip.AddrPort]bool
}

// Analyze judges pkts, the packets of one node during one step (see Select),
// in capture order. Direction comes from the helper's pcapng flags.
func Analyze(pkts []Packet) Wire {
	var (
		w     Wire
		conns []*connState
		byKey = map[[2]netip.AddrPort]*connState{}
		fam   = map[packet.Family]bool{}
	)
	for _, p := range pkts {
		if p.Marker {
			continue
		}
		w.Packets++
		d := packet.Decode(p.Data)
		switch d.Proto {
		case packet.ProtoICMPv4, packet.ProtoICMPv6:
			name := packet.ICMPName(d.Proto, d.ICMP.Type, d.ICMP.Code)
			if !slices.Contains(w.ICMP, name) {
				w.ICMP = append(w.ICMP, name)
			}
			if (d.Proto == packet.ProtoICMPv4 && d.ICMP.Type == 3 && d.ICMP.Code == 3) || (d.Proto == packet.ProtoICMPv6 && d.ICMP.Type == 1 && d.ICMP.Code == 4) {
				w.PortUnreachable = true
			}
		case packet.ProtoUDP:
			fam[d.Family] = true
			switch p.Dir {
			case DirOut:
				w.Datagrams.Sent++
			case DirIn:
				w.Datagrams.Received++
			}
		case packet.ProtoTCP:
			if !d.Complete {
				continue
			}
			fam[d.Family] = true
			k := [2]netip.AddrPort{d.Src, d.Dst}
			if k[1].Compare(k[0]) < 0 {
				k[0], k[1] = k[1], k[0]
			}
			c := byKey[k]
			if c == nil || (d.TCP.Flags&(packet.SYN|packet.ACK) == packet.SYN && c.Close.Kind != packet.CloseNone) {
				c = &connState{finFrom: map[netip.AddrPort]bool{}, end: map[netip.AddrPort]uint32{}, seen: map[netip.AddrPort]bool{}}
				// The client sent the SYN; seen mid-way, guess the higher (ephemeral) port.
				switch {
				case d.TCP.Flags&(packet.SYN|packet.ACK) == packet.SYN:
					c.client = d.Src
				case d.TCP.Flags&(packet.SYN|packet.ACK) == packet.SYN|packet.ACK:
					c.client = d.Dst
				case d.Src.Port() > d.Dst.Port():
					c.client = d.Src
				default:
					c.client = d.Dst
				}
				c.Client = c.client
				c.Server = k[0]
				if k[0] == c.client {
					c.Server = k[1]
				}
				byKey[k] = c
				conns = append(conns, c)
			}
			c.segment(d, p.Dir)
		}
	}
	for _, f := range []packet.Family{4, 6} {
		if fam[f] {
			w.Families = append(w.Families, f)
		}
	}
	w.Handshake = len(conns) > 0
	for _, c := range conns {
		c.Handshake = c.syn && c.synAck && c.ack
		w.Handshake = w.Handshake && c.Handshake
		w.Retransmissions += c.Retransmissions
		if w.Close.Kind == packet.CloseNone {
			w.Close = c.Close
		}
		w.Conns = append(w.Conns, c.Conn)
	}
	return w
}

func (c *connState) side(a netip.AddrPort) packet.Side {
	if a == c.client {
		return packet.SideClient
	}
	return packet.SideServer
}

func (c *connState) segment(d packet.Decoded, dir Direction) {
	fl := d.TCP.Flags
	switch {
	case fl&(packet.SYN|packet.ACK) == packet.SYN:
		c.syn = true
	case fl&(packet.SYN|packet.ACK) == packet.SYN|packet.ACK:
		c.synAck = true
	case c.syn && c.synAck && !c.ack && fl&packet.ACK != 0 && d.Src == c.client:
		c.ack = true
	}
	// Sequence space used: payload, plus one for SYN and for FIN.
	n := uint32(d.PayloadLen)
	if fl&packet.SYN != 0 {
		n++
	}
	if fl&packet.FIN != 0 {
		n++
	}
	if n > 0 && fl&packet.RST == 0 {
		end := d.TCP.Seq + n
		prev, ok := c.end[d.Src]
		// A segment that brings nothing past what this side already sent is
		// a retransmission; a keepalive (one byte just below) is not.
		switch {
		case !ok || int32(end-prev) > 0:
			c.end[d.Src] = end
			if d.Src == c.client {
				c.ClientBytes += d.PayloadLen
			} else {
				c.ServerBytes += d.PayloadLen
			}
		case d.PayloadLen == 1 && end == prev && fl&(packet.SYN|packet.FIN) == 0:
			// keepalive
		default:
			c.Retransmissions++
		}
	}
	by := c.side(d.Src)
	if fl&packet.RST != 0 && c.Close.Kind != packet.CloseRST {
		both := c.Close.Both
		c.Close = Close{Kind: packet.CloseRST, By: by, ByNode: dir == DirOut, Both: both}
	}
	if fl&packet.FIN != 0 {
		c.finFrom[d.Src] = true
		if c.Close.Kind == packet.CloseNone {
			c.Close = Close{Kind: packet.CloseFIN, By: by, ByNode: dir == DirOut}
		}
		c.Close.Both = len(c.finFrom) == 2
	}
}

// Count is a number of retransmissions a step expects: Op is one of
// == != < <= > >=.
type Count struct {
	Op string
	N  int
}

// Holds reports whether n satisfies c.
func (c Count) Holds(n int) bool {
	switch c.Op {
	case "", "==":
		return n == c.N
	case "!=":
		return n != c.N
	case "<":
		return n < c.N
	case "<=":
		return n <= c.N
	case ">":
		return n > c.N
	case ">=":
		return n >= c.N
	}
	return false
}

func (c Count) String() string {
	if c.Op == "" || c.Op == "==" {
		return fmt.Sprint(c.N)
	}
	return c.Op + " " + fmt.Sprint(c.N)
}

// Expect is a scenario step's expect.wire, typed; nil or zero fields are not checked.
type Expect struct {
	Handshake *bool
	// Close is fin or rst; CloseBy, when set, the side that must have ended it.
	Close   packet.CloseKind
	CloseBy packet.Side
	// ICMP names a message that must have been seen: "port-unreachable"
	// (packet.WireICMP: as packet.ICMPName spells them, dashes for spaces).
	ICMP            string
	Retransmissions *Count
	// DatagramsSent and DatagramsReceived, when set, are how many UDP
	// datagrams the node must have sent and received.
	DatagramsSent, DatagramsReceived *int
	Family                           packet.Family
}

// Mismatch is one expectation that did not hold.
type Mismatch struct {
	Field     string
	Want, Got string
}

func (m Mismatch) String() string {
	return fmt.Sprintf("wire.%s: expected %s, got %s", m.Field, m.Want, m.Got)
}

// Check compares got with e and returns what does not hold, in field order.
func (e Expect) Check(got Wire) []Mismatch {
	var out []Mismatch
	add := func(field, want, got string) { out = append(out, Mismatch{field, want, got}) }
	if e.Handshake != nil && *e.Handshake != got.Handshake {
		add("handshake", fmt.Sprint(*e.Handshake), handshakeStory(got))
	}
	if e.Close != packet.CloseNone && (got.Close.Kind != e.Close || (e.CloseBy != "" && got.Close.By != e.CloseBy)) {
		want := string(e.Close)
		if e.CloseBy != "" {
			want += " by " + string(e.CloseBy)
		}
		story := got.Close.String()
		if got.Close.Kind == packet.CloseFIN && e.Close == packet.CloseFIN && got.Close.Both {
			// An orderly close both ways, begun by the other side: the usual
			// surprise is a client that half-closes first (sock echo does).
			story += fmt.Sprintf(": the %s sent the first FIN and the %s's answered it (close: fin holds whoever begins)", got.Close.By, other(got.Close.By))
		}
		add("close", want, story)
	}
	if e.ICMP != "" {
		if !slices.ContainsFunc(got.ICMP, func(name string) bool { return packet.WireName(name) == e.ICMP }) {
			add("icmp", e.ICMP, orNone(strings.Join(got.ICMP, ", ")))
		}
	}
	if e.Retransmissions != nil && !e.Retransmissions.Holds(got.Retransmissions) {
		add("retransmissions", e.Retransmissions.String(), fmt.Sprint(got.Retransmissions))
	}
	if (e.DatagramsSent != nil && *e.DatagramsSent != got.Datagrams.Sent) ||
		(e.DatagramsReceived != nil && *e.DatagramsReceived != got.Datagrams.Received) {
		var want []string
		if e.DatagramsSent != nil {
			want = append(want, fmt.Sprintf("sent %d", *e.DatagramsSent))
		}
		if e.DatagramsReceived != nil {
			want = append(want, fmt.Sprintf("received %d", *e.DatagramsReceived))
		}
		add("datagrams", strings.Join(want, ", "), fmt.Sprintf("sent %d, received %d", got.Datagrams.Sent, got.Datagrams.Received))
	}
	if e.Family != 0 && !slices.Equal(got.Families, []packet.Family{e.Family}) {
		var fs []string
		for _, f := range got.Families {
			fs = append(fs, f.String())
		}
		add("family", e.Family.String(), orNone(strings.Join(fs, " and ")))
	}
	return out
}

// other is the side that is not s.
func other(s packet.Side) packet.Side {
	if s == packet.SideClient {
		return packet.SideServer
	}
	return packet.SideClient
}

func handshakeStory(w Wire) string {
	if len(w.Conns) == 0 {
		return "false (no TCP connection seen)"
	}
	return fmt.Sprintf("%v (%d connection(s))", w.Handshake, len(w.Conns))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
