package scenario

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"socketlab/internal/spelling"
)

// Error is one problem in a scenario: where it is, what is wrong and, when
// there is one, a hint at the fix. Its text reads
//
//	default.yaml:12:7: nodes.alice.networks[1]: network "bak" is not defined (did you mean "back"?)
type Error struct {
	// File is the scenario's file name as given to Parse or Load.
	File string
	// Line and Column locate the problem, from 1; 0 when unknown (a
	// scenario built in code, or a YAML syntax error without a column).
	Line, Column int
	// Path names the element, e.g. nodes.alice.networks[1]; "" for the
	// whole file.
	Path string
	// Reason says what is wrong.
	Reason string
	// Hint suggests a fix, e.g. `did you mean "back"?`; may be "".
	Hint string
}

// Error formats e as file:line:column: path: reason (hint), leaving out
// what is unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteByte(':')
		if e.Column > 0 {
			b.WriteString(strconv.Itoa(e.Column))
			b.WriteByte(':')
		}
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteByte(')')
	}
	return b.String()
}

// Errors is every problem found in a scenario, in file order. Parse, Load
// and Validate return it (never empty) when a scenario is invalid; use
// errors.As to get it back and print one error per line.
type Errors []*Error

// Error is every error's text, one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sort orders es by position; errors at the same place (or without one)
// keep the order they were found in.
func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Column < es[j].Column
	})
}

// maxRepeats is how many paths collapse keeps the errors of, at one place.
const maxRepeats = 3

// collapse shortens the errors of one value that aliases repeat: errors at
// one place in the file under more than maxRepeats paths (the value of an
// anchor, reached through each alias of it) are kept for the first paths,
// and one more error says how many are left out. es is sorted.
func (es Errors) collapse() Errors {
	var out Errors
	for i := 0; i < len(es); {
		j := i
		for j < len(es) && es[j].Line == es[i].Line && es[j].Column == es[i].Column {
			j++
		}
		group := es[i:j]
		i = j
		paths := map[string]int{} // path → order of first appearance
		for _, e := range group {
			if _, ok := paths[e.Path]; !ok {
				paths[e.Path] = len(paths)
			}
		}
		if group[0].Line == 0 || len(paths) <= maxRepeats {
			out = append(out, group...)
			continue
		}
		left := 0
		for _, e := range group {
			if paths[e.Path] < maxRepeats {
				out = append(out, e)
			} else {
				left++
			}
		}
		out = append(out, &Error{File: group[0].File, Line: group[0].Line, Column: group[0].Column,
			Reason: fmt.Sprintf("and %d more like these, at %d more places where aliases repeat this value", left, len(paths)-maxRepeats),
			Hint:   "fix it here, once"})
	}
	return out
}

// position is where an element is written in a file.
type position struct{ line, column int }

// source is what decoding learnt about a scenario's file, for validation's
// messages. Paths name elements as errors do: nodes.alice.networks[1].
type source struct {
	pos   map[string]position // where each element is written
	empty map[string]bool     // keys written without a value (left out, in effect)
	bad   map[string]bool     // values that did not decode, already reported
	raw   map[string]rawValue // typed values as written (subnets, addresses, sizes)
}

func newSource() *source {
	return &source{pos: map[string]position{}, empty: map[string]bool{}, bad: map[string]bool{}, raw: map[string]rawValue{}}
}

// rawValue is a typed value as written in the file, and why it did not
// parse (nil if it did).
type rawValue struct {
	text string
	err  error
}

// didYouMean suggests the candidate closest to word, if one is close enough
// to be a likely typo; "" otherwise.
// A word with a letter of another script that looks like an ASCII one
// (wеlcome with a Cyrillic е) is told so: it looks right, and the hint
// alone would not say what differs.
func didYouMean(word string, candidates []string) string {
	best := closest(word, candidates)
	na := nonASCII(word)
	if fixed := lookalikes.Replace(word); na != "" && slices.Contains(candidates, fixed) {
		best = fixed
	}
	switch {
	case best == "":
		return ""
	case na != "":
		return fmt.Sprintf("%s: did you mean %q?", na, best)
	}
	return fmt.Sprintf("did you mean %q?", best)
}

// closest returns the candidate closest to word by edit distance (ignoring
// case), or "" if none is within the typo distance for word's length.
func closest(word string, candidates []string) string {
	w := strings.ToLower(word)
	best, bestD := "", 0
	for _, c := range candidates {
		if c == word {
			continue
		}
		d := spelling.Distance(w, strings.ToLower(c))
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	limit := 1
	switch n := len([]rune(word)); {
	case n >= 9:
		limit = 3
	case n >= 5:
		limit = 2
	case n <= 2:
		limit = 0
	}
	if best == "" || bestD > limit {
		return ""
	}
	return best
}

// quoteList formats words as "a", "b" or "c".
func quoteList(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = strconv.Quote(w)
	}
	switch len(q) {
	case 0:
		return ""
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// valueError is why one value in a scenario (a duration, a files entry, an
// expect.wire value) does not parse, and a hint on what to write instead;
// the validator reports it at the value's place as an Error.
type valueError struct{ reason, hint string }

func (e *valueError) Error() string { return e.reason }
