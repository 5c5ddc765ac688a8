package ladder

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// TextWidth is the most columns a line of WriteText takes.
const TextWidth = 100

// Columns of the text ladder: time, A's state, the arrows, B's state.
const (
	timeCol  = 10
	stateCol = 12
	arrowCol = TextWidth - timeCol - 2*stateCol - 6
)

// WriteText draws l for a terminal: per conversation a heading, the two
// lanes and one line per packet, each end's TCP state at its side as it
// changes, times in milliseconds from the conversation's first packet.
// No line is wider than TextWidth columns; the drawing is ASCII (payloads
// quoted with Go's escapes), headings use → as labctl capture's lines do.
func WriteText(w io.Writer, l *Ladder) error {
	var b strings.Builder
	if len(l.Conversations) == 0 {
		fmt.Fprintf(&b, "no TCP or UDP conversation in %d frames\n", l.Frames)
	}
	for i, c := range l.Conversations {
		if i > 0 {
			b.WriteByte('\n')
		}
		writeConv(&b, c)
	}
	if l.MoreConversations > 0 {
		fmt.Fprintf(&b, "\n... %d more conversations not drawn\n", l.MoreConversations)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeConv(b *strings.Builder, c *Conversation) {
	line := func(s string) { b.WriteString(cut(strings.TrimRight(s, " "), TextWidth) + "\n") }
	line(c.Title())
	for _, l := range wrap(c.Summary(), TextWidth-3) {
		line("   " + l)
	}
	if c.Incomplete != "" {
		for _, l := range wrap("!! "+c.Incomplete, TextWidth-3) {
			line("   " + l)
		}
	}
	// A's name over its state column, B's over its own (or ending at the
	// right margin when longer).
	lane := func(ms, left, right string) string {
		l := fmt.Sprintf("%*s %s", timeCol, ms, left)
		at := min(timeCol+stateCol+arrowCol+5, TextWidth-len(right))
		return l + strings.Repeat(" ", max(at-len(l), 1)) + right
	}
	line(lane("ms", c.A.Name(), c.B.Name()))
	if c.A.Node != "" || c.B.Node != "" {
		line(lane("", c.A.Addr.String(), c.B.Addr.String()))
	}
	if c.Initial[0] != "" || c.Initial[1] != "" {
		line(stateLine("", c.Initial[0], strings.Repeat(" ", arrowCol), c.Initial[1]))
	}
	for _, r := range rows(c) {
		ms := fmt.Sprintf("%.3f", float64(r.t.Sub(c.Start))/float64(time.Millisecond))
		if r.arrow < 0 {
			line(stateLine(ms, r.state[0], arrivalText(c, r), r.state[1]))
			continue
		}
		a := c.Arrows[r.arrow]
		line(stateLine(ms, r.state[0], arrowText(a), r.state[1]))
		var notes []string
		if a.Preview != "" {
			notes = append(notes, a.Preview)
		}
		if a.Unseen != "" {
			notes = append(notes, "("+a.Unseen+")")
		}
		for _, n := range notes {
			line(stateLine("", "", "   "+cut(n, arrowCol-4), ""))
		}
	}
	if c.More > 0 {
		line(stateLine("", "", fmt.Sprintf("   ... %d more packets", c.More), ""))
	}
}

// arrivalText says which packet's arrival changed a state on a row of its own.
func arrivalText(c *Conversation, r row) string {
	if r.cause < 0 {
		return ""
	}
	a := c.Arrows[r.cause]
	s := fmt.Sprintf("   (%s sent at %.3f arrives)", a.Label(), float64(a.Sent.Sub(c.Start))/float64(time.Millisecond))
	if r.state[0] != "" {
		return s
	}
	return fmt.Sprintf("%*s", arrowCol, s[3:]+"   ")
}

// stateLine is one line: time, A's state, the lane between, B's state.
func stateLine(ms, left, mid, right string) string {
	return fmt.Sprintf("%*s %-*s |%s| %s", timeCol, ms, stateCol, left, pad(mid, arrowCol), right)
}

// arrowText draws a as an arrow across the lanes, its label near its
// sender, its marks after; a lost packet stops half-way at an X.
func arrowText(a *Arrow) string {
	label := " " + a.Label() + " "
	if m := a.Marks(); len(m) > 0 {
		label += "[" + strings.Join(m, ", ") + "] "
	}
	label = cut(label, arrowCol-6)
	n := utf8.RuneCountInString(label)
	fill := arrowCol - 3 - n
	var s string
	if a.From == 0 {
		s = "--" + label + strings.Repeat("-", fill) + ">"
	} else {
		s = "<" + strings.Repeat("-", fill) + label + "--"
	}
	if a.Lost {
		// Cut the shaft where it would reach the far lane: it never arrived.
		r := []rune(s)
		if a.From == 0 {
			for i := len(r) - 1; i >= len(r)-6 && i > 0; i-- {
				r[i] = ' '
			}
			r[len(r)-7] = 'X'
		} else {
			for i := 0; i < 6; i++ {
				r[i] = ' '
			}
			r[6] = 'X'
		}
		s = string(r)
	}
	return s
}

// cut shortens s to n runes, marking the cut with "~".
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "~"
}

func pad(s string, n int) string {
	if k := utf8.RuneCountInString(s); k < n {
		return s + strings.Repeat(" ", n-k)
	}
	return s
}

// wrap breaks s into lines of at most n runes at spaces.
func wrap(s string, n int) []string {
	var out []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) > n {
			out = append(out, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}
