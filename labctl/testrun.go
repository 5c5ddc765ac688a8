package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"socketlab/labctl/check"
	"socketlab/labctl/graph"
	"socketlab/labctl/lab"
	"socketlab/labctl/ladder"
	"socketlab/labctl/report"
	"socketlab/labctl/scenario"
)

// testRun is one labctl test run: how it names its labs, what it shows of
// them and how many it runs at once.
type testRun struct {
	// name is the lab's name given by --name (one file only); "" names each
	// lab after its scenario with a random suffix, unique to the run.
	name string
	// keep leaves each lab up after its steps.
	keep bool
	// quiet shows nothing but the report; verbose (learn mode) shows each
	// scenario's description and what every step ran, got and why it passed.
	quiet, verbose bool
	// jobs is how many scenarios run side by side.
	jobs int
	// graphs draws each lab as it came up, for the HTML report.
	graphs bool
	// log is where progress goes (stderr).
	log io.Writer
	// captureDir, when set, keeps a pcapng per scenario there (scenarios
	// with wire checks are captured anyway).
	captureDir string
	// opts are passed to every up (pulling, host paths).
	opts []lab.UpOption
	// wireOnly captures only the nodes of the steps that check the wire
	// and lists a step's packets only when it checks the wire (see
	// check.WireOnly): no --report nor --capture reads the others.
	wireOnly bool
	// prepare, when set, runs once a lab is up, before its steps (labctl
	// check finds the port the learner's program listens on); an error is
	// the scenario's setup error and no step runs.
	prepare func(ctx context.Context, l *lab.Lab, sc *scenario.Scenario) error
	// after, when set, runs once the steps are done, before the lab goes
	// down (labctl check keeps what a program that died printed).
	after func(ctx context.Context, l *lab.Lab, sc *scenario.Scenario)

	mu sync.Mutex // log, when scenarios run side by side
}

// ran is what one scenario of a run gave.
type ran struct {
	sc  *scenario.Scenario
	rep *check.Report
	// graph is the lab as it came up, live addresses and all (as its file
	// describes it when it did not come up); nil unless testRun.graphs.
	graph *graph.Graph
	// took is the whole run: up, steps, down.
	took time.Duration
}

// runAll runs scs, r.jobs at a time, and returns what each gave in the
// order of scs. When ctx ends, no further scenario starts (those are left
// out), and the running ones stop and take their labs down.
//
// One at a time, each scenario's lines stream as they come (on a terminal,
// with a live view of the lab coming up). Side by side, each scenario's
// lines are held and printed together when it ends, so they never
// interleave; two scenarios that fix the same subnets never run at once.
func (r *testRun) runAll(ctx context.Context, scs []*scenario.Scenario) []*ran {
	out := make([]*ran, len(scs))
	if r.jobs <= 1 || len(scs) == 1 {
		for i, sc := range scs {
			if ctx.Err() != nil {
				break
			}
			out[i] = r.one(ctx, sc, r.log, true)
		}
		return compact(out)
	}
	if !r.quiet {
		fmt.Fprintf(r.log, "== %d scenarios, %d at a time; each one's lines follow when it ends\n", len(scs), min(r.jobs, len(scs)))
	}
	slots := make(chan struct{}, r.jobs)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ended   = sync.NewCond(&mu)
		running = map[int]bool{}
	)
	for pending := longestFirst(scs); len(pending) > 0; {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		// Two scenarios that fix the same subnets cannot be up at once:
		// start the first pending one that fixes none a running one holds.
		mu.Lock()
		k := startable(scs, pending, running)
		for k < 0 {
			ended.Wait()
			k = startable(scs, pending, running)
		}
		i := pending[k]
		pending = slices.Delete(pending, k, k+1)
		running[i] = true
		mu.Unlock()
		wg.Go(func() {
			defer func() { <-slots }()
			var buf bytes.Buffer
			out[i] = r.one(ctx, scs[i], &buf, false)
			r.mu.Lock()
			r.log.Write(buf.Bytes())
			r.mu.Unlock()
			mu.Lock()
			delete(running, i)
			ended.Broadcast()
			mu.Unlock()
		})
	}
	wg.Wait()
	return compact(out)
}

// startable is the position in pending of the first scenario whose fixed
// subnets overlap none of the running scenarios', or -1.
func startable(scs []*scenario.Scenario, pending []int, running map[int]bool) int {
next:
	for k, i := range pending {
		for j := range running {
			if sharesSubnet(scs[i], scs[j]) {
				continue next
			}
		}
		return k
	}
	return -1
}

// sharesSubnet tells whether a and b fix overlapping subnets.
func sharesSubnet(a, b *scenario.Scenario) bool {
	for _, p := range fixedSubnets(a) {
		for _, q := range fixedSubnets(b) {
			if p.Overlaps(q) {
				return true
			}
		}
	}
	return false
}

func fixedSubnets(sc *scenario.Scenario) []netip.Prefix {
	var ps []netip.Prefix
	for _, n := range sc.Networks {
		for _, p := range []netip.Prefix{n.IPv4, n.IPv6} {
			if p.IsValid() {
				ps = append(ps, p)
			}
		}
	}
	return ps
}

// longestFirst is the order in which to start scs side by side: the
// scenario expected to take longest first, so that no long one starts last
// while the other slots sit idle. A scenario's time is mostly waiting:
// nodes coming up, sleeps, and steps that expect a timeout or an
// unreachable host and wait it out: what each step's kind says it costs.
func longestFirst(scs []*scenario.Scenario) []int {
	order := make([]int, len(scs))
	cost := make([]time.Duration, len(scs))
	for i, sc := range scs {
		order[i] = i
		cost[i] = time.Duration(len(sc.Nodes)) * time.Second / 2
		for _, st := range sc.Steps {
			if st.Kind != nil {
				cost[i] += st.Kind.Cost(st)
			}
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(cost[b], cost[a]) })
	return order
}

func compact(rs []*ran) []*ran {
	var out []*ran
	for _, r := range rs {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// one brings sc up under a name of its own, runs its steps and takes it
// down (unless keep), writing its lines to w; live shows the lab coming up
// as it goes. The lab must not be up already: its steps may stop nodes and
// split networks, so test never borrows a lab.
func (r *testRun) one(ctx context.Context, sc *scenario.Scenario, w io.Writer, live bool) *ran {
	res := &ran{sc: sc, rep: &check.Report{Scenario: sc.Name, File: sc.File}}
	defer func(began time.Time) { res.took = time.Since(began) }(time.Now())
	if r.graphs {
		res.graph = graph.FromScenario(sc)
	}
	say := func(format string, a ...any) {
		if !r.quiet {
			fmt.Fprintf(w, format+"\n", a...)
		}
	}
	labName := r.labName(sc)
	if up, err := listLabs(ctx); err != nil {
		res.rep.Setup = err.Error()
		return res
	} else {
		for _, s := range up {
			if s.Name == labName {
				res.rep.Setup = fmt.Sprintf("lab %s is already up: take it down first (%s down %s), or pass --name", labName, prog, labName)
				say("== %s: %s", sc.Name, res.rep.Setup)
				return res
			}
		}
	}
	if r.verbose {
		check.WriteIntro(w, sc.Name, sc.Description)
	}
	say("== %s: up as lab %s", sc.File, labName)
	began := time.Now()
	var events func(lab.Event)
	var p *progress
	if live {
		p = newProgress(w, r.quiet)
		events = p.event
	}
	l, err := upLab(ctx, sc, append([]lab.UpOption{lab.WithName(labName), lab.WithProgress(events)}, r.opts...)...)
	if p != nil {
		p.done()
	}
	if err != nil {
		res.rep.Setup = fmt.Sprintf("up %s: %v", labName, err)
		say("== %s: %s", sc.Name, res.rep.Setup)
		return res
	}
	if r.graphs {
		if st, err := l.Status(ctx); err == nil {
			res.graph = graph.FromStatus(st, sc)
		}
	}
	say("== %s: up in %.1fs; %d steps", sc.Name, time.Since(began).Seconds(), len(sc.Steps))
	if r.prepare != nil {
		if err := r.prepare(ctx, l, sc); err != nil {
			res.rep.Setup = err.Error()
			say("== %s: %s", sc.Name, res.rep.Setup)
			r.down(ctx, labName, res.rep, say)
			return res
		}
	}
	var cl check.Lab = l
	cp, capErr := startTestCapture(ctx, l, sc, r.captureDir, r.wireOnly)
	if cp != nil {
		cl = cp
		if r.wireOnly {
			cl = check.WireOnly{RecordedLab: cp}
		}
	}
	rep := check.Run(ctx, cl, sc, func(s *check.Result) {
		if r.verbose {
			check.WriteStep(w, s)
			writeStepLadder(w, s)
			return
		}
		fam := ""
		if s.Family != "" {
			fam = " [" + s.Family + "]"
		}
		say("   %-5s %d. %s%s (%.2fs)", s.Outcome, s.Index, s.Name, fam, s.Seconds)
	})
	cp.finish(ctx, rep, say)
	if r.after != nil {
		r.after(ctx, l, sc)
	}
	if capErr != nil && rep.Setup == "" {
		rep.Setup = capErr.Error()
	}
	if r.name != "" {
		rep.Scenario = r.name // --name labels the report
	}
	res.rep = rep
	if r.keep {
		say("== %s: kept up: %s status %s; %s down %s when done", sc.Name, prog, labName, prog, labName)
		return res
	}
	r.down(ctx, labName, rep, say)
	return res
}

// down takes the lab down (unless keep), also when ctx has ended, and
// notes a failure in rep.
func (r *testRun) down(ctx context.Context, labName string, rep *check.Report, say func(string, ...any)) {
	if r.keep {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if err := downLab(dctx, labName); err != nil && !errors.Is(err, lab.ErrNoLab) && rep.Setup == "" {
		rep.Setup = fmt.Sprintf("down %s: %v", labName, err)
	}
	if ctx.Err() != nil {
		say("== %s: interrupted; lab %s taken down", rep.Scenario, labName)
	}
}

// writeStepLadder draws a step that did not pass as it crossed the wire:
// its conversations as text ladders, when the run was captured.
func writeStepLadder(w io.Writer, s *check.Result) {
	if s.Outcome == check.Pass || s.Ladder == nil || len(s.Ladder.Conversations) == 0 {
		return
	}
	fmt.Fprintln(w, "     on the wire:")
	_ = ladder.WriteText(w, s.Ladder)
}

// suffixLen is what labName adds to a scenario's name: a dash and four hex
// digits.
const suffixLen = 5

// labName is the name of sc's lab in this run: --name, or the scenario's
// name with a random suffix, so that scenarios of one run, and runs of the
// same scenario by other people on a shared engine, never meet.
func (r *testRun) labName(sc *scenario.Scenario) string {
	if r.name != "" {
		return r.name
	}
	var b [2]byte
	rand.Read(b[:])
	base := sc.Name
	if room := maxLabName - suffixLen; len(base) > room {
		base = strings.TrimRight(base[:room], "-")
	}
	return base + "-" + hex.EncodeToString(b[:])
}

// maxLabName is the longest lab name the engine takes (scenario.CheckLabName).
const maxLabName = 48

// checkReportDir makes sure the HTML report can be written in dir before
// any lab comes up: it creates dir when missing and writes and removes a
// file in it.
func checkReportDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--report %s: %w (give a directory you can write)", dir, err)
	}
	f, err := os.CreateTemp(dir, ".report-check-*")
	if err != nil {
		return fmt.Errorf("--report %s: cannot write there: %w (give a directory you can write)", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// writeReport writes the run's HTML page in dir and returns its path.
func writeReport(dir, title string, started time.Time, runs []*ran) (string, error) {
	page := &report.Run{Title: title, Started: started}
	for _, x := range runs {
		sc := report.Scenario{Report: x.rep, Description: x.sc.Description, Graph: x.graph}
		if x.rep.Capture != "" {
			if rel, err := filepath.Rel(dir, x.rep.Capture); err == nil {
				sc.Capture, sc.Packets = rel, x.rep.PacketLines()
			}
		}
		page.Scenarios = append(page.Scenarios, sc)
	}
	return report.Write(dir, page)
}
