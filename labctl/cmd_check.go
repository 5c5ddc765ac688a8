package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"socketlab/labctl/check"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

func testCommand() *cobra.Command {
	var (
		name, output, junit string
		keep, quiet         bool
		pull                string
		anyPath             bool
		captureDir          string
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

Every file is validated before anything starts. The report is a table (step,
node → target, family, result, time, and for a failed step what was expected and
what came back), or JSON with -o json; --junit writes JUnit XML for CI.
Exit status: 0 when every step passed, 1 when one did not, 2 for an invalid file.`,
		Example: `  labctl test scenarios/welcome.yaml
  labctl test scenarios/*.yaml --junit report.xml
  labctl test -o json scenarios/echo.yaml | jq '.scenarios[].results[] | select(.outcome != "pass")'
  labctl test --keep scenarios/partition.yaml    # then: labctl status, labctl exec ...`,
		Args:              args(cobra.MinimumNArgs(1)),
		ValidArgsFunction: completeYAML,
		RunE: func(cmd *cobra.Command, files []string) error {
			if output != "table" && output != "json" {
				return usageError{fmt.Errorf("-o %q: want table or json", output)}
			}
			if pull != "never" && pull != "missing" {
				return usageError{fmt.Errorf("--pull %q: want never or missing", pull)}
			}
			if name != "" && len(files) > 1 {
				return usageError{errors.New("--name goes with one file only")}
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
			ctx := cmd.Context()
			log := cmd.ErrOrStderr()
			var reports []*check.Report
			for _, sc := range scs {
				labName := name
				if labName == "" {
					labName = sc.Name
				}
				var opts []lab.Option
				if pull == "missing" {
					opts = append(opts, lab.WithPullMissing())
				}
				if anyPath {
					opts = append(opts, lab.WithHostPathsAnywhere())
				}
				rep := testOne(ctx, sc, labName, keep, quiet, log, captureDir, opts...)
				reports = append(reports, rep)
				if ctx.Err() != nil {
					break
				}
			}
			out := cmd.OutOrStdout()
			var err error
			if output == "json" {
				err = check.WriteJSON(out, reports)
			} else {
				err = check.WriteTable(out, reports)
			}
			if err != nil {
				return err
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
	c.Flags().StringVar(&name, "name", "", "name the lab (default: the scenario's name); one file only")
	c.Flags().StringVarP(&output, "output", "o", "table", "report format: table or json")
	c.Flags().StringVar(&junit, "junit", "", "also write the report as JUnit XML to this file")
	c.Flags().BoolVar(&keep, "keep", false, "leave the lab up after the steps, for a look")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress on stderr, only the report")
	c.Flags().StringVar(&pull, "pull", "never", "never, or missing: pull the images that are not there (never socketlab's)")
	c.Flags().BoolVar(&anyPath, "allow-host-paths", false, "let files and mounts name host paths outside the scenario's folder (for a scenario you trust)")
	c.Flags().StringVar(&captureDir, "capture", "", "capture every node during the steps into DIR/LAB.pcapng, steps marked (a scenario with expect.wire is captured anyway)")
	return c
}

// testOne brings sc up as labName, runs its steps and takes it down (unless
// keep), writing progress to log. The lab must not be up already: its steps
// may stop nodes and split networks, so test never borrows a lab. The report
// is labelled with the lab's name (the scenario's unless --name gave one).
func testOne(ctx context.Context, sc *scenario.Scenario, labName string, keep, quiet bool, log io.Writer, captureDir string, opts ...lab.Option) (rep *check.Report) {
	defer func() { rep.Scenario = labName }()
	rep = &check.Report{Scenario: labName, File: sc.File}
	say := func(format string, a ...any) {
		if !quiet {
			fmt.Fprintf(log, format+"\n", a...)
		}
	}
	if up, err := listLabs(ctx); err != nil {
		rep.Setup = err.Error()
		return rep
	} else {
		for _, s := range up {
			if s.Name == labName {
				rep.Setup = fmt.Sprintf("lab %s is already up: take it down first (%s down %s), or pass --name", labName, prog, labName)
				return rep
			}
		}
	}
	say("== %s: up as lab %s", sc.File, labName)
	began := time.Now()
	p := newProgress(log, quiet)
	l, err := upLab(ctx, sc, append([]lab.Option{lab.WithName(labName), lab.WithProgress(p.event)}, opts...)...)
	p.done()
	if err != nil {
		rep.Setup = fmt.Sprintf("up %s: %v", labName, err)
		return rep
	}
	say("== %s: up in %.1fs; %d steps", sc.Name, time.Since(began).Seconds(), len(sc.Steps))
	var cl check.Lab = l
	cp, err := startTestCapture(ctx, l, sc, captureDir)
	if err != nil {
		rep.Setup = err.Error()
	} else if cp != nil {
		cl = cp
	}
	rep = check.Run(ctx, cl, sc, func(r *check.Result) {
		fam := ""
		if r.Family != "" {
			fam = " [" + r.Family + "]"
		}
		say("   %-5s %d. %s%s (%.2fs)", r.Outcome, r.Index, r.Name, fam, r.Seconds)
	})
	if cp != nil {
		cp.finish(ctx, rep, say)
	}
	if err != nil && rep.Setup == "" {
		rep.Setup = err.Error()
	}
	if keep {
		say("== %s: kept up: %s status %s; %s down %s when done", sc.Name, prog, labName, prog, labName)
		return rep
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if err := downLab(dctx, labName); err != nil && !errors.Is(err, lab.ErrNoLab) {
		rep.Setup = fmt.Sprintf("down %s: %v", labName, err)
	}
	return rep
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
