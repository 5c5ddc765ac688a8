// Package suite is `make bench`: it starts socketlab's servers and their
// references as processes on loopback, drives them with the load
// generators of package load, and reports every figure as the median, min
// and max of several runs next to the reference measured in the same run,
// as a table, as JSON and as benchstat input.
package suite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"socketlab/bench/load"
)

// Config says what to measure and how.
type Config struct {
	// Bin is the directory of the server binaries (make build's bin/).
	Bin string
	// Self is the bench binary: it also runs the naive reference servers
	// and the pinned UDP load, as separate processes.
	Self string
	// Runs is how many runs each figure is the median of; the slow
	// metrics (chat, memory) take at most 3.
	Runs int
	// Duration is the length of one run of a throughput load.
	Duration time.Duration
	// Only selects the metric groups whose name it matches; nil runs all.
	Only *regexp.Regexp
	// ProfileDir, when set, makes our servers write a CPU and an
	// allocation profile there (<group>-<server>.cpu.pprof, .mem.pprof).
	ProfileDir string
	// Iperf3 is the iperf3 command, the reference for the echo stream;
	// empty or not found: that row's reference is not measured.
	Iperf3 string
	// LookupRef is a directory holding the sockets tutorial's
	// app-server.py; when set, it is an extra reference for lookup.
	LookupRef string
	// Progress receives a line per run.
	Progress io.Writer
}

// Report is one run of the suite.
type Report struct {
	Commit     string     `json:"commit"`
	Date       time.Time  `json:"date"`
	Go         string     `json:"go"`
	Kernel     string     `json:"kernel"`
	CPU        string     `json:"cpu"`
	CPUs       int        `json:"cpus"`
	LoadBefore [3]float64 `json:"load_before"`
	LoadAfter  [3]float64 `json:"load_after"`
	Seconds    float64    `json:"seconds"`
	Runs       int        `json:"runs"`
	Duration   string     `json:"run_duration"`
	// Quiet is how much CPU other processes took during each group and
	// during the whole run (group "all").
	Quiet []Quiet `json:"quiet"`
	// Notes say how the figures were taken: server flags, pinning.
	Notes   []string `json:"notes"`
	Metrics []Metric `json:"metrics"`
}

// Metric is one row of the table.
type Metric struct {
	ID     string        `json:"id"`
	Name   string        `json:"name"`
	Unit   string        `json:"unit"`
	Better string        `json:"better"` // "higher" or "lower"
	Ours   *load.Summary `json:"ours,omitempty"`
	Ref    *Ref          `json:"ref,omitempty"`
	// Ratio is ours over the reference: the median of the per-round ratios.
	Ratio float64 `json:"ratio,omitempty"`
	Goal  *Goal   `json:"goal,omitempty"`
	// Pass is nil when there is no goal or nothing was measured.
	Pass *bool  `json:"pass,omitempty"`
	Note string `json:"note,omitempty"`
	// Skipped says why the metric was not measured.
	Skipped string `json:"skipped,omitempty"`
}

// Ref is the reference a metric is compared with.
type Ref struct {
	// Name is short, for the table; About says what it is.
	Name  string `json:"name"`
	About string `json:"about"`
	load.Summary
}

// Goal is what a metric must reach: Op (">=" or "<=") Value, applied to
// our median (On "ours") or to the ratio (On "ratio").
type Goal struct {
	On    string  `json:"on"`
	Op    string  `json:"op"`
	Value float64 `json:"value"`
}

func (g *Goal) check(m *Metric) {
	if g == nil || m.Ours == nil || m.Skipped != "" {
		return
	}
	v := m.Ours.Median
	if g.On == "ratio" {
		if m.Ref == nil {
			return
		}
		v = m.Ratio
	}
	ok := v >= g.Value
	if g.Op == "<=" {
		ok = v <= g.Value
	}
	m.Pass = &ok
}

// Run measures every selected group and returns the report. A group that
// fails is reported as skipped with its error; Run itself fails only when
// ctx ends.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Runs < 1 {
		cfg.Runs = 5
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 2 * time.Second
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	s := &suite{cfg: cfg}
	r := &Report{Date: time.Now().UTC(), Go: runtime.Version(), CPUs: runtime.NumCPU(),
		Runs: cfg.Runs, Duration: cfg.Duration.String(), Commit: gitCommit(), Kernel: kernel(), CPU: cpuModel()}
	r.LoadBefore = loadAvg()
	if r.LoadBefore[0] > 1.5 {
		fmt.Fprintf(cfg.Progress, "warning: load average %.2f: other work shares these CPUs, so the figures will be noisy\n", r.LoadBefore[0])
	}
	start := time.Now()
	first := sampleCPU()
	s.taskset, _ = exec.LookPath("taskset")
	for _, g := range groups {
		if cfg.Only != nil && !cfg.Only.MatchString(g.name) {
			continue
		}
		fmt.Fprintf(cfg.Progress, "== %s (load average %.2f)\n", g.name, loadAvg()[0])
		before := sampleCPU()
		ms, notes, err := g.run(ctx, s)
		q := quietBetween(g.name, before, sampleCPU())
		r.Quiet = append(r.Quiet, q)
		fmt.Fprintf(cfg.Progress, "   other processes used %.0f%% of a CPU meanwhile (steal %.0f%%)\n", q.Others, q.Steal)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			fmt.Fprintf(cfg.Progress, "   %s: %v\n", g.name, err)
			if len(ms) == 0 {
				ms = g.placeholders()
			}
			for i := range ms {
				if ms[i].Ours == nil && ms[i].Skipped == "" {
					ms[i].Skipped = err.Error()
				}
			}
		}
		for i := range ms {
			ms[i].Goal.check(&ms[i])
		}
		r.Metrics = append(r.Metrics, ms...)
		r.Notes = append(r.Notes, notes...)
	}
	r.LoadAfter = loadAvg()
	r.Seconds = time.Since(start).Seconds()
	r.Quiet = append(r.Quiet, quietBetween("all", first, sampleCPU()))
	return r, nil
}

type suite struct {
	cfg     Config
	taskset string
}

// group measures related metrics with the same servers.
type group struct {
	name string
	run  func(context.Context, *suite) ([]Metric, []string, error)
	// rows are the metrics the group reports, for the table when it fails early.
	rows []Metric
}

func (g group) placeholders() []Metric {
	out := make([]Metric, len(g.rows))
	copy(out, g.rows)
	return out
}

func (s *suite) progress(format string, args ...any) {
	fmt.Fprintf(s.cfg.Progress, "   "+format+"\n", args...)
}

// runs runs each of fs n times, interleaved and in alternating order
// (ABBA...), so that a change in the machine's load hits them alike, and
// returns each one's figures.
func (s *suite) runs(ctx context.Context, n int, what []string, fs ...func(context.Context) (float64, error)) ([][]float64, error) {
	out := make([][]float64, len(fs))
	for i := range n {
		for k := range fs {
			j := k
			if i%2 == 1 {
				j = len(fs) - 1 - k
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			v, err := fs[j](ctx)
			if err != nil {
				return nil, fmt.Errorf("%s, run %d: %w", what[j], i+1, err)
			}
			s.progress("run %d/%d %-24s %s", i+1, n, what[j], strconv.FormatFloat(v, 'g', 4, 64))
			out[j] = append(out[j], v)
		}
	}
	return out, nil
}

// ours starts our server svc on a free port of 127.0.0.1 with --quiet and
// the extra flags, and waits until ready.
func (s *suite) ours(ctx context.Context, group, svc string, udp bool, pin string, env []string, extra ...string) (*proc, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	argv := []string{filepath.Join(s.cfg.Bin, svc), "--quiet", "--listen", "127.0.0.1", "--port", strconv.Itoa(port)}
	if s.cfg.ProfileDir != "" {
		base := filepath.Join(s.cfg.ProfileDir, group+"-"+svc)
		argv = append(argv, "--cpuprofile", base+".cpu.pprof", "--memprofile", base+".mem.pprof")
	}
	argv = append(argv, extra...)
	ready := tcpReady(addr)
	if udp {
		ready = udpReady(addr)
	}
	p, err := startProc(ctx, svc, argv, env, s.pin(pin), ready)
	return p, addr, err
}

// naive starts the bench binary's naive reference server of the given style.
func (s *suite) naive(ctx context.Context, style string, udp bool, pin string, env []string) (*proc, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	ready := tcpReady(addr)
	if udp {
		ready = udpReady(addr)
	}
	p, err := startProc(ctx, "naive "+style, []string{s.cfg.Self, "serve-naive", "--style", style, "--addr", addr}, env, s.pin(pin), ready)
	return p, addr, err
}

func (s *suite) pin(cpus string) string {
	if s.taskset == "" {
		return ""
	}
	return cpus
}

func stopAll(ps ...*proc) error {
	var errs []error
	for _, p := range ps {
		if p != nil {
			errs = append(errs, p.stop())
		}
	}
	return errors.Join(errs...)
}

func loadAvg() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		l[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return l
}

func gitCommit() string {
	out, err := exec.Command("git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func kernel() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return runtime.GOARCH
}
