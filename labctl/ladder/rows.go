package ladder

import (
	"fmt"
	"strings"
	"time"
)

// row is one line of a drawn ladder: a packet sent (arrow >= 0) with the
// states it changed, or a state that changed later, when the packet arrived
// after others had been sent.
type row struct {
	t     time.Time
	arrow int // index in Arrows, -1 for a state-only row
	state [2]string
	// cause is, on a state-only row, the arrow whose arrival changed the
	// state (-1 if unknown).
	cause int
}

// rows lays c out: one row per arrow, in the order they were sent, each
// end's new state on the row of the packet that changed it — on a row of
// its own, at its time, when other packets were sent in between (the
// crossing FINs of a simultaneous close).
func rows(c *Conversation) []row {
	main := make([]row, len(c.Arrows))
	extra := make([][]row, len(c.Arrows)+1) // extra[i+1]: after arrow i; extra[0]: before any
	for i, a := range c.Arrows {
		main[i] = row{t: a.Sent, arrow: i, cause: -1}
	}
	for _, sc := range c.States {
		r := -1 // the last arrow sent at or before the change
		for i := len(c.Arrows) - 1; i >= 0; i-- {
			if !c.Arrows[i].Sent.After(sc.Time) {
				r = i
				break
			}
		}
		if sc.Arrow >= 0 && (c.Arrows[sc.Arrow].From == sc.End || r <= sc.Arrow) {
			r = sc.Arrow
			if main[r].state[sc.End] == "" && len(extra[r+1]) == 0 {
				main[r].state[sc.End] = sc.State
				continue
			}
		}
		ex := extra[r+1]
		if n := len(ex); n > 0 && ex[n-1].state[sc.End] == "" && ex[n-1].t.Equal(sc.Time) && ex[n-1].cause == sc.Arrow {
			ex[n-1].state[sc.End] = sc.State
			continue
		}
		nr := row{t: sc.Time, arrow: -1, cause: sc.Arrow}
		nr.state[sc.End] = sc.State
		extra[r+1] = append(ex, nr)
	}
	out := append([]row(nil), extra[0]...)
	for i := range main {
		out = append(out, main[i])
		out = append(out, extra[i+1]...)
	}
	return out
}

// Label is what an arrow says: its flags, relative seq and ack, payload
// length, and its marks: "SYN,ACK seq=0 ack=1", "PSH,ACK seq=1 ack=1 len=58".
func (a *Arrow) Label() string {
	var b strings.Builder
	switch a.Kind {
	case "ICMP":
		b.WriteString("ICMP " + a.ICMP)
		if a.ICMPFrom != "" {
			b.WriteString(" from " + a.ICMPFrom)
		}
	case "UDP":
		fmt.Fprintf(&b, "UDP len=%d", a.Len)
	default:
		fmt.Fprintf(&b, "%s seq=%d", a.Flags, a.Seq)
		if a.Ack != nil {
			fmt.Fprintf(&b, " ack=%d", *a.Ack)
		}
		if a.Len > 0 {
			fmt.Fprintf(&b, " len=%d", a.Len)
		}
	}
	return b.String()
}

// Marks are an arrow's marks as words: "retransmission", "lost".
func (a *Arrow) Marks() []string {
	var m []string
	if a.Retransmission {
		m = append(m, "retransmission")
	}
	if a.Duplicate {
		m = append(m, "duplicate")
	}
	if a.DupAck {
		m = append(m, "dup ack")
	}
	if a.Lost {
		m = append(m, "lost")
	}
	return m
}

// Title is a conversation's one-line heading.
func (c *Conversation) Title() string {
	fam := map[int]string{4: "IPv4", 6: "IPv6"}[c.Family]
	return fmt.Sprintf("#%d %s %s → %s, %s", c.ID, c.Proto, c.A.title(), c.B.title(), fam)
}

func (e Endpoint) title() string {
	if e.Node == "" {
		return e.Addr.String()
	}
	return e.Node + " " + e.Addr.String()
}

// Summary says in a line what happened: packets, bytes, how it ended,
// what went wrong.
func (c *Conversation) Summary() string {
	n := len(c.Arrows) + c.More
	parts := []string{fmt.Sprintf("%d packets", n)}
	parts = append(parts, fmt.Sprintf("%d bytes %s → %s, %d back", c.Bytes[0], c.A.Name(), c.B.Name(), c.Bytes[1]))
	if c.Close != "" {
		by := c.A.Name()
		if c.CloseBy == "b" {
			by = c.B.Name()
		}
		parts = append(parts, fmt.Sprintf("closed: %s by %s", strings.ToUpper(c.Close), by))
	}
	for _, x := range []struct {
		n    int
		what string
	}{{c.Retransmissions, "retransmission"}, {c.Duplicates, "duplicate"}, {c.Lost, "lost"}} {
		if x.n > 0 {
			w := x.what
			if x.n > 1 && w != "lost" {
				w += "s"
			}
			parts = append(parts, fmt.Sprintf("%d %s", x.n, w))
		}
	}
	return strings.Join(parts, "; ")
}
