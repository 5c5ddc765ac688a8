package integration

import (
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"socketlab/internal/images"
	"socketlab/internal/labtest"
	"socketlab/labctl/check"
	"socketlab/labctl/scenario"
	"socketlab/labctl/tap"
)

// scenarioFiles are the scenario library, scenarios/*.yaml, and the
// examples' scenarios, examples/*/*.yaml (the Python lessons).
func scenarioFiles(t *testing.T) []string {
	_, file, _, _ := runtime.Caller(0)
	files, err := filepath.Glob(filepath.Join(filepath.Dir(file), "..", "scenarios", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios found: %v", err)
	}
	examples, _ := filepath.Glob(filepath.Join(filepath.Dir(file), "..", "examples", "*", "*.yaml"))
	return append(files, examples...)
}

// labSlots bounds how many scenario labs run at once: on two cores, Docker
// starting thirty containers together makes healthchecks time out.
var labSlots = make(chan struct{}, 3)

// TestScenarios runs every scenario of the library through the engine and
// the steps runner: one subtest per scenario, and under it one per step (and
// family), each failing with what was expected and what came back.
func TestScenarios(t *testing.T) {
	t.Parallel()
	for _, file := range scenarioFiles(t) {
		sc, err := scenario.Load(file)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			labSlots <- struct{}{}
			defer func() { <-labSlots }()
			l := labtest.Up(t, sc)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			var cl check.Lab = l
			if sc.HasWire() { // its wire checks judge a capture
				labtest.NeedImages(t, images.Capture)
				rec, err := tap.Record(ctx, l, images.Ref(images.Capture, ""), nil)
				if err != nil {
					t.Fatalf("capture: %v", err)
				}
				defer rec.Close(ctx)
				cl = rec
			}
			rep := check.Run(ctx, cl, sc, nil)
			for _, r := range rep.Results {
				name := r.Name
				if r.Family != "" {
					name += " " + r.Family
				}
				t.Run(name, func(t *testing.T) {
					if r.Outcome != check.Pass {
						t.Errorf("%s:%d: %s\n  expected: %s\n  got:      %s\n  %s", file, r.Line, r.Outcome, r.Expected, r.Got, r.Message)
					}
				})
			}
		})
	}
}

// TestCheckerFails shows that labctl test can fail: a wrong expected output
// and an unreachable target make it exit 1, print what was expected and what
// came back, write the failures to JUnit, and still leave nothing running.
func TestCheckerFails(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome", scenario.ClientImage)
	dir := t.TempDir()
	file := filepath.Join(dir, "wrong.yaml")
	os.WriteFile(file, []byte(`name: wrong
networks:
  net: {}
nodes:
  welcome: {image: welcome, networks: [net]}
  client: {image: client, networks: [net]}
steps:
  - name: right
    node: client
    run: welcome
    target: welcome
    family: ipv6
    expect: {contains: over IPv6}
  - name: wrong text
    node: client
    run: welcome
    target: welcome
    family: ipv4
    expect: {contains: over IPv6}
  - name: nothing listens there
    node: client
    run: welcome
    target: welcome:9000
`), 0o644)
	junit := filepath.Join(dir, "report.xml")
	name := labtest.Name(t)
	code, stdout, stderr := labctl(t, "test", "--name", name, "--junit", junit, file)
	if code != 1 {
		t.Errorf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"1. right", "PASS",
		"2. wrong text", "FAIL", `expected: output contains "over IPv6"`, "over IPv4.",
		"3. nothing listens there", "expected: success", "failed (refused): connection refused by",
		"1 passed, 2 failed",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil || len(doc.Suites) != 1 || doc.Suites[0].Tests != 3 || doc.Suites[0].Failures != 2 {
		t.Errorf("junit: %v %+v\n%s", err, doc, b)
	}
	if labtest.Exists(t, name) {
		t.Errorf("lab %s is still there after labctl test", name)
	}
}
