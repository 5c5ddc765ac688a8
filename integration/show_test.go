package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"socketlab/internal/labtest"
	"socketlab/labctl/graph"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// labctl graph of a running lab draws what Docker has: the same interface
// names and addresses as labctl status, the nodes' states; once the lab is
// down, graph says so and exits 2.
func TestGraphLive(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "echo", scenario.ClientImage)
	name := labctlUp(t, `name: graph
networks:
  front: {}
  six: {stack: ipv6}
nodes:
  echo:
    image: echo
    networks: [six]
    env: {PORT: "7007"}
  client:
    image: client
    networks: [front, six]
`)
	code, out, stderr := labctl(t, "graph", "-o", "json", name)
	if code != 0 {
		t.Fatalf("graph -o json %s: exit %d: %s", name, code, stderr)
	}
	var g graph.Graph
	if err := json.Unmarshal([]byte(out), &g); err != nil {
		t.Fatalf("graph -o json: %v\n%s", err, out)
	}
	code, out, _ = labctl(t, "status", "-o", "json", name)
	var st lab.Status
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("status: exit %d: %s", code, out)
	}
	type key struct{ node, network string }
	want := map[key]lab.Address{}
	for _, n := range st.Nodes {
		for _, a := range n.Addresses {
			want[key{n.Name, a.Network}] = a
		}
	}
	if len(g.Links) != 3 {
		t.Errorf("graph has %d links, want 3: %+v", len(g.Links), g.Links)
	}
	for _, l := range g.Links {
		a, ok := want[key{l.Node, l.Network}]
		switch {
		case !ok:
			t.Errorf("graph links %s to %s, which status does not show", l.Node, l.Network)
		case l.Interface == "" || l.Interface != a.Interface || l.IPv6 != a.IPv6 || l.IPv6 == "":
			t.Errorf("link %s–%s: interface %q ipv6 %q; status says %q %q", l.Node, l.Network, l.Interface, l.IPv6, a.Interface, a.IPv6)
		case l.Network == "six" && l.IPv4 != "":
			t.Errorf("link %s–six shows IPv4 %s on an ipv6 network", l.Node, l.IPv4)
		case l.Network == "front" && l.IPv4 != a.IPv4:
			t.Errorf("link %s–front: ipv4 %q, status says %q", l.Node, l.IPv4, a.IPv4)
		}
	}
	for _, n := range g.Nodes {
		if n.State != "running" {
			t.Errorf("node %s: state %q, want running", n.Name, n.State)
		}
		if n.Name == "echo" && strings.Join(n.Ports, ",") != "tcp/7007,udp/7007" {
			t.Errorf("echo's ports = %v, want the scenario's PORT 7007", n.Ports)
		}
	}
	code, svg, _ := labctl(t, "graph", "-o", "svg", name)
	if code != 0 || !strings.Contains(svg, want[key{"client", "front"}].IPv4) {
		t.Errorf("graph -o svg: exit %d, lacks the client's address: %.300s", code, svg)
	}

	if code, _, stderr := labctl(t, "down", name); code != 0 {
		t.Fatalf("down: %s", stderr)
	}
	code, out, stderr = labctl(t, "graph", name)
	if code != 2 || out != "" || !strings.Contains(stderr, "no such lab") || !strings.Contains(stderr, "give a scenario file") {
		t.Errorf("graph of a lab that is down: exit %d, stdout %q, stderr %q; want 2 and why", code, out, stderr)
	}
}

// labctl test --report writes one HTML page with the scenario's
// description, its lab as it came up and every step with its outcome and
// output; the table and the JSON name the page; -v shows the description
// and what each step ran and got.
func TestTestReport(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome", scenario.ClientImage)
	file := filepath.Join(t.TempDir(), "report.yaml")
	os.WriteFile(file, []byte(`name: report
description: |
  Watch: the greeting names the client's own address.
networks:
  lab: {}
nodes:
  welcome:
    image: welcome
    networks: [lab]
  client:
    image: client
    networks: [lab]
steps:
  - name: greeting over IPv6
    node: client
    run: welcome
    target: welcome
    family: ipv6
    expect: {contains: over IPv6}
  - name: a greeting that never comes
    node: client
    run: welcome
    target: welcome
    expect: {contains: no such words}
`), 0o644)
	dir := filepath.Join(t.TempDir(), "out")
	name := labtest.Name(t)
	t.Cleanup(func() { labctl(t, "down", name) })

	code, stdout, stderr := labctl(t, "test", "-v", "--name", name, "--report", dir, file)
	page := filepath.Join(dir, "report.html")
	if code != 1 || !strings.Contains(stdout, "report: "+page+"\n") {
		t.Fatalf("test --report: exit %d, want 1 (a step fails) and the page named\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	for _, want := range []string{"== report\n   Watch: the greeting names the client's own address.",
		"ran:       sock welcome --json --timeout 10s -6 welcome   (in client)", "came back: Welcome to socketlab! You are [",
		"passed:    expected output contains \"over IPv6\"", "failed:    expected output contains \"no such words\""} {
		if !strings.Contains(stderr, want) {
			t.Errorf("learn mode lacks %q:\n%s", want, stderr)
		}
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Watch: the greeting names the client", "greeting over IPv6", "a greeting that never comes",
		"no such words", "Welcome to socketlab! You are [", "<svg", "eth0"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".report-*")); len(m) > 0 {
		t.Errorf("temporary files left in the report directory: %v", m)
	}

	code, stdout, _ = labctl(t, "test", "-q", "-o", "json", "--name", name, "--report", dir, file)
	var doc struct {
		HTMLReport string `json:"html_report"`
	}
	if code != 1 || json.Unmarshal([]byte(stdout), &doc) != nil || doc.HTMLReport != page {
		t.Errorf("test -o json --report: exit %d, html_report %q, want %q:\n%s", code, doc.HTMLReport, page, stdout)
	}
	if labtest.Exists(t, name) {
		t.Errorf("lab %s is still up after labctl test", name)
	}
}

// labctl test -j 2 runs two scenarios side by side on labs of their own;
// each scenario's lines stay together; Ctrl-C takes both labs down and
// exits 130.
func TestTestParallelInterrupt(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome", scenario.ClientImage)
	dir := t.TempDir()
	var files, names []string
	for _, n := range []string{"a", "b"} {
		name := labtest.Name(t) // the scenario's name; labctl adds a suffix
		names = append(names, name)
		file := filepath.Join(dir, n+".yaml")
		files = append(files, file)
		os.WriteFile(file, []byte(`name: `+name+`
networks:
  lab: {}
nodes:
  welcome:
    image: welcome
    networks: [lab]
  client:
    image: client
    networks: [lab]
steps:
  - name: greeting
    node: client
    run: welcome
    target: welcome
    expect: {contains: Welcome}
  - name: a long pause, for Ctrl-C
    action: sleep
    for: 2m
`), 0o644)
	}
	bin, err := labctlBin()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, append([]string{"test", "-j", "2"}, files...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		for _, l := range labsOf(t, names) {
			labctl(t, "down", l)
		}
	})

	// Both labs up, side by side, each with a name of its own.
	var labs []string
	deadline := time.Now().Add(90 * time.Second)
	for len(labs) < 2 || !allRunning(t, labs) {
		if time.Now().After(deadline) {
			t.Fatalf("the two labs did not come up side by side (labs %v)\nstderr: %s", labs, stderr.String())
		}
		select {
		case err := <-done:
			t.Fatalf("labctl test ended before Ctrl-C: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
		case <-time.After(300 * time.Millisecond):
		}
		labs = labsOf(t, names)
	}
	// A moment for the greeting to pass; the pause is next.
	time.Sleep(time.Second)
	cmd.Process.Signal(os.Interrupt)
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		t.Fatalf("labctl test did not end within 90 s of Ctrl-C\nstderr: %s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d after Ctrl-C, want 130\nstderr: %s", code, stderr.String())
	}
	if left := labsOf(t, names); len(left) > 0 {
		t.Errorf("labs still there after Ctrl-C: %v", left)
	}
	// Each scenario's lines are together: from "up as lab" to "interrupted".
	lines := strings.Split(stderr.String(), "\n")
	for i, sname := range names {
		other := names[1-i]
		first, last := -1, -1
		for j, line := range lines {
			if strings.Contains(line, sname) {
				if first < 0 {
					first = j
				}
				last = j
			}
		}
		if first < 0 || !strings.Contains(lines[last], "interrupted; lab "+sname+"-") {
			t.Errorf("scenario %s: no line saying its lab was taken down\nstderr: %s", sname, stderr.String())
			continue
		}
		for _, line := range lines[first : last+1] {
			if strings.Contains(line, other) {
				t.Errorf("the lines of %s are interleaved with those of %s:\n%s", sname, other, stderr.String())
				break
			}
		}
	}
	if !strings.Contains(stdout.String(), "greeting") {
		t.Errorf("the table lacks the steps that ran:\n%s", stdout.String())
	}
}

// labsOf are the labs up whose names start with one of the scenario names
// and a dash (the labs labctl test made of them).
func labsOf(t *testing.T, scenarios []string) []string {
	t.Helper()
	all, err := labtest.Engine().List(context.Background())
	if err != nil {
		t.Fatalf("list labs: %v", err)
	}
	var out []string
	for _, l := range all {
		for _, s := range scenarios {
			if strings.HasPrefix(l.Name, s+"-") {
				out = append(out, l.Name)
			}
		}
	}
	return out
}

// allRunning tells whether every node of the labs runs.
func allRunning(t *testing.T, labs []string) bool {
	t.Helper()
	all, err := labtest.Engine().List(context.Background())
	if err != nil {
		t.Fatalf("list labs: %v", err)
	}
	for _, name := range labs {
		if !slices.ContainsFunc(all, func(s lab.Summary) bool { return s.Name == name && s.Nodes == 2 && s.Running == 2 }) {
			return false
		}
	}
	return true
}

// The same scenario twice in one run, side by side: each gets a lab of its
// own, and as it fixes its subnet the second waits for the first rather
// than failing on the overlap. Both pass.
func TestTestSameScenarioTwice(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome", scenario.ClientImage)
	name := labtest.Name(t)
	x := rand.IntN(256)
	file := filepath.Join(t.TempDir(), "twice.yaml")
	os.WriteFile(file, []byte(fmt.Sprintf(`name: %s
networks:
  lab: {ipv4: 10.253.%d.0/24, ipv6: "fd5c:1ab:fffd:%x::/64"}
nodes:
  welcome:
    image: welcome
    networks: [lab]
  client:
    image: client
    networks: [lab]
steps:
  - name: greeting over both families
    node: client
    run: welcome
    target: welcome
    family: both
    expect: {contains: Welcome}
`, name, x, x)), 0o644)
	t.Cleanup(func() {
		for _, l := range labsOf(t, []string{name}) {
			labctl(t, "down", l)
		}
	})
	code, stdout, stderr := labctl(t, "test", "-j", "2", file, file)
	if code != 0 || strings.Count(stdout, "PASS") != 4 {
		t.Fatalf("test -j 2 of one file twice: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	labs := map[string]bool{}
	for _, line := range strings.Split(stderr, "\n") {
		if _, l, ok := strings.Cut(line, ": up as lab "); ok {
			labs[l] = true
		}
	}
	if len(labs) != 2 {
		t.Errorf("labs %v, want two of their own\n%s", labs, stderr)
	}
}
