package ladder

import (
	"fmt"
	"strconv"

	"socketlab/internal/packet"
)

// TCP states, as RFC 9293 names them (and ss and netstat print them).
const (
	Closed      = "CLOSED"
	Listen      = "LISTEN"
	SynSent     = "SYN_SENT"
	SynReceived = "SYN_RECEIVED"
	Established = "ESTABLISHED"
	FinWait1    = "FIN_WAIT_1"
	FinWait2    = "FIN_WAIT_2"
	Closing     = "CLOSING"
	TimeWait    = "TIME_WAIT"
	CloseWait   = "CLOSE_WAIT"
	LastAck     = "LAST_ACK"
)

// segBits is what the state machines need of a segment.
type segBits struct {
	flags    packet.TCPFlags
	seq, ack uint32
	n        uint32 // payload length
}

// tcpConv follows one connection: sequence numbers as they are sent, and
// each end's state as the segments are sent and received, in time order.
type tcpConv struct {
	isn     [2]uint32
	haveISN [2]bool
	high    [2]uint32 // highest seq+len sent by each end
	sent    [2]bool
	finEnd  [2]uint32 // seq after each end's FIN
	lastAck [2]uint32 // the last ack each end sent, and its window
	lastWin [2]uint16
	acked   [2]bool
	fin     [2]bool
	rst     bool
	synAck  bool // B answered a SYN: something listened
	midway  bool // no SYN seen: the connection began before the capture
	state   [2]string
}

func newTCP(c *conv, d packet.Decoded) *tcpConv {
	t := &tcpConv{}
	if d.Proto == packet.ProtoTCP && d.TCP.Flags&packet.SYN == 0 {
		t.midway = true
		t.state = [2]string{Established, Established}
		c.Initial = t.state
	}
	return t
}

// over tells whether the connection has ended (reset, or FIN both ways), so
// that a new SYN on the same ports starts a new one.
func (t *tcpConv) over() bool { return t.rst || (t.fin[0] && t.fin[1]) }

// segment numbers a segment that end `from` sent as it is first seen: its
// relative seq and ack, whether it resends what was sent already, and
// whether bytes before it were never seen.
func (t *tcpConv) segment(c *conv, a *Arrow, from int, d packet.Decoded) {
	fl := d.TCP.Flags
	to := 1 - from
	a.Flags = fl.String()
	if fl&packet.SYN != 0 && fl&packet.ACK != 0 && from == 1 {
		t.synAck = true
	}
	if !t.haveISN[from] {
		t.isn[from], t.haveISN[from] = d.TCP.Seq, true
		if fl&packet.SYN == 0 {
			t.isn[from]-- // seen mid-way: count as if the SYN was just before
		}
	}
	if fl&packet.ACK != 0 {
		if !t.haveISN[to] {
			t.isn[to], t.haveISN[to] = d.TCP.Ack-1, true
		}
		ack := d.TCP.Ack - t.isn[to]
		a.Ack = &ack
	}
	a.Seq = d.TCP.Seq - t.isn[from]
	// A bare ACK repeating the last one: the receiver saw a hole (three
	// of them make the sender resend at once: fast retransmit).
	// (A window update repeats the ack with a new window: not one.)
	if fl == packet.ACK && d.PayloadLen == 0 && t.acked[from] && d.TCP.Ack == t.lastAck[from] && d.TCP.Window == t.lastWin[from] && !a.Duplicate {
		a.DupAck = true
	}
	if fl&packet.ACK != 0 {
		t.lastAck[from], t.lastWin[from], t.acked[from] = d.TCP.Ack, d.TCP.Window, true
	}
	n := uint32(d.PayloadLen)
	if fl&packet.SYN != 0 {
		n++
	}
	if fl&packet.FIN != 0 {
		n++
	}
	if n > 0 && fl&packet.RST == 0 && !a.Duplicate {
		end := d.TCP.Seq + n
		switch {
		case !t.sent[from] || int32(end-t.high[from]) > 0:
			if t.sent[from] && int32(d.TCP.Seq-t.high[from]) > 0 {
				a.Unseen = fmt.Sprintf("bytes %d to %d not seen", t.high[from]-t.isn[from], d.TCP.Seq-t.isn[from]-1)
			}
			t.high[from], t.sent[from] = end, true
			// The bytes each way: as far as the sequence numbers went, so
			// that bytes lost before any capture point count once resent.
			c.Bytes[from] = int(end - t.isn[from] - 1)
			if t.fin[from] || fl&packet.FIN != 0 {
				c.Bytes[from]--
			}
		case d.PayloadLen <= 1 && end == t.high[from] && fl&(packet.SYN|packet.FIN) == 0:
			// a keepalive: one byte (or none) below what was sent
		default:
			a.Retransmission = true
			c.Retransmissions++
		}
	}
	if fl&packet.FIN != 0 && !t.fin[from] {
		t.fin[from], t.finEnd[from] = true, finEnd(d)
		if c.Close == "" {
			c.Close, c.CloseBy = "fin", lane(from)
		}
	}
	if fl&packet.RST != 0 && !t.rst {
		t.rst = true
		if c.Close != "rst" {
			c.Close, c.CloseBy = "rst", lane(from)
		}
	}
}

// finEnd is the sequence number after the FIN of d.
func finEnd(d packet.Decoded) uint32 {
	n := d.TCP.Seq + uint32(d.PayloadLen)
	if d.TCP.Flags&packet.SYN != 0 {
		n++
	}
	return n + 1
}

func lane(i int) string { return [2]string{"a", "b"}[i] }

// apply moves one end's state on a segment it sent or received.
func (t *tcpConv) apply(c *conv, e *event) {
	x := e.end
	if t.state[x] == "" {
		// The state before the first packet: A was closed; B listened if it
		// ever answered a SYN, else nothing listened (a refused connection).
		t.state[0] = Closed
		t.state[1] = Closed
		if t.synAck {
			t.state[1] = Listen
		}
		c.Initial = t.state
	}
	s := t.state[x]
	fl := e.d.flags
	next := s
	switch {
	case e.icmp:
		if s == SynSent || s == SynReceived {
			next = Closed // an ICMP error aborts a connection being opened
		}
	case fl&packet.RST != 0:
		if !e.recv || s != Listen {
			next = Closed
		}
	case !e.recv:
		next = afterSend(s, fl)
	default:
		next = t.afterReceipt(x, s, e.d)
	}
	if next != s {
		t.state[x] = next
		c.States = append(c.States, StateChange{End: x, State: next, Time: e.t, Arrow: e.arrow})
	}
}

// afterSend is an end's state after it sent a segment with flags fl in state s.
func afterSend(s string, fl packet.TCPFlags) string {
	switch {
	case fl&packet.SYN != 0 && fl&packet.ACK == 0:
		if s == Closed || s == Listen {
			return SynSent
		}
	case fl&packet.SYN != 0:
		if s == Listen {
			return SynReceived
		}
	case fl&packet.FIN != 0:
		switch s {
		case Established, SynReceived:
			return FinWait1
		case CloseWait:
			return LastAck
		}
	}
	return s
}

// afterReceipt is end x's state after it received segment d in state s: the
// acknowledgement first (of x's SYN or FIN), then the SYN or FIN it carries.
func (t *tcpConv) afterReceipt(x int, s string, d segBits) string {
	fl := d.flags
	if fl&packet.ACK != 0 {
		finAcked := t.fin[x] && int32(d.ack-t.finEnd[x]) >= 0
		switch {
		case s == SynSent && fl&packet.SYN != 0:
			return Established
		case s == SynReceived && fl&packet.SYN == 0:
			s = Established
		case s == FinWait1 && finAcked:
			s = FinWait2
		case s == Closing && finAcked:
			s = TimeWait
		case s == LastAck && finAcked:
			s = Closed
		}
	}
	if fl&packet.SYN != 0 && fl&packet.ACK == 0 {
		switch s {
		case Listen, SynSent:
			return SynReceived
		}
	}
	if fl&packet.FIN != 0 {
		switch s {
		case Established, SynReceived:
			return CloseWait
		case FinWait1:
			return Closing
		case FinWait2:
			return TimeWait
		}
	}
	return s
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
