package check

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable prints reports as a table a person reads: step, node → target,
// family, result, time, and under a failed step what was expected and what
// came back.
func WriteTable(w io.Writer, reports []*Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	total, failed := 0, 0
	for _, r := range reports {
		fmt.Fprintf(tw, "%s\t\t\t\t\n", r.Scenario)
		if r.Capture != "" {
			fmt.Fprintf(tw, "  capture: %s\t\t\t\t\n", r.Capture)
		}
		if r.Setup != "" {
			fmt.Fprintf(tw, "  lab\t\t\tERROR\t\t\n      %s\n", r.Setup)
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
			for _, line := range strings.Split(s.Did, "\n") {
				if line != "" {
					fmt.Fprintf(tw, "      %s\t\t\t\t\n", line)
				}
			}
			if s.Outcome != Pass {
				failed++
				if s.Expected != "" {
					fmt.Fprintf(tw, "      expected: %s\t\t\t\t\n", s.Expected)
				}
				if s.Got != "" {
					fmt.Fprintf(tw, "      got:      %s\t\t\t\t\n", s.Got)
				}
				if s.Message != "" {
					fmt.Fprintf(tw, "      %s\t\t\t\t\n", s.Message)
				}
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d passed, %d failed\n", total-failed, failed)
	return err
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
