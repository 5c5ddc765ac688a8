package ladder

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"time"
)

// The SVG ladder's geometry, in user units: a narrow drawing, so that it
// reads on a phone when scaled to the screen's width, and prints.
const (
	svgWidth = 480
	laneA    = 134
	laneB    = 346
	rowH     = 30
	headH    = 96
)

// Colours of the marks.
const (
	inkColor     = "#263238"
	mutedColor   = "#607d8b"
	resendColor  = "#e65100"
	lostColor    = "#c62828"
	icmpColor    = "#6a1b9a"
	stateFill    = "#e3f2fd"
	warningColor = "#b71c1c"
)

// WriteSVG draws conversation c as one self-contained SVG image: no
// scripts, no external fonts or links. Arrows slope down from the time the
// packet left to the time it arrived where both were seen; lost packets
// end in a red cross, resent ones are orange.
func WriteSVG(w io.Writer, c *Conversation) error {
	rs := rows(c)
	// A row is taller when its arrow has a second line (payload, marks).
	ys := make([]int, len(rs)+1)
	ys[0] = headH + 16
	for i, r := range rs {
		h := rowH
		if r.arrow >= 0 && (c.Arrows[r.arrow].Preview != "" || len(c.Arrows[r.arrow].Marks()) > 0) {
			h += 14
		}
		ys[i+1] = ys[i] + h
	}
	y := func(i int) int { return ys[i] }
	height := y(len(rs)) + 4
	if c.More > 0 {
		height += 18
	}
	var b strings.Builder
	// No ids: several ladders share one page.
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="ladder" viewBox="0 0 %d %d" width="%d" height="%d" role="img">`+"\n",
		svgWidth, height, svgWidth, height)
	fmt.Fprintf(&b, `<title>%s: %s</title>`+"\n", esc(c.Title()), esc(c.Summary()))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`+"\n", svgWidth, height)
	fmt.Fprintf(&b, `<g font-family="DejaVu Sans, Helvetica, Arial, sans-serif" fill="%s">`+"\n", inkColor)
	text(&b, 6, 16, 12, "bold", "start", inkColor, cut(c.Title(), 66))
	text(&b, 6, 32, 10.5, "normal", "start", mutedColor, cut(c.Summary(), 86))
	if c.Incomplete != "" {
		text(&b, 6, 46, 10.5, "bold", "start", warningColor, "! the capture is incomplete: packets missing here may have crossed the wire")
	}
	// Lanes: name, address, initial state.
	for i, e := range []Endpoint{c.A, c.B} {
		x := []int{laneA, laneB}[i]
		text(&b, x, 62, 12, "bold", "middle", inkColor, cut(e.Name(), 30))
		if e.Node != "" {
			text(&b, x, 75, 9.5, "normal", "middle", mutedColor, e.Addr.String())
		}
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", x, headH-8, x, height-6, mutedColor)
		if c.Initial[i] != "" {
			stateBox(&b, i, headH, c.Initial[i])
		}
	}
	at := rowTimes(rs)
	for i, r := range rs {
		ry := y(i)
		ms := float64(r.t.Sub(c.Start)) / float64(time.Millisecond)
		text(&b, 2, float64(ry+4), 9.5, "normal", "start", mutedColor, fmt.Sprintf("%.3f", ms))
		for end, s := range r.state {
			if s != "" {
				stateBox(&b, end, ry, s)
			}
		}
		if r.arrow < 0 {
			continue
		}
		a := c.Arrows[r.arrow]
		arrive := ry + 8
		if !a.Arrived.IsZero() {
			if j := rowAt(at, a.Arrived); j > i {
				arrive = y(j)
			}
		}
		drawArrow(&b, a, ry, arrive)
	}
	if c.More > 0 {
		text(&b, svgWidth/2, float64(height-14), 10, "normal", "middle", mutedColor, fmt.Sprintf("... %d more packets", c.More))
	}
	b.WriteString("</g>\n</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// rowTimes are the rows' times, for placing arrivals.
func rowTimes(rs []row) []time.Time {
	ts := make([]time.Time, len(rs))
	for i, r := range rs {
		ts[i] = r.t
	}
	return ts
}

// rowAt is the last row at or before t.
func rowAt(ts []time.Time, t time.Time) int {
	j := 0
	for i, rt := range ts {
		if !rt.After(t) {
			j = i
		}
	}
	return j
}

func drawArrow(b *strings.Builder, a *Arrow, y1, y2 int) {
	x1, x2 := laneA, laneB
	if a.From == 1 {
		x1, x2 = laneB, laneA
	}
	color, dash := inkColor, ""
	switch {
	case a.Lost:
		color, dash = lostColor, ` stroke-dasharray="5 3"`
	case a.Retransmission || a.Duplicate:
		color = resendColor
	case a.Kind == "ICMP":
		color = icmpColor
	}
	label := a.Label()
	note := a.Preview
	if m := a.Marks(); len(m) > 0 {
		note = strings.TrimSpace("[" + strings.Join(m, ", ") + "] " + note)
	}
	mid := (laneA + laneB) / 2
	if a.Lost {
		// It never arrived: the shaft stops two thirds of the way, at a cross.
		ex := x1 + (x2-x1)*2/3
		ey := y1 + (y2-y1)*2/3
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="1.6"%s/>`+"\n", x1, y1, ex, ey, color, dash)
		fmt.Fprintf(b, `<path d="M%d,%d l8,8 M%d,%d l-8,8" stroke="%s" stroke-width="2.2"/>`+"\n", ex-4, ey-4, ex+4, ey-4, color)
	} else {
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="1.6"%s/>`+"\n", x1, y1, x2, y2, color, dash)
		head(b, x1, y1, x2, y2, color)
	}
	text(b, mid, float64(y1-4), 11.5, "normal", "middle", color, cut(label, 34))
	if note != "" {
		nc := mutedColor
		if note != a.Preview {
			nc = color
		}
		text(b, mid, float64((y1+y2)/2+15), 10, "normal", "middle", nc, cut(note, 38))
	}
}

// head draws an arrowhead at (x2, y2), pointing along the shaft.
func head(b *strings.Builder, x1, y1, x2, y2 int, color string) {
	dx, dy := float64(x2-x1), float64(y2-y1)
	n := math.Hypot(dx, dy)
	ux, uy := dx/n, dy/n
	const l, w = 9.0, 4.0
	bx, by := float64(x2)-ux*l, float64(y2)-uy*l
	fmt.Fprintf(b, `<path d="M%d,%dL%.1f,%.1fL%.1f,%.1fz" fill="%s"/>`+"\n", x2, y2, bx-uy*w, by+ux*w, bx+uy*w, by-ux*w, color)
}

// stateBox writes an end's state beside its lane at height y.
func stateBox(b *strings.Builder, end, y int, state string) {
	w := len(state)*7 + 6
	x := laneA - 4 - w
	if end == 1 {
		x = laneB + 4
	}
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="15" rx="3" fill="%s" stroke="#90caf9"/>`+"\n", x, y-10, w, stateFill)
	text(b, x+w/2, float64(y)+2.5, 10.5, "bold", "middle", "#0d47a1", state)
}

func text(b *strings.Builder, x int, y float64, size float64, weight, anchor, color, s string) {
	fmt.Fprintf(b, `<text x="%d" y="%g" font-size="%g" font-weight="%s" text-anchor="%s" fill="%s">%s</text>`+"\n", x, y, size, weight, anchor, color, esc(s))
}

func esc(s string) string { return html.EscapeString(s) }

// WriteSVGAll draws every conversation of l in one SVG image, one ladder
// under the other.
func WriteSVGAll(w io.Writer, l *Ladder) error {
	var parts []string
	total := 0
	for _, c := range l.Conversations {
		var b strings.Builder
		if err := WriteSVG(&b, c); err != nil {
			return err
		}
		s := b.String()
		var h int
		fmt.Sscanf(s[strings.Index(s, ` height="`)+len(` height="`):], "%d", &h)
		// The ladder, moved down: an <svg> inside an <svg> takes x and y.
		parts = append(parts, strings.Replace(s, "<svg ", fmt.Sprintf(`<svg y="%d" `, total), 1))
		total += h + 8
	}
	if len(parts) == 0 {
		total = 40
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d">`+"\n", svgWidth, total, svgWidth, total)
	if len(parts) == 0 {
		fmt.Fprintf(&b, `<text x="6" y="20" font-size="12">no TCP or UDP conversation in %d frames</text>`+"\n", l.Frames)
	}
	for _, p := range parts {
		b.WriteString(p)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
