package check

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable prints reports as a table a person reads: step, node → target,
// family, result, time, and under a failed step what was expected and what
// came back, with the last lines of an exec step's standard error.
func WriteTable(w io.Writer, reports []*Report) error {
	// Only the step rows are columns: a long got or a traceback under one
	// step must not widen every row, so the lines under a step are kept
	// aside and put back between the aligned rows.
	var rows bytes.Buffer
	tw := tabwriter.NewWriter(&rows, 0, 4, 2, ' ', 0)
	var lines []string // "" where the next aligned row goes
	plain := func(format string, a ...any) { lines = append(lines, fmt.Sprintf(format, a...)) }
	total, failed := 0, 0
	for _, r := range reports {
		plain("%s", r.Scenario)
		if r.Capture != "" {
			plain("  capture: %s", r.Capture)
		}
		if r.Setup != "" {
			plain("  lab  ERROR")
			for _, l := range strings.Split(strings.TrimRight(r.Setup, "\n"), "\n") {
				plain("      %s", l)
			}
		}
		for _, s := range r.Results {
			total++
			where := s.Node
			if s.Target != "" {
				where += " → " + s.Target
			}
			fam := s.Family
			if fam == "" {
				fam = "-"
			}
			fmt.Fprintf(tw, "  %d. %s\t%s\t%s\t%s\t%.2fs\n", s.Index, s.Name, where, fam, strings.ToUpper(s.Outcome), s.Seconds)
			lines = append(lines, "")
			for _, line := range strings.Split(s.Did, "\n") {
				if line != "" {
					plain("      %s", line)
				}
			}
			if s.Outcome == Pass {
				continue
			}
			failed++
			if s.Expected != "" {
				plain("      expected: %s", s.Expected)
			}
			if s.Got != "" {
				plain("      got:      %s", s.Got)
			}
			if s.Message != "" {
				plain("      %s", s.Message)
			}
			if s.Stderr != "" {
				tail, before := lastLines(s.Stderr, tableLines)
				if before > 0 {
					plain("      stderr (its last %d lines of %d):", len(tail), before+len(tail))
				} else {
					plain("      stderr:")
				}
				for _, l := range tail {
					plain("        %s", l)
				}
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	aligned := strings.Split(rows.String(), "\n")
	var b strings.Builder
	for _, l := range lines {
		if l == "" {
			l, aligned = aligned[0], aligned[1:]
		}
		b.WriteString(strings.TrimRight(l, " "))
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "%d passed, %d failed\n", total-failed, failed)
	_, err := io.WriteString(w, b.String())
	return err
}

// tableLines is how many of a failed exec step's last stderr lines the table shows.
const tableLines = 8

// lastLines returns the last n lines of s (trailing empty lines dropped) and
// how many lines came before them.
func lastLines(s string, n int) (tail []string, before int) {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) <= n {
		return lines, 0
	}
	return lines[len(lines)-n:], len(lines) - n
}

// WriteJSON prints reports as one JSON document (a Document).
func WriteJSON(w io.Writer, reports []*Report) error {
	return (&Document{Scenarios: reports}).Encode(w)
}

// Document is a test run as JSON: the report of each scenario and the
// files the run wrote besides.
type Document struct {
	Scenarios []*Report `json:"scenarios"`
	// HTMLReport is the path of the run's HTML page (labctl test
	// --report), "" when none was written.
	HTMLReport string `json:"html_report,omitempty"`
}

// Encode writes d as one indented JSON document.
func (d *Document) Encode(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// WriteJUnit writes reports as JUnit XML: one test suite per scenario and one
// test case per step, which CI systems display.
func WriteJUnit(w io.Writer, reports []*Report) error {
	type failure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Time      string   `xml:"time,attr"`
		Failure   *failure `xml:"failure,omitempty"`
		Error     *failure `xml:"error,omitempty"`
		// SystemOut names the capture file as an attachment, as GitLab
		// and Jenkins read it: [[ATTACHMENT|path]].
		SystemOut string `xml:"system-out,omitempty"`
	}
	type suite struct {
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Errors   int        `xml:"errors,attr"`
		Time     string     `xml:"time,attr"`
		File     string     `xml:"file,attr,omitempty"`
		Cases    []testcase `xml:"testcase"`
	}
	// The root carries the totals too: some CI systems read only it.
	type suites struct {
		XMLName  xml.Name `xml:"testsuites"`
		Name     string   `xml:"name,attr"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Errors   int      `xml:"errors,attr"`
		Time     string   `xml:"time,attr"`
		Suites   []suite  `xml:"testsuite"`
	}
	doc := suites{Name: "labctl test"}
	var seconds float64
	for _, r := range reports {
		_, f, e := r.Counts()
		s := suite{Name: r.Scenario, Tests: len(r.Results), Failures: f, Errors: e,
			Time: fmt.Sprintf("%.3f", r.Seconds), File: r.File}
		if r.Setup != "" {
			s.Errors++
			s.Tests++
			s.Cases = append(s.Cases, testcase{Name: "lab up", Classname: r.Scenario, Time: "0",
				Error: &failure{Message: r.Setup, Type: "setup", Text: r.Setup}})
		}
		for _, st := range r.Results {
			name := fmt.Sprintf("%d. %s", st.Index, st.Name)
			if st.Family != "" {
				name += " [" + st.Family + "]"
			}
			tc := testcase{Name: name, Classname: r.Scenario, Time: fmt.Sprintf("%.3f", st.Seconds)}
			if r.Capture != "" {
				tc.SystemOut = "[[ATTACHMENT|" + r.Capture + "]]"
			}
			text := fmt.Sprintf("expected: %s\ngot: %s\n%s", st.Expected, st.Got, st.Message)
			switch st.Outcome {
			case Fail:
				tc.Failure = &failure{Message: "expected " + st.Expected, Type: "expectation", Text: text}
			case Error:
				tc.Error = &failure{Message: st.Message, Type: "error", Text: text}
			}
			s.Cases = append(s.Cases, tc)
		}
		doc.Suites = append(doc.Suites, s)
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		seconds += r.Seconds
	}
	doc.Time = fmt.Sprintf("%.3f", seconds)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
