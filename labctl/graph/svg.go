package graph

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"strings"
)

// The SVG layout, in pixels. Networks are horizontal bars stacked top to
// bottom; nodes sit in bands between them: a node on one network above its
// bar (below it for the last network), a node on several networks just
// below the first of them, with a vertical line to every bar it joins.
const (
	margin     = 16
	titleH     = 30
	colW       = 236 // a node's column
	boxW       = 196
	nameH      = 22 // the node's name line in its box
	factH      = 15 // every further line in a box
	barH       = 28
	labelLine  = 13 // a line of a link's label
	labelGap   = 8  // between a label block and what is next to it
	minGap     = 22 // between a box and a bar when no label needs the room
	lineStep   = 12 // between the lines of one node that go the same way
	emptyBandH = 26 // between two bars with no node between them
)

// Colours of a network bar by stack, of a node's border by state.
var (
	stackFill = map[string]string{"dual": "#5e35b1", "ipv4": "#1565c0", "ipv6": "#2e7d32"}
	otherFill = "#546e7a"
)

// svgLink is a link as drawn: which bar, which way, where its label goes.
type svgLink struct {
	Link
	bar   int
	up    bool
	x     int
	label []string
}

type svgNode struct {
	Node
	band, x, y, h int
	links         []*svgLink
}

// band is the row of nodes a node sits in: band b is just above bar b, and
// band len(Networks) is below the last bar.
func band(idx []int, nets int) int {
	if len(idx) == 0 {
		return 0
	}
	lo, hi := idx[0], idx[0]
	for _, i := range idx {
		lo, hi = min(lo, i), max(hi, i)
	}
	switch {
	case lo < hi:
		return lo + 1
	case lo == nets-1 && nets > 1:
		return nets
	}
	return lo
}

// factChars is how many characters of a fact fit on a line of a node's box:
// its inner width over a generous average width of an 11px sans-serif
// character (DejaVu Sans averages about 6.2px).
const factChars = (boxW - 20) * 10 / 68

// boxLines are a node's facts as the lines of its box: a fact too long for
// the box ("image: socketlab/toolbox:latest + files") goes on over the next
// lines, broken after a space or a slash, indented.
func boxLines(n Node) []string {
	var lines []string
	for _, f := range nodeFacts(n) {
		for len([]rune(f)) > factChars {
			r := []rune(f)
			cut := factChars
			for i := factChars; i > factChars/2; i-- {
				if r[i-1] == ' ' || r[i-1] == '/' {
					cut = i
					break
				}
			}
			lines = append(lines, strings.TrimRight(string(r[:cut]), " "))
			f = "  " + strings.TrimLeft(string(r[cut:]), " ")
		}
		lines = append(lines, f)
	}
	return lines
}

// SVG writes g as a standalone SVG picture with a fixed, deterministic
// layout: the same graph always gives the same bytes. It sizes itself in
// pixels and carries a viewBox, so a page may scale it to fit.
func SVG(w io.Writer, g *Graph) error {
	if err := g.check(); err != nil {
		return err
	}
	nets := len(g.Networks)
	bands := make([][]*svgNode, nets+1)
	var nodes []*svgNode
	for _, n := range g.Nodes {
		sn := &svgNode{Node: n, h: nameH + factH*len(boxLines(n)) + 6}
		var idx []int
		for _, l := range g.linksOf(n.Name) {
			idx = append(idx, g.networkIndex(l.Network))
		}
		sn.band = band(idx, nets)
		for _, l := range g.linksOf(n.Name) {
			b := g.networkIndex(l.Network)
			sn.links = append(sn.links, &svgLink{Link: l, bar: b, up: b < sn.band, label: linkFacts(l)})
		}
		bands[sn.band] = append(bands[sn.band], sn)
		nodes = append(nodes, sn)
	}
	// A node with several lines the same way names the network in each
	// label, since the labels stack beside all of its lines.
	for _, sn := range nodes {
		for _, up := range []bool{true, false} {
			var same []*svgLink
			for _, l := range sn.links {
				if l.up == up {
					same = append(same, l)
				}
			}
			for i, l := range same {
				l.x = margin + (colW-boxW)/2 + 14 + i*lineStep
				if len(same) > 1 {
					l.label = append([]string{"→ " + l.Network}, l.label...)
				}
			}
		}
	}
	widest := 1
	for _, b := range bands {
		widest = max(widest, len(b))
	}
	width := 2*margin + max(widest*colW, 420)

	// Lay out top to bottom: band 0, bar 0, band 1, bar 1, ... band n.
	y := margin + titleH
	barY := make([]int, nets)
	for b := 0; b <= nets; b++ {
		row := bands[b]
		if len(row) == 0 {
			if b > 0 && b < nets {
				y += emptyBandH
			} else if b > 0 {
				y += labelGap
			}
		} else {
			above, below, boxH := 0, 0, 0
			for _, sn := range row {
				boxH = max(boxH, sn.h)
				above = max(above, labelsHeight(sn.links, true))
				below = max(below, labelsHeight(sn.links, false))
			}
			if b > 0 {
				y += max(minGap, above+2*labelGap)
			}
			for i, sn := range row {
				sn.x = margin + i*colW + (colW-boxW)/2
				sn.y = y
				for _, l := range sn.links {
					l.x += i * colW
				}
			}
			y += boxH
			if b < nets {
				y += max(minGap, below+2*labelGap)
			} else {
				y += margin
			}
		}
		if b < nets {
			barY[b] = y
			y += barH
		}
	}
	height := y + margin

	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-labelledby="lab-title" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`+"\n",
		width, height, width, height)
	fmt.Fprintf(bw, `<title id="lab-title">lab %s: %d networks, %d nodes</title>`+"\n", esc(g.Name), nets, len(g.Nodes))
	fmt.Fprintf(bw, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	fmt.Fprintf(bw, `<text x="%d" y="%d" font-size="16" font-weight="bold" fill="#263238">%s</text>`+"\n", margin, margin+16, esc(g.Name))
	// Lines first, so boxes and bars cover their ends.
	for _, sn := range nodes {
		for _, l := range sn.links {
			top, bottom := sn.y+sn.h, barY[l.bar]
			if l.up {
				top, bottom = barY[l.bar]+barH, sn.y
			}
			fmt.Fprintf(bw, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#546e7a" stroke-width="2"/>`+"\n", l.x, top, l.x, bottom)
		}
	}
	for b, n := range g.Networks {
		fill, ok := stackFill[n.Stack]
		if !ok {
			fill = otherFill
		}
		fmt.Fprintf(bw, `<g class="network"><title>network %s</title>`, esc(n.Name))
		fmt.Fprintf(bw, `<rect x="%d" y="%d" width="%d" height="%d" rx="5" fill="%s"/>`, margin, barY[b], width-2*margin, barH, fill)
		fmt.Fprintf(bw, `<text x="%d" y="%d" font-size="13" fill="#ffffff"><tspan font-weight="bold">%s</tspan>`, margin+10, barY[b]+19, esc(n.Name))
		if f := networkFacts(n); len(f) > 0 {
			fmt.Fprintf(bw, `<tspan font-size="12">  %s</tspan>`, esc(strings.Join(f, " · ")))
		}
		fmt.Fprintln(bw, `</text></g>`)
	}
	// A dot where a line joins its bar; a line that only crosses a bar has none.
	for _, sn := range nodes {
		for _, l := range sn.links {
			cy := barY[l.bar]
			if l.up {
				cy += barH
			}
			fmt.Fprintf(bw, `<circle cx="%d" cy="%d" r="4" fill="#ffffff" stroke="#263238" stroke-width="2"/>`+"\n", l.x, cy)
		}
	}
	for _, sn := range nodes {
		stroke := "#455a64"
		if sn.State != "" && sn.State != "running" {
			stroke = "#c62828"
		}
		fmt.Fprintf(bw, `<g class="node"><title>node %s</title>`, esc(sn.Name))
		fmt.Fprintf(bw, `<rect x="%d" y="%d" width="%d" height="%d" rx="6" fill="#ffffff" stroke="%s" stroke-width="2"/>`, sn.x, sn.y, boxW, sn.h, stroke)
		fmt.Fprintf(bw, `<text x="%d" y="%d" font-size="14" font-weight="bold" fill="#263238">%s</text>`, sn.x+10, sn.y+17, esc(sn.Name))
		for i, f := range boxLines(sn.Node) {
			fmt.Fprintf(bw, `<text x="%d" y="%d" font-size="11" fill="#37474f">%s</text>`, sn.x+10, sn.y+nameH+factH*i+10, esc(f))
		}
		fmt.Fprintln(bw, `</g>`)
		labelX := 0
		for _, l := range sn.links {
			labelX = max(labelX, l.x+6)
		}
		for _, up := range []bool{true, false} {
			// Stack the labels beside the lines: downwards from the box for
			// lines going down, upwards from it for lines going up.
			at := sn.y + sn.h + labelGap + labelLine - 3
			if up {
				at = sn.y - labelGap - 3 - (labelsHeight(sn.links, true) - labelLine)
			}
			for _, l := range sn.links {
				if l.up != up || len(l.label) == 0 {
					continue
				}
				fmt.Fprintf(bw, `<text class="link" x="%d" y="%d" font-size="11" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" fill="#263238">`, labelX, at)
				for i, line := range l.label {
					dy := 0
					if i > 0 {
						dy = labelLine
					}
					fmt.Fprintf(bw, `<tspan x="%d" dy="%d">%s</tspan>`, labelX, dy, esc(line))
				}
				fmt.Fprintln(bw, `</text>`)
				at += labelLine*len(l.label) + 4
			}
		}
	}
	fmt.Fprintln(bw, `</svg>`)
	return bw.Flush()
}

// labelsHeight is the room the labels of a node's lines going up (or down)
// take, stacked.
func labelsHeight(ls []*svgLink, up bool) int {
	h := 0
	for _, l := range ls {
		if l.up == up && len(l.label) > 0 {
			if h > 0 {
				h += 4
			}
			h += labelLine * len(l.label)
		}
	}
	return h
}

// esc escapes text for XML character data and attribute values.
func esc(s string) string { return html.EscapeString(s) }
