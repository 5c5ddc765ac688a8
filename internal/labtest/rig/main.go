// Command rig runs a command against a rig engine: a Docker engine of the
// rig's own beside this machine's (see labtest.Daemon), started for the
// command and removed after it. make test-engines runs the integration
// tests through it, once per engine:
//
//	rig -bin bin/engines/docker29 -json bin/engines/docker29.json docker29 -- go test -run 'TestScenarios' ./integration/
//
// The command runs in the engine's network namespace (so the engine's
// bridges and node addresses are in reach, as they are for a person using
// that engine on their own machine), with DOCKER_HOST pointing at it. A go
// test command runs with -json: rig prints the output of the tests that
// fail, keeps the whole stream in the -json file, and ends with the
// engine's version and N passed, N failed. It needs root.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"socketlab/internal/labtest"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rig", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("bin", "", "directory of the engine's binaries (dockerd, docker-proxy, runc)")
	jsonOut := fs.String("json", "", "write the go test -json stream to this file")
	summary := fs.String("summary", "", "append the closing line (engine, version, counts) to this file")
	class := fs.Int("classroom", 0, "instead of a command: bring up this many default labs at once (on podman, one user each) and report time, memory and reach")
	labctl := fs.String("labctl", "bin/labctl", "the labctl the classroom runs")
	scenarioFile := fs.String("scenario", "scenarios/default.yaml", "the scenario of the classroom's labs")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: rig [-bin DIR] [-json FILE] [-summary FILE] ENGINE -- COMMAND...\n       rig -classroom N [-labctl FILE] [-scenario FILE] [-bin DIR] ENGINE\nengines: %s\n", strings.Join(labtest.RigEngines, ", "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rest := fs.Args()
	if *class > 0 && len(rest) == 1 {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		lc, _ := filepath.Abs(*labctl)
		sf, _ := filepath.Abs(*scenarioFile)
		return classroom(ctx, rest[0], *class, *bin, lc, sf, stdout, stderr)
	}
	if len(rest) < 3 || rest[1] != "--" {
		fs.Usage()
		return 2
	}
	engine, command := rest[0], rest[2:]

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t0 := time.Now()
	re, err := labtest.StartRigEngine(ctx, engine, *bin)
	if err != nil {
		fmt.Fprintf(stderr, "rig: %v\n", err)
		return 1
	}
	defer re.Stop()
	desc := re.Description
	fmt.Fprintf(stdout, "rig %s: %s on %s, started with the images in %s\n", engine, desc, re.Endpoint, time.Since(t0).Round(100*time.Millisecond))

	goTest := len(command) >= 2 && command[0] == "go" && command[1] == "test"
	if goTest && !slices.Contains(command, "-json") {
		command = slices.Insert(command, 2, "-json")
	}
	if re.Netns != "" {
		command = append([]string{"nsenter", "--net=" + re.Netns, "--"}, command...)
	}
	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+re.Endpoint)
	cmd.Stderr = stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = time.Minute
	t1 := time.Now()
	if !goTest {
		cmd.Stdout = stdout
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(stderr, "rig %s: %v\n", engine, err)
			return 1
		}
		return 0
	}
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintf(stderr, "rig: %v\n", err)
		return 1
	}
	var raw io.Writer = io.Discard
	if *jsonOut != "" {
		f, err := os.Create(*jsonOut)
		if err != nil {
			fmt.Fprintf(stderr, "rig: %v\n", err)
			return 1
		}
		defer f.Close()
		raw = f
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "rig: %v\n", err)
		return 1
	}
	n := tally(io.TeeReader(pipe, raw), stdout)
	werr := cmd.Wait()
	line := fmt.Sprintf("%s: %s: %d passed, %d failed, %d skipped (tests %s)\n",
		engine, desc, n.passed, n.failed, n.skipped, time.Since(t1).Round(time.Second))
	fmt.Fprint(stdout, line)
	if *summary != "" {
		if f, err := os.OpenFile(*summary, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
			f.WriteString(line)
			f.Close()
		}
	}
	if werr != nil || n.failed > 0 {
		if werr != nil && n.failed == 0 {
			fmt.Fprintf(stderr, "rig %s: %v\n", engine, werr)
		}
		return 1
	}
	return 0
}

// counts are the tests (and subtests) of a go test -json stream by outcome.
type counts struct{ passed, failed, skipped int }

// event is a line of go test -json (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// tally reads a go test -json stream: it counts every test's outcome and
// writes to w the output of each test that fails (when it fails) and the
// packages' summary lines.
func tally(r io.Reader, w io.Writer) counts {
	var n counts
	outputs := map[string][]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			fmt.Fprintln(w, sc.Text()) // a build error, say
			continue
		}
		top, _, isSub := strings.Cut(e.Test, "/")
		key := e.Package + " " + top // subtests' lines go with their top-level test's
		switch e.Action {
		case "output":
			if e.Test == "" {
				if strings.HasPrefix(e.Output, "ok ") || strings.HasPrefix(e.Output, "FAIL") || strings.HasPrefix(e.Output, "---") {
					fmt.Fprint(w, e.Output)
				}
				continue
			}
			outputs[key] = append(outputs[key], e.Output)
		case "pass", "fail", "skip":
			if e.Test == "" {
				continue
			}
			*map[string]*int{"pass": &n.passed, "fail": &n.failed, "skip": &n.skipped}[e.Action]++
			if !isSub { // the top-level test ended
				if e.Action == "fail" {
					fmt.Fprint(w, strings.Join(outputs[key], ""))
				}
				delete(outputs, key)
			}
		}
	}
	return n
}
