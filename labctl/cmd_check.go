package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"socketlab/labctl/check"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

func testCommand() *cobra.Command {
	var (
		name, output, junit, reportDir string
		keep, quiet, verbose           bool
		jobs                           int
		pull                           string
		anyPath                        bool
		captureDir                     string
	)
	c := &cobra.Command{
		Use:   "test FILE...",
		Short: "Bring each scenario up, run its steps, report, and take it down",
		Long: `test turns a lab into a test. For each scenario file it brings the lab up, runs
the steps in order — a client run inside a node against a target, over IPv4, IPv6
or both, judged against what the step expects (output, family, time, or a failure
of a given kind: refused, timeout, unreachable...); or an action: stop, kill or
start a node, disconnect or connect it from a network, sleep — then takes the lab
down, also when a step fails or you press Ctrl-C (--keep leaves it up for a look).

Every file is validated before anything starts. Each lab is named after its
scenario with a random suffix (welcome-3f2a), so scenarios run side by side
without meeting: -j N of them at once (default: one per CPU), each on subnets
of its own. One at a time, a scenario's lines stream as they come; side by
side, each scenario's lines are printed together when it ends.

-v is learn mode: each scenario's description, then for every step what ran,
what came back and why it passed or failed.

The report is a table (step, node → target, family, result, time, and for a
failed step what was expected and what came back), or JSON with -o json;
--junit writes JUnit XML for CI; --report DIR writes DIR/report.html, one
self-contained page (no network needed) with each scenario's description, a
picture of its lab as it came up, and every step with its output.
Exit status: 0 when every step passed, 1 when one did not, 2 for an invalid file
or a --report directory that cannot be written, 130 on Ctrl-C.`,
		Example: `  labctl test scenarios/welcome.yaml
  labctl test -v scenarios/welcome.yaml              # learn mode: what ran, what came back, why
  labctl test scenarios/*.yaml --report out          # then open out/report.html
  labctl test -j 1 scenarios/*.yaml --junit report.xml
  labctl test -o json scenarios/echo.yaml | jq '.scenarios[].results[] | select(.outcome != "pass")'
  labctl test --keep --name mine scenarios/partition.yaml    # then: labctl status mine`,
		Args:              args(cobra.MinimumNArgs(1)),
		ValidArgsFunction: completeYAML,
		RunE: func(cmd *cobra.Command, files []string) error {
			started := time.Now()
			if output != "table" && output != "json" {
				return usageError{fmt.Errorf("-o %q: want table or json", output)}
			}
			if pull != "never" && pull != "missing" {
				return usageError{fmt.Errorf("--pull %q: want never or missing", pull)}
			}
			if name != "" && len(files) > 1 {
				return usageError{errors.New("--name goes with one file only")}
			}
			if jobs < 1 {
				return usageError{fmt.Errorf("-j %d: want 1 or more scenarios at a time", jobs)}
			}
			if verbose && quiet {
				return usageError{errors.New("-v shows more, -q less: choose one")}
			}
			// Validate every file before bringing anything up.
			var scs []*scenario.Scenario
			var bad []error
			for _, f := range files {
				sc, err := loadScenario(f, anyPath)
				if err != nil {
					bad = append(bad, err)
					continue
				}
				scs = append(scs, sc)
			}
			if len(bad) > 0 {
				return exitError{code: 2, err: errors.Join(bad...)}
			}
			if reportDir != "" {
				if err := checkReportDir(reportDir); err != nil {
					return exitError{code: 2, err: err}
				}
			}
			ctx := cmd.Context()
			var opts []lab.UpOption
			if pull == "missing" {
				opts = append(opts, lab.WithPullMissing())
			}
			if anyPath {
				opts = append(opts, lab.WithHostPathsAnywhere())
			}
			tr := &testRun{name: name, keep: keep, quiet: quiet, verbose: verbose, jobs: jobs,
				graphs: reportDir != "", log: cmd.ErrOrStderr(), captureDir: captureDir, opts: opts}
			runs := tr.runAll(ctx, scs)
			var reports []*check.Report
			for _, r := range runs {
				reports = append(reports, r.rep)
			}
			var page string
			var pageErr error
			if reportDir != "" {
				page, pageErr = writeReport(reportDir, "labctl test "+strings.Join(files, " "), started, runs)
			}
			out := cmd.OutOrStdout()
			var err error
			if output == "json" {
				err = (&check.Document{Scenarios: reports, HTMLReport: page}).Encode(out)
			} else {
				err = check.WriteTable(out, reports)
				if err == nil && page != "" {
					_, err = fmt.Fprintf(out, "report: %s\n", page)
				}
			}
			if err != nil {
				return err
			}
			if pageErr != nil {
				return pageErr
			}
			if junit != "" {
				if err := writeJUnit(junit, reports); err != nil {
					return err
				}
			}
			if ctx.Err() != nil {
				return exitError{code: 130, err: errors.New("interrupted: the labs were taken down")}
			}
			for _, r := range reports {
				if !r.Passed() {
					return exitError{code: 1}
				}
			}
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "name the lab (default: the scenario's name and a random suffix); one file only")
	c.Flags().StringVarP(&output, "output", "o", "table", "report format: table or json")
	c.Flags().StringVar(&junit, "junit", "", "also write the report as JUnit XML to this file")
	c.Flags().StringVar(&reportDir, "report", "", "also write the report as one HTML page, DIR/report.html")
	c.Flags().IntVarP(&jobs, "jobs", "j", runtime.NumCPU(), "how many scenarios run side by side")
	c.Flags().BoolVar(&keep, "keep", false, "leave the lab up after the steps, for a look")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress on stderr, only the report")
	c.Flags().StringVar(&pull, "pull", "never", "never, or missing: pull the images that are not there (never socketlab's)")
	c.Flags().BoolVar(&anyPath, "allow-host-paths", false, "let files and mounts name host paths outside the scenario's folder (for a scenario you trust)")
	c.Flags().StringVar(&captureDir, "capture", "", "capture every node during the steps into DIR/LAB.pcapng, steps marked (a scenario with expect.wire is captured anyway)")
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "learn mode: each scenario's description, and what every step ran, got and why it passed")
	return c
}

func writeJUnit(path string, reports []*check.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	if err := check.WriteJUnit(f, reports); err != nil {
		f.Close()
		return fmt.Errorf("junit: write %s: %w", path, err)
	}
	return f.Close()
}
