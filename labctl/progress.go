package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"socketlab/labctl/lab"
)

// progress shows an Up or Down as it goes: on a terminal, one line per
// network and node, rewritten in place as each moves on (created, started,
// healthy); otherwise one plain line per event, for logs and CI.
type progress struct {
	w     io.Writer
	tty   bool
	quiet bool
	rows  []row
	drawn int // lines drawn last time (terminal)
}

type row struct {
	kind lab.Kind
	name string
	ev   lab.Event
}

func newProgress(w io.Writer, quiet bool) *progress {
	return &progress{w: w, tty: isTerminal(w), quiet: quiet}
}

// isTerminal tells whether w is a terminal that understands cursor movement.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) event(ev lab.Event) {
	if p.quiet {
		return
	}
	if !p.tty {
		fmt.Fprintln(p.w, plainLine(ev))
		return
	}
	i := 0
	for i < len(p.rows) && (p.rows[i].kind != ev.Kind || p.rows[i].name != ev.Name) {
		i++
	}
	if i == len(p.rows) {
		p.rows = append(p.rows, row{kind: ev.Kind, name: ev.Name})
	}
	if ev.Detail == "" {
		ev.Detail = p.rows[i].ev.Detail // keep the subnets or image
	}
	p.rows[i].ev = ev
	p.draw()
}

func (p *progress) draw() {
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	for _, r := range p.rows {
		b.WriteString("\x1b[2K")
		b.WriteString(ttyLine(r.ev))
		b.WriteByte('\n')
	}
	p.drawn = len(p.rows)
	io.WriteString(p.w, b.String())
}

// done ends the live display; a failure's reason is printed under it.
func (p *progress) done() {
	if !p.tty || p.quiet {
		return
	}
	for _, r := range p.rows {
		if r.ev.Err != nil {
			fmt.Fprintf(p.w, "  %s %s: %v\n", r.kind, r.name, r.ev.Err)
		}
	}
}

var marks = map[lab.Phase]string{
	lab.Preparing: "…",
	lab.Created:   "·",
	lab.Started:   "▸",
	lab.Healthy:   "✓",
	lab.Ready:     "✓",
	lab.Running:   "○",
	lab.Unchanged: "=",
	lab.Failed:    "✗",
	lab.Removed:   "-",
}

func ttyLine(ev lab.Event) string {
	return fmt.Sprintf("  %s %-7s %-12s %-9s %5.2fs  %s", marks[ev.Phase], ev.Kind, ev.Name, ev.Phase, ev.Elapsed.Seconds(), ev.Detail)
}

func plainLine(ev lab.Event) string {
	s := fmt.Sprintf("%6.2fs %s %s %s", ev.Elapsed.Seconds(), ev.Kind, ev.Name, ev.Phase)
	if ev.Detail != "" {
		s += " (" + ev.Detail + ")"
	}
	if ev.Err != nil {
		s += ": " + ev.Err.Error()
	}
	return s
}
