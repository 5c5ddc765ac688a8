package suite

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode"
)

// WriteTable writes the report as a markdown table, with the references
// and the notes under it.
func (r *Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "socketlab bench — %s, %s, %d CPUs, Linux %s, %s\n", r.Commit, r.CPU, r.CPUs, r.Kernel, r.Go)
	fmt.Fprintf(w, "load average %.2f before; %d runs per figure (3 for chat and memory, 2n-1 for ping-pong and round trips), %s per throughput run; took %.0f s\n",
		r.LoadBefore[0], r.Runs, r.Duration, r.Seconds)
	if n := len(r.Quiet); n > 0 {
		worst := r.Quiet[0]
		for _, q := range r.Quiet[:n-1] {
			if q.Others > worst.Others {
				worst = q
			}
		}
		fmt.Fprintf(w, "other processes used %.0f%% of one CPU on average during the run (most: %.0f%% during %s); hypervisor steal %.0f%%\n",
			r.Quiet[n-1].Others, worst.Others, worst.Group, r.Quiet[n-1].Steal)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| metric | ours: median (min–max) | reference: median (min–max) | ratio | goal | result |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	refs := map[string]string{}
	var refOrder []string
	for _, m := range r.Metrics {
		ours, ref, ratio := "—", "—", "—"
		if m.Ours != nil {
			ours = figure(m.Ours.Median, m.Ours.Min, m.Ours.Max, m.Unit)
		}
		if m.Ref != nil {
			ref = m.Ref.Name + ": " + figure(m.Ref.Median, m.Ref.Min, m.Ref.Max, m.Unit)
			ratio = fmt.Sprintf("%.2f×", m.Ratio)
			if _, ok := refs[m.Ref.Name]; !ok {
				refs[m.Ref.Name] = m.Ref.About
				refOrder = append(refOrder, m.Ref.Name)
			}
		}
		result := "—"
		switch {
		case m.Skipped != "":
			result = "not measured"
		case m.Pass != nil && *m.Pass:
			result = "pass"
		case m.Pass != nil:
			result = "**MISS**"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", m.Name, ours, ref, ratio, goalText(m), result)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "- ratio: ours over the reference, the median of the ratios of each round (the two run back to back)")
	for _, name := range refOrder {
		fmt.Fprintf(w, "- %s: %s\n", name, refs[name])
	}
	for _, m := range r.Metrics {
		if m.Skipped != "" {
			fmt.Fprintf(w, "- %s not measured: %s\n", m.ID, m.Skipped)
		} else if m.Note != "" {
			fmt.Fprintf(w, "- %s: %s\n", m.ID, m.Note)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
}

func goalText(m Metric) string {
	g := m.Goal
	if g == nil {
		return "—"
	}
	op := map[string]string{">=": "≥", "<=": "≤"}[g.Op]
	if g.On == "ratio" {
		return fmt.Sprintf("%s %g×", op, g.Value)
	}
	return op + " " + trim(number(g.Value, m.Unit)) + " " + m.Unit
}

func figure(med, lo, hi float64, unit string) string {
	return fmt.Sprintf("%s %s (%s–%s)", number(med, unit), unit, number(lo, unit), number(hi, unit))
}

// number prints rates with k and M, everything else with 3 significant digits.
func number(v float64, unit string) string {
	if strings.HasSuffix(unit, "/s") && !strings.HasPrefix(unit, "Gbit") {
		switch {
		case math.Abs(v) >= 1e6:
			return trim(strconv.FormatFloat(v/1e6, 'f', 2, 64)) + "M"
		case math.Abs(v) >= 1e3:
			return trim(strconv.FormatFloat(v/1e3, 'f', 1, 64)) + "k"
		}
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	switch {
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// trim drops a fraction of zeros: 300.0 → 300, 1.00 → 1.
func trim(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	return s
}

// WriteJSON writes the report as indented JSON to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	return nil
}

// WriteBenchfmt writes every run of every figure in the Go benchmark
// format, one line per run, so that `benchstat old.txt new.txt` compares
// two commits.
func (r *Report) WriteBenchfmt(w io.Writer) {
	fmt.Fprintf(w, "goos: linux\ngoarch: amd64\npkg: socketlab/bench\ncpu: %s\ncommit: %s\n", r.CPU, r.Commit)
	unit := func(u string) string {
		return strings.NewReplacer("µs", "us", " ", "-").Replace(u)
	}
	for _, m := range r.Metrics {
		name := benchName(m.ID)
		if m.Ours != nil {
			for _, v := range m.Ours.Runs {
				fmt.Fprintf(w, "%s/ours 1 %g %s\n", name, v, unit(m.Unit))
			}
		}
		if m.Ref != nil {
			for _, v := range m.Ref.Runs {
				fmt.Fprintf(w, "%s/ref 1 %g %s\n", name, v, unit(m.Unit))
			}
		}
	}
}

func benchName(id string) string {
	r := []rune(id)
	r[0] = unicode.ToUpper(r[0])
	return "Benchmark" + string(r)
}

// ReadJSON reads a report written by WriteJSON.
func ReadJSON(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("results: %s: %w", path, err)
	}
	return &r, nil
}

// Compare writes, for every metric in both reports, the medians and the
// change from old to new, marked better or worse when the two runs'
// min–max ranges do not overlap and the medians differ by 5% or more.
func Compare(w io.Writer, old, cur *Report) {
	fmt.Fprintf(w, "%s (%s) → %s (%s)\n\n", old.Commit, old.Date.Format("2006-01-02 15:04"), cur.Commit, cur.Date.Format("2006-01-02 15:04"))
	fmt.Fprintln(w, "| metric | old | new | change | |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	prev := map[string]Metric{}
	for _, m := range old.Metrics {
		prev[m.ID] = m
	}
	for _, m := range cur.Metrics {
		o, ok := prev[m.ID]
		if !ok || o.Ours == nil || m.Ours == nil || o.Ours.Median == 0 {
			continue
		}
		ch := m.Ours.Median/o.Ours.Median - 1
		verdict := "~"
		if (m.Ours.Min > o.Ours.Max || m.Ours.Max < o.Ours.Min) && math.Abs(ch) >= 0.05 {
			if (ch > 0) == (m.Better == "higher") {
				verdict = "better"
			} else {
				verdict = "worse"
			}
		}
		fmt.Fprintf(w, "| %s | %s %s | %s %s | %+.1f%% | %s |\n", m.Name, number(o.Ours.Median, m.Unit), m.Unit,
			number(m.Ours.Median, m.Unit), m.Unit, 100*ch, verdict)
	}
}
