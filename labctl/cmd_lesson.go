package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"socketlab/labctl/check"
	"socketlab/labctl/lab"
	"socketlab/labctl/lesson"
	"socketlab/labctl/scenario"
)

// checkOptions are labctl check's flags.
type checkOptions struct {
	list               bool
	suite, image       string
	port, jobs         int
	verbose, quiet     bool
	output, junit      string
	reportDir, capture string
	keep               bool
	name               string
	listenWait         time.Duration
}

func checkCommand() *cobra.Command {
	o := &checkOptions{}
	c := &cobra.Command{
		Use:   "check LESSON PROGRAM... [-- ARGS...]",
		Short: "Check your own server or client against a lesson's contract",
		Long: `check judges a program you wrote against what its lesson asks of it: it runs the
program in a fresh node of its own (socketlab/toolbox: a .py file with python3, any
other file as it is), runs the lesson's named checks against it from other nodes —
each says what it did and what it saw, the bytes and the wire — and takes the lab
down. A failed check says the likely cause in plain words and the fix.

A server lesson (welcome-, echo-, udp-, chat-, lookup-server) starts your program with
ARGS (none: its defaults) and finds the port it listens on from the node's sockets
(--port says it). A client lesson (welcome-, echo-, udp-client) runs your program once
per check against a reference server — socketlab's own, and ones that answer in
pieces, slowly, at an IPv6 address only, or lose the first datagram — with ARGS
where {host}, {port} (or {hostport}, host:port) and {message} stand for that server
and the message (the lesson gives the default ARGS); a run longer than the lesson's
bound is stopped and fails.
labctl check --list shows the lessons and what each program must do.

Several PROGRAMs (or a glob) are graded side by side, each in a lab of its own, -j
at a time, and shown as a table: program × check (✓ passed, ✗ failed) with totals.
-o json gives an object per program (each check's verdict, explanation and time),
--junit a test suite per program, --report DIR one HTML page with every check and
its packets. --image IMAGE checks a program already in an image (its command, or
ARGS; a client's image needs timeout(1), which stops it at the bound); --suite FILE runs a suite of your own: a scenario file with an x-lesson key
(docs/check-suites.md; labctl check --list -v lists the built-in ones' checks).

Exit status: 0 when every check passed, 1 when one failed, 2 when a program could
not be run at all (it would not start, never listened, a bad file), with why.`,
		Example: `  make toolbox                                           # once: the node your program runs in
  labctl check echo-server my_server.py
  labctl check echo-client client.py -- {host} {port} {message}
  labctl check udp-server --port 9999 receiver.py -- :: 9999
  labctl check echo-server 'submissions/*.py' -j 4 --report out   # grade a class
  labctl check --list`,
		Args: func(cmd *cobra.Command, a []string) error {
			if o.list {
				return nil
			}
			need := 2
			if o.suite != "" {
				need--
			}
			if o.image != "" {
				need--
			}
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				a = a[:dash]
			}
			if len(a) < need {
				return usageError{fmt.Errorf("check: want LESSON and PROGRAM (see labctl check --help; labctl check --list shows the lessons)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, a []string) error { return runCheck(cmd, o, a) },
	}
	f := c.Flags()
	f.BoolVar(&o.list, "list", false, "list the lessons, a line each (with -v, each one's checks)")
	f.StringVar(&o.suite, "suite", "", "run the suite in this file instead of a lesson's")
	f.StringVar(&o.image, "image", "", "check the program already in this image (its command, or ARGS)")
	f.IntVar(&o.port, "port", 0, "the port a server program listens on (default: found from its sockets)")
	f.IntVarP(&o.jobs, "jobs", "j", 2*runtime.NumCPU(), "how many programs are checked side by side (a lab mostly waits on the engine)")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "every check's details, passed ones too, and the lab's progress")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress on stderr")
	f.StringVarP(&o.output, "output", "o", "table", "report format: table or json")
	f.StringVar(&o.junit, "junit", "", "also write JUnit XML to this file, a test suite per program")
	f.StringVar(&o.reportDir, "report", "", "also write the report as one HTML page, DIR/report.html, each check with its packets")
	f.StringVar(&o.capture, "capture", "", "keep each program's capture in DIR/LAB.pcapng")
	f.BoolVar(&o.keep, "keep", false, "leave each lab up after the checks, for a look (labctl status)")
	f.StringVar(&o.name, "name", "", "name each program's lab NAME-xxxx (default: the lesson's name and a random suffix)")
	f.DurationVar(&o.listenWait, "listen-wait", 5*time.Second, "how long a server program may take to listen")
	return c
}

func runCheck(cmd *cobra.Command, o *checkOptions, a []string) error {
	out := cmd.OutOrStdout()
	if o.list {
		return listLessons(out, o.verbose)
	}
	if o.output != "table" && o.output != "json" {
		return usageError{fmt.Errorf("-o %q: want table or json", o.output)}
	}
	if o.jobs < 1 {
		return usageError{fmt.Errorf("-j %d: want 1 or more programs at a time", o.jobs)}
	}
	var progArgs []string
	if dash := cmd.ArgsLenAtDash(); dash >= 0 {
		a, progArgs = a[:dash], a[dash:]
	}
	var suite *lesson.Suite
	var err error
	if o.suite != "" {
		suite, err = lesson.ReadFile(o.suite)
	} else {
		suite, err = lesson.Lookup(a[0])
		a = a[1:]
	}
	if err != nil {
		return exitError{code: 2, err: err}
	}
	programs, err := programsOf(a, o.image, progArgs)
	if err != nil {
		return exitError{code: 2, err: err}
	}
	// A kept lab outlives the copy a mount would point to: it gets the file
	// as an image layer.
	if hosts, _ := cmd.Flags().GetString("hosts"); hosts == "" && os.Getenv(hostsEnv) == "" && localEngine() && !o.keep {
		for i := range programs {
			programs[i].Mount = true
		}
	}
	if o.name != "" {
		if err := scenario.CheckLabName(o.name); err != nil || len(o.name) > maxLabName-suffixLen {
			return usageError{fmt.Errorf("--name %q: want a lowercase DNS label of at most %d characters", o.name, maxLabName-suffixLen)}
		}
	}
	if o.port != 0 && (o.port < 1 || o.port > 65535 || suite.Role != lesson.Server) {
		return usageError{fmt.Errorf("--port %d: want a port from 1 to 65535, for a server lesson", o.port)}
	}
	if o.reportDir != "" {
		if err := checkReportDir(o.reportDir); err != nil {
			return exitError{code: 2, err: err}
		}
	}
	started := time.Now()
	tmp, err := os.MkdirTemp("", "labctl-check-")
	if err != nil {
		return exitError{code: 2, err: fmt.Errorf("check: %w", err)}
	}
	defer os.RemoveAll(tmp)
	g := &grader{suite: suite, o: o, byScenario: map[*scenario.Scenario]*graded{}}
	var scs []*scenario.Scenario
	for i, p := range programs {
		dir := filepath.Join(tmp, fmt.Sprint(i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			return exitError{code: 2, err: fmt.Errorf("check: %w", err)}
		}
		sc, err := suite.Scenario(p, dir)
		if err != nil {
			return exitError{code: 2, err: err}
		}
		if o.name != "" {
			sc.Name = o.name
		}
		g.byScenario[sc] = &graded{name: programName(p)}
		scs = append(scs, sc)
	}
	log := cmd.ErrOrStderr()
	if !o.quiet {
		fmt.Fprintf(log, "check: %d program(s) against %s, %d checks each\n", len(programs), suite.Name, len(suite.Checks))
	}
	tr := &testRun{keep: o.keep, quiet: !o.verbose, verbose: false, jobs: o.jobs, graphs: o.reportDir != "",
		log: log, captureDir: o.capture, opts: []lab.UpOption{lab.WithHostPathsAnywhere()}, prepare: g.prepare, after: g.after,
		wireOnly: o.reportDir == "" && o.capture == ""}
	runs := tr.runAll(cmd.Context(), scs)
	var verdicts []*lesson.Verdict
	var reports []*check.Report
	for _, r := range runs {
		gr := g.byScenario[r.sc]
		r.rep.Scenario = gr.name
		v := suite.Judge(gr.name, gr.listens, r.rep)
		v.Seconds = r.took.Seconds()
		v.Ended = gr.ended
		verdicts = append(verdicts, v)
		reports = append(reports, r.rep)
	}
	var page string
	if o.reportDir != "" {
		if page, err = writeReport(o.reportDir, "labctl check "+suite.Name, started, runs); err != nil {
			return err
		}
	}
	if o.output == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		err = enc.Encode(struct {
			Lesson     string            `json:"lesson"`
			Programs   []*lesson.Verdict `json:"programs"`
			HTMLReport string            `json:"html_report,omitempty"`
		}{suite.Name, verdicts, page})
	} else {
		err = writeVerdicts(out, suite, verdicts, o.verbose)
		if err == nil && page != "" {
			_, err = fmt.Fprintf(out, "report: %s\n", page)
		}
	}
	if err != nil {
		return err
	}
	if o.junit != "" {
		if err := writeJUnit(o.junit, reports); err != nil {
			return err
		}
	}
	if cmd.Context().Err() != nil {
		return exitError{code: 130, err: errors.New("interrupted: the labs were taken down")}
	}
	code := 0
	for _, v := range verdicts {
		switch {
		case v.Error != "":
			code = 2
		case !v.OK() && code == 0:
			code = 1
		}
	}
	if len(verdicts) < len(programs) && code == 0 {
		code = 1
	}
	if code != 0 {
		return exitError{code: code}
	}
	return nil
}

// programsOf turns PROGRAM arguments (globs expanded) into programs, each
// checked to be there and runnable; with image, the image is the program.
func programsOf(names []string, image string, args []string) ([]lesson.Program, error) {
	if image != "" {
		if len(names) > 0 {
			return nil, fmt.Errorf("--image %s is the program: give no PROGRAM file with it (ARGS go after --)", image)
		}
		return []lesson.Program{{Image: image, Args: args}}, nil
	}
	var out []lesson.Program
	for _, n := range names {
		paths := []string{n}
		if strings.ContainsAny(n, "*?[") {
			m, err := filepath.Glob(n)
			if err != nil {
				return nil, fmt.Errorf("program %s: %w", n, err)
			}
			if len(m) == 0 {
				return nil, fmt.Errorf("program %s: no file matches", n)
			}
			paths = m
		}
		for _, p := range paths {
			st, err := os.Stat(p)
			switch {
			case err != nil:
				return nil, fmt.Errorf("program %s: %w", p, err)
			case st.IsDir():
				return nil, fmt.Errorf("program %s is a folder: name the file to run (or a glob such as %s/*.py)", p, p)
			case !strings.HasSuffix(p, ".py") && st.Mode()&0o111 == 0:
				return nil, fmt.Errorf("program %s is not executable and not a .py file: chmod +x %s, or name a Python file", p, p)
			}
			out = append(out, lesson.Program{Path: p, Args: args})
		}
	}
	return out, nil
}

// localEngine tells whether the Docker engine runs on this machine, where a
// bind mount of a file here works.
func localEngine() bool {
	h := os.Getenv("DOCKER_HOST")
	return h == "" || strings.HasPrefix(h, "unix://")
}

func programName(p lesson.Program) string {
	if p.Image != "" {
		return p.Image
	}
	return p.Path
}

// grader is one labctl check run: what it learnt about each program's lab.
type grader struct {
	suite      *lesson.Suite
	o          *checkOptions
	mu         sync.Mutex
	byScenario map[*scenario.Scenario]*graded
}

type graded struct {
	name    string
	listens string
	ended   string // what a server program that ended during the checks printed
}

// after notes, in a server lesson, a program that ended during the checks
// and what it printed last: the traceback that explains the checks after it.
func (g *grader) after(ctx context.Context, l *lab.Lab, sc *scenario.Scenario) {
	if g.suite.Role != lesson.Server || g.o.image != "" || nodeRunning(ctx, l, lesson.ProgramNode) {
		return
	}
	out := programLog(ctx, l)
	g.mu.Lock()
	g.byScenario[sc].ended = "the program ended during the checks" + out
	g.mu.Unlock()
}

// prepare waits, in a server lesson, until the program listens, and puts
// its port into the steps; an error says why the program cannot be checked.
func (g *grader) prepare(ctx context.Context, l *lab.Lab, sc *scenario.Scenario) error {
	st, err := l.Status(ctx)
	if err != nil {
		return err
	}
	if err := lesson.BindAddresses(sc, func(node, family string) string {
		for _, n := range st.Nodes {
			if n.Name != node {
				continue
			}
			for _, a := range n.Addresses {
				if family == "ipv6" && a.IPv6 != "" {
					return a.IPv6
				}
				if family == "ipv4" && a.IPv4 != "" {
					return a.IPv4
				}
			}
		}
		return ""
	}); err != nil {
		return err
	}
	if g.suite.Role != lesson.Server {
		return nil
	}
	deadline := time.Now().Add(g.o.listenWait)
	var seen []lesson.Socket
	for {
		stdout, stderr, code, err := l.Exec(ctx, lesson.ProgramNode, lesson.ProcNetCommand)
		if err != nil || code != 0 {
			noCat := err == nil && (code == 126 || code == 127) // not there, or not runnable
			switch {
			case !nodeRunning(ctx, l, lesson.ProgramNode):
				return fmt.Errorf("the program ended before it listened%s", programLog(ctx, l))
			case g.o.port != 0:
				// An image without cat: trust --port, and give it a moment.
				time.Sleep(time.Second)
				lesson.BindPort(sc, g.o.port)
				return nil
			case noCat:
				return fmt.Errorf("cannot read the program node's sockets (%s exited %d: %s): give --port", lesson.ProcNetCommand[0], code, strings.TrimSpace(string(stderr)))
			case time.Now().After(deadline):
				return fmt.Errorf("cannot read the program node's sockets (exit %d, %v)", code, err)
			}
			// The node may be stopping (the exec was killed with it): look again.
			time.Sleep(200 * time.Millisecond)
			continue
		}
		seen = lesson.Listening(string(stdout))
		port, on := g.suite.PickPort(seen)
		if g.o.port != 0 {
			port, on = g.o.port, nil
			for _, k := range seen {
				if k.Transport == g.suite.Transport && int(k.Addr.Port()) == g.o.port {
					on = append(on, k)
				}
			}
			if len(on) == 0 {
				port = 0
			}
		}
		if port != 0 {
			g.mu.Lock()
			g.byScenario[sc].listens = lesson.Describe(on)
			g.mu.Unlock()
			lesson.BindPort(sc, port)
			return nil
		}
		if time.Now().After(deadline) {
			what := "any " + g.suite.Transport + " port"
			if g.o.port != 0 {
				what = fmt.Sprintf("%s port %d", g.suite.Transport, g.o.port)
			}
			var others []string
			for _, k := range seen {
				others = append(others, k.Transport+" "+k.Addr.String())
			}
			also := ""
			if len(others) > 0 {
				also = "; it has " + strings.Join(others, ", ")
			}
			return fmt.Errorf("the program does not listen on %s after %s%s: a %s lesson's program %s%s",
				what, g.o.listenWait, also, g.suite.Name, listenVerb(g.suite.Transport), programLog(ctx, l))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// nodeRunning tells whether node's container is running.
func nodeRunning(ctx context.Context, l *lab.Lab, node string) bool {
	st, err := l.Status(ctx)
	if err != nil {
		return false
	}
	for _, n := range st.Nodes {
		if n.Name == node {
			return n.State == "running"
		}
	}
	return false
}

func listenVerb(transport string) string {
	if transport == "udp" {
		return "binds a UDP socket and receives on it"
	}
	return "listens on a TCP port"
}

// programLog is the end of the program node's output, as a suffix of an
// error: what Python said when it would not start.
func programLog(ctx context.Context, l *lab.Lab) string {
	var b bytes.Buffer
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := l.Logs(lctx, lesson.ProgramNode, false, &b, &b); err != nil || b.Len() == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	for i, line := range lines {
		if r := []rune(line); len(r) > 160 {
			lines[i] = string(r[:160]) + "…"
		}
	}
	return "; it printed:\n    " + strings.Join(lines, "\n    ")
}

func listLessons(w io.Writer, verbose bool) error {
	for _, s := range lesson.Lessons() {
		fmt.Fprintln(w, s.Describe())
		if verbose {
			for i, c := range s.Checks {
				fmt.Fprintf(w, "    %d. %s\n", i+1, c)
			}
		}
	}
	return nil
}

// writeVerdicts prints one program's verdict check by check, or several
// programs as a table program × check.
func writeVerdicts(w io.Writer, s *lesson.Suite, vs []*lesson.Verdict, verbose bool) error {
	if len(vs) == 1 {
		writeVerdict(w, vs[0], verbose)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	fmt.Fprint(tw, "program\t")
	for i := range s.Checks {
		fmt.Fprintf(tw, "%d\t", i+1)
	}
	fmt.Fprint(tw, "passed\ttime\n")
	for _, v := range vs {
		fmt.Fprintf(tw, "%s\t", v.Program)
		for i := range s.Checks {
			mark := "·"
			if i < len(v.Checks) {
				mark = "✗"
				if v.Checks[i].Passed {
					mark = "✓"
				}
			}
			fmt.Fprintf(tw, "%s\t", mark)
		}
		total := fmt.Sprintf("%d/%d", v.Passed, v.Total)
		if v.Error != "" {
			total = "not run"
		}
		fmt.Fprintf(tw, "%s\t%.1fs\n", total, v.Seconds)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for i, c := range s.Checks {
		fmt.Fprintf(w, "%2d. %s\n", i+1, c)
	}
	for _, v := range vs {
		if v.Error != "" {
			fmt.Fprintf(w, "\n%s: could not be checked: %s\n", v.Program, v.Error)
		}
	}
	if verbose {
		for _, v := range vs {
			fmt.Fprintln(w)
			writeVerdict(w, v, false)
		}
	}
	ok := 0
	for _, v := range vs {
		if v.OK() {
			ok++
		}
	}
	_, err := fmt.Fprintf(w, "\n%d of %d programs passed every check\n", ok, len(vs))
	return err
}

func writeVerdict(w io.Writer, v *lesson.Verdict, verbose bool) {
	fmt.Fprintf(w, "%s: %s\n", v.Lesson, v.Program)
	if v.Listens != "" {
		fmt.Fprintf(w, "  %s\n", v.Listens)
	}
	if v.Ended != "" {
		fmt.Fprintf(w, "  %s\n", v.Ended)
	}
	if v.Error != "" {
		fmt.Fprintf(w, "  could not be checked: %s\n", v.Error)
		return
	}
	for i, c := range v.Checks {
		mark := "✗"
		if c.Passed {
			mark = "✓"
		}
		fmt.Fprintf(w, "  %s %d. %s (%.2fs)\n", mark, i+1, c.Name, c.Seconds)
		if c.Passed && !verbose {
			continue
		}
		fmt.Fprintf(w, "      did: %s\n", c.Did)
		for j, line := range strings.Split(c.Saw, "\n") {
			lead := "      saw: "
			if j > 0 {
				lead = "           "
			}
			fmt.Fprintf(w, "%s%s\n", lead, line)
		}
		if c.Cause != "" {
			fmt.Fprintf(w, "      why: %s\n      fix: %s\n", c.Cause, c.Fix)
		}
	}
	fmt.Fprintf(w, "%d of %d checks passed (%.1fs with the lab's up and down)\n", v.Passed, v.Total, v.Seconds)
}
