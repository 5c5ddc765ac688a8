package check

import (
	"fmt"
	"io"
	"strings"
)

// Learn-mode limits: how much of a step's output WriteStep shows.
const (
	learnLines = 6
	learnWidth = 120
)

// WriteIntro writes a scenario's name and its description, indented, for
// learn mode (labctl test -v), before its steps run.
func WriteIntro(w io.Writer, name, description string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "== %s\n", name)
	for _, line := range strings.Split(strings.TrimRight(description, "\n"), "\n") {
		if line == "" {
			b.WriteString("\n")
			continue
		}
		fmt.Fprintf(&b, "   %s\n", line)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteStep writes one step's result for learn mode: what ran (the client
// command and its node, or the action), what came back (its output, cut to
// a few lines) or what the action did to the lab, and why it passed, failed
// or could not run.
func WriteStep(w io.Writer, r *Result) error {
	var b strings.Builder
	fam := ""
	if r.Family != "" {
		fam = " [" + r.Family + "]"
	}
	fmt.Fprintf(&b, "%3d. %s%s: %s in %.2fs\n", r.Index, r.Name, fam, strings.ToUpper(r.Outcome), r.Seconds)
	switch {
	case r.Command != "":
		fmt.Fprintf(&b, "     ran:       %s   (in %s)\n", r.Command, r.Node)
	case r.Action != "":
		fmt.Fprintf(&b, "     did:       %s\n", r.Name)
		if r.Explain != "" {
			fmt.Fprintf(&b, "     effect:    %s\n", r.Explain)
		}
	}
	if out := learnOutput(r.Output); out != "" {
		fmt.Fprintf(&b, "     came back: %s\n", out)
	} else if r.Command != "" {
		b.WriteString("     came back: (nothing)\n")
	}
	if r.Stderr != "" {
		// The end of standard error: where a traceback names the exception.
		tail, before := lastLines(r.Stderr, learnLines)
		if before > 0 {
			tail = append([]string{fmt.Sprintf("… (%d lines before)", before)}, tail...)
		}
		for i, l := range tail {
			tail[i] = cutLine(l)
		}
		fmt.Fprintf(&b, "     stderr:    %s\n", strings.Join(tail, "\n                "))
	}
	switch r.Outcome {
	case Pass:
		if r.Expected != "" {
			fmt.Fprintf(&b, "     passed:    expected %s; got %s\n", r.Expected, cutLine(r.Got))
		} else {
			b.WriteString("     passed:    the action succeeded\n")
		}
	case Fail:
		fmt.Fprintf(&b, "     failed:    expected %s; got %s\n", r.Expected, cutLine(r.Got))
	default:
		fmt.Fprintf(&b, "     error:     %s\n", r.Message)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// learnOutput is output cut to learnLines lines of learnWidth runes, the
// lines after the first indented under it.
func learnOutput(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) == 1 && strings.TrimSpace(lines[0]) == "" {
		return ""
	}
	more := 0
	if len(lines) > learnLines {
		more = len(lines) - learnLines
		lines = lines[:learnLines]
	}
	for i, l := range lines {
		lines[i] = cutLine(l)
	}
	out := strings.Join(lines, "\n                ")
	if more > 0 {
		out += fmt.Sprintf("\n                … (%d more lines)", more)
	}
	return out
}

// cutLine cuts s to learnWidth runes.
func cutLine(s string) string {
	if r := []rune(s); len(r) > learnWidth {
		return string(r[:learnWidth]) + "…"
	}
	return s
}
