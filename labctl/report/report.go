// Package report writes a test run as one static, self-contained HTML page:
// per scenario its description, a picture of its lab, and a timeline of its
// steps with pass or fail, what was expected and what came back, each
// step's output and, when the run was captured, the packets of each step
// with a link to the capture file. The page needs nothing but itself (no
// network, no scripts; its CSS and pictures are inline), reads on a phone
// and prints.
package report

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"socketlab/labctl/check"
	"socketlab/labctl/graph"
	"socketlab/labctl/ladder"
)

// FileName is the name of the page Write writes in its directory.
const FileName = "report.html"

// Run is one test run: what to put on the page.
type Run struct {
	// Title heads the page, e.g. "labctl test scenarios/*.yaml".
	Title string
	// Started is when the run began; the zero time leaves it off.
	Started time.Time
	// Scenarios are the scenarios of the run, in the order they ran.
	Scenarios []Scenario
}

// Scenario is one scenario of a run.
type Scenario struct {
	// Report is what the steps gave (check.Run's result). Required.
	Report *check.Report
	// Description is the scenario's description; blank lines part paragraphs.
	Description string
	// Graph is the lab to draw; nil for none.
	Graph *graph.Graph
	// Capture is the capture file (pcapng) of the scenario, a name relative
	// to the report's directory; "" when the run was not captured.
	Capture string
	// Packets are the packets of each step, one line each: Packets[i]
	// belongs to Report.Results[i]. Nil when the run was not captured.
	Packets [][]string
}

// Write writes run as dir/report.html and returns the file's path. It
// writes a temporary file in dir and renames it, so the page is whole or
// not there: an earlier report stays until the new one is complete. dir is
// created when missing.
func Write(dir string, run *Run) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("report: directory %s: %w (give --report a directory you can write)", dir, err)
	}
	var page bytes.Buffer
	if err := Render(&page, dir, run); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, ".report-*.html")
	if err != nil {
		return "", fmt.Errorf("report: cannot write in %s: %w (give --report a directory you can write)", dir, err)
	}
	tmp := f.Name()
	_, err = f.Write(page.Bytes())
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	path := filepath.Join(dir, FileName)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("report: write %s: %w", path, err)
	}
	return path, nil
}

// Render writes run's page to w. dir is the directory the page will be
// in: a capture file is linked only when it is there.
func Render(w io.Writer, dir string, run *Run) error {
	p := page{Title: run.Title}
	if p.Title == "" {
		p.Title = "socketlab test report"
	}
	if !run.Started.IsZero() {
		p.Started = run.Started.Format("2006-01-02 15:04:05 MST")
	}
	for i, sc := range run.Scenarios {
		if sc.Report == nil {
			return fmt.Errorf("report: scenario %d has no report", i+1)
		}
		s, err := scenarioView(i, dir, sc)
		if err != nil {
			return err
		}
		p.Scenarios = append(p.Scenarios, s)
		p.Steps += len(s.Steps)
		for _, st := range s.Steps {
			if st.Outcome == check.Pass {
				p.Passed++
			}
		}
		if !s.Passed {
			p.FailedScenarios++
		}
	}
	p.Failed = p.Steps - p.Passed
	return pageTemplate.Execute(w, p)
}

// The page as the template sees it.
type (
	page struct {
		Title, Started                         string
		Scenarios                              []scenarioPart
		Steps, Passed, Failed, FailedScenarios int
	}
	scenarioPart struct {
		ID, Name, File, Setup string
		Paragraphs            [][]segment
		Graph                 template.HTML
		Passed                bool
		Seconds               float64
		Capture               string // linked file name, "" for none
		CaptureMissing        string // named but not in the directory
		Steps                 []stepPart
	}
	stepPart struct {
		*check.Result
		ID      string
		Where   string
		Packets []string
		// Ladders are the step's conversations drawn as SVG ladders.
		Ladders []template.HTML
		// MoreLadders counts the conversations past MaxLadders.
		MoreLadders int
		// Captured is whether packets were taken for the step (an empty
		// list then says none crossed the wire).
		Captured bool
	}
)

func scenarioView(i int, dir string, sc Scenario) (scenarioPart, error) {
	r := sc.Report
	s := scenarioPart{ID: fmt.Sprintf("s%d", i+1), Name: r.Scenario, File: r.File, Setup: r.Setup,
		Passed: r.Passed(), Seconds: r.Seconds}
	for _, para := range strings.Split(strings.TrimSpace(sc.Description), "\n\n") {
		if para = strings.TrimSpace(para); para != "" {
			s.Paragraphs = append(s.Paragraphs, segments(para))
		}
	}
	if sc.Graph != nil {
		var svg bytes.Buffer
		if err := graph.SVG(&svg, sc.Graph); err != nil {
			return s, fmt.Errorf("report: scenario %s: %w", r.Scenario, err)
		}
		// The SVG is labctl's own, every name in it escaped.
		s.Graph = template.HTML(svg.String())
	}
	if sc.Capture != "" {
		if err := inside(dir, sc.Capture); err != nil {
			return s, fmt.Errorf("report: scenario %s: capture %q: %w", r.Scenario, sc.Capture, err)
		}
		if _, err := os.Stat(filepath.Join(dir, sc.Capture)); err == nil {
			s.Capture = filepath.ToSlash(sc.Capture)
		} else {
			s.CaptureMissing = sc.Capture
		}
	}
	for j, res := range r.Results {
		st := stepPart{Result: res, ID: fmt.Sprintf("%s-%d", s.ID, j+1), Where: res.Node}
		if res.Target != "" {
			st.Where += " → " + res.Target
		}
		if sc.Packets != nil && j < len(sc.Packets) {
			st.Captured, st.Packets = true, sc.Packets[j]
			if err := st.ladders(res); err != nil {
				return s, fmt.Errorf("report: scenario %s: step %d: %w", r.Scenario, res.Index, err)
			}
		}
		s.Steps = append(s.Steps, st)
	}
	return s, nil
}

// MaxLadders is how many conversations of a step the page draws.
const MaxLadders = 6

// ladders draws the step's conversations (res.Ladder) as SVG.
func (st *stepPart) ladders(res *check.Result) error {
	if res.Ladder == nil {
		return nil
	}
	for i, c := range res.Ladder.Conversations {
		if i == MaxLadders {
			st.MoreLadders = len(res.Ladder.Conversations) - i
			break
		}
		var svg bytes.Buffer
		if err := ladder.WriteSVG(&svg, c); err != nil {
			return err
		}
		// The SVG is labctl's own, every text in it escaped.
		st.Ladders = append(st.Ladders, template.HTML(svg.String()))
	}
	return nil
}

// segment is a run of a description's text; Code is set for what the
// description quotes in backticks (a command to try).
type segment struct {
	Text string
	Code bool
}

// segments splits a paragraph at its backticks; the line breaks of the
// YAML source become spaces, so the text flows on any screen.
func segments(para string) []segment {
	var out []segment
	for i, part := range strings.Split(strings.Join(strings.Fields(para), " "), "`") {
		if part != "" {
			out = append(out, segment{Text: part, Code: i%2 == 1})
		}
	}
	return out
}

// inside accepts a file name that stays in the report's directory, so the
// page's link works wherever the directory is moved.
func inside(dir, name string) error {
	if filepath.IsAbs(name) || !filepath.IsLocal(name) {
		return errors.New("not a file name inside the report directory " + dir)
	}
	return nil
}

//go:embed report.html.tmpl
var pageSource string

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"upper":   strings.ToUpper,
	"seconds": func(s float64) string { return fmt.Sprintf("%.2fs", s) },
	"lines":   func(s string) []string { return strings.Split(s, "\n") },
}).Parse(pageSource))
