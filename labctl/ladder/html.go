package ladder

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes l as indented JSON: every conversation, arrow and state
// change, for machines.
func WriteJSON(w io.Writer, l *Ladder) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(l); err != nil {
		return fmt.Errorf("ladder: write JSON: %w", err)
	}
	return nil
}

// WriteHTML writes l as one self-contained page: a ladder (SVG) per
// conversation, no scripts, no network; it reads on a phone and prints.
func WriteHTML(w io.Writer, l *Ladder, title string) error {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="labctl ladder">
<title>` + esc(title) + `</title>
<style>
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #263238; background: #f5f7f8; }
main { max-width: 64rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.4rem; }
figure.ladder { margin: 1rem 0; background: #fff; border: 1px solid #cfd8dc; border-radius: .4rem; padding: .5rem; }
figure.ladder svg { width: 100%; max-width: 40rem; height: auto; display: block; }
.gaps { background: #ffebee; border: 1px solid #b71c1c; padding: .5rem; border-radius: .3rem; }
@media print { body { background: #fff; } figure.ladder { break-inside: avoid; border-color: #999; } }
</style>
</head>
<body>
<main>
<h1>` + esc(title) + `</h1>
`)
	fmt.Fprintf(&b, "<p>%d conversations in %d frames (%d packets drawn; a packet seen at two places is drawn once).</p>\n", len(l.Conversations), l.Frames, l.Drawn)
	if len(l.Gaps) > 0 {
		b.WriteString(`<p class="gaps">The capture is incomplete: `)
		for i, g := range l.Gaps {
			if i > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "the kernel dropped %d packets at %s between %s and %s", g.Dropped, esc(g.Where), g.From.Format("15:04:05.000"), g.To.Format("15:04:05.000"))
		}
		b.WriteString(". Packets missing there may have crossed the wire; none is drawn as lost.</p>\n")
	}
	for _, c := range l.Conversations {
		b.WriteString(`<figure class="ladder">`)
		if err := WriteSVG(&b, c); err != nil {
			return err
		}
		b.WriteString("</figure>\n")
	}
	if l.MoreConversations > 0 {
		fmt.Fprintf(&b, "<p>%d more conversations not drawn.</p>\n", l.MoreConversations)
	}
	b.WriteString("</main>\n</body>\n</html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
