package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"socketlab/internal/labtest"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// labctlDir holds the labctl binary built for this test process; TestMain
// removes it.
var labctlDir = sync.OnceValues(func() (string, error) { return os.MkdirTemp("", "labctl-test-") })

var labctlBin = sync.OnceValues(func() (string, error) {
	dir, err := labctlDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "labctl")
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "build", "-o", bin, "./labctl")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", errors.New("go build ./labctl: " + err.Error() + "\n" + string(out))
	}
	return bin, nil
})

// labctl runs the labctl binary and returns its exit status and output.
func labctl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	bin, err := labctlBin()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("labctl %q: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// labctlUp writes a scenario into the test's folder and brings it up with
// the labctl binary under a lab name of the test's own, taken down when the
// test ends. It returns the lab's name.
func labctlUp(t *testing.T, yaml string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "lab.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	name := labtest.Name(t)
	t.Cleanup(func() { labctl(t, "down", name) })
	if code, _, stderr := labctl(t, "up", "-q", "--name", name, file); code != 0 {
		t.Fatalf("up: exit %d: %s", code, stderr)
	}
	return name
}

// TestCLI drives labctl as a person would: up, up again, status, exec,
// logs, down.
func TestCLI(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome", scenario.ClientImage)
	file := filepath.Join(t.TempDir(), "cli.yaml")
	os.WriteFile(file, []byte(`name: cli
networks:
  net: {}
nodes:
  welcome:
    image: welcome
    networks: [net]
  client:
    image: client
    networks: [net]
`), 0o644)
	name := labtest.Name(t)
	t.Cleanup(func() { labctl(t, "down", name) })

	steps := []struct {
		args   []string
		code   int
		stdout []string
	}{
		{[]string{"up", "--name", name, file}, 0, []string{"node welcome healthy", "lab " + name + " is up", "IPv6", "Try:", "exec --lab " + name + " client -- sock welcome -6 welcome"}},
		{[]string{"up", "--name", name, file}, 0, []string{"node welcome unchanged", "nothing changed"}},
		{[]string{"exec", "--lab", name, "client", "--", "sock", "welcome", "-6", "welcome"}, 0, []string{"over IPv6"}},
		{[]string{"exec", "--lab", name, "client", "--", "sock", "welcome", "--timeout", "1s", "nosuch"}, 1, nil},
		{[]string{"exec", "--lab", name, "welcome", "--", "/bin/welcome", "healthcheck"}, 0, []string{"healthy"}},
		{[]string{"logs", "--lab", name, "welcome"}, 0, []string{`"service":"welcome"`, `"family":"IPv6"`}},
		{[]string{"logs", "--all", "--lab", name, "welcome"}, 0, []string{`"healthcheck":true`, `"family":"IPv6"`}},
		{[]string{"down", name}, 0, []string{"network net removed", "lab " + name + " is down"}},
		{[]string{"down", name}, 0, []string{"lab " + name + " is not up: nothing to do"}},
		{[]string{"status", name}, 1, nil},
	}
	for _, st := range steps {
		code, stdout, stderr := labctl(t, st.args...)
		if code != st.code {
			t.Fatalf("labctl %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(st.args, " "), code, st.code, stdout, stderr)
		}
		for _, want := range st.stdout {
			if !strings.Contains(stdout, want) {
				t.Errorf("labctl %s: output lacks %q:\n%s", strings.Join(st.args, " "), want, stdout)
			}
		}
		if st.args[0] == "logs" && !slices.Contains(st.args, "--all") && strings.Contains(stdout, `"healthcheck"`) {
			t.Errorf("labctl %s shows the healthcheck's lines:\n%s", strings.Join(st.args, " "), stdout)
		}
		if st.args[0] == "up" && st.code == 0 {
			// status -o json is the machine-readable twin of the table.
			code, out, _ := labctl(t, "status", name, "-o", "json")
			var s lab.Status
			if code != 0 || json.Unmarshal([]byte(out), &s) != nil || len(s.Nodes) != 2 || s.Nodes[0].Addresses[0].IPv6 == "" {
				t.Errorf("status -o json: exit %d: %s", code, out)
			}
		}
	}
}

// TestConcurrentProcesses brings labs up from several labctl processes at
// once, from a pool of four subnets: they choose alike often, Docker refuses
// the second of two, and it must choose again.
func TestConcurrentProcesses(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome")
	file := filepath.Join(t.TempDir(), "one.yaml")
	os.WriteFile(file, []byte("name: one\nnetworks:\n  net: {}\nnodes:\n  welcome:\n    image: welcome\n    networks: [net]\n"), 0o644)
	x := rand.IntN(64) * 4 // a /22 of 10.252.0.0/16, apart from other test runs
	pool4, pool6 := fmt.Sprintf("10.252.%d.0/22", x), fmt.Sprintf("fd5c:1ab:fffe:%x::/62", x)
	const n = 3
	names := make([]string, n)
	errs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		names[i] = labtest.Name(t)
		t.Cleanup(func() { labctl(t, "down", names[i]) })
		wg.Go(func() {
			if code, _, stderr := labctl(t, "up", "-q", "--name", names[i], "--ipv4-pool", pool4, "--ipv6-pool", pool6, file); code != 0 {
				errs[i] = stderr
			}
		})
	}
	wg.Wait()
	subnets := map[string]string{}
	for i, name := range names {
		if errs[i] != "" {
			t.Errorf("up %s: %s", name, errs[i])
			continue
		}
		code, out, _ := labctl(t, "status", name, "-o", "json")
		var s lab.Status
		if code != 0 || json.Unmarshal([]byte(out), &s) != nil {
			t.Fatalf("status %s: exit %d: %s", name, code, out)
		}
		for _, sn := range []string{s.Networks[0].IPv4, s.Networks[0].IPv6} {
			if other, ok := subnets[sn]; ok {
				t.Errorf("labs %s and %s share subnet %s", other, name, sn)
			}
			subnets[sn] = name
		}
	}
}

// TestTestNameLabelsReport: labctl test --name N reports the scenario as N,
// the lab it ran.
func TestTestNameLabelsReport(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome", scenario.ClientImage)
	file := filepath.Join(t.TempDir(), "named.yaml")
	os.WriteFile(file, []byte(`name: named
networks:
  net: {}
nodes:
  welcome: {image: welcome, networks: [net]}
  client: {image: client, networks: [net]}
steps:
  - {name: greet, node: client, run: welcome, target: welcome, expect: {contains: over}}
`), 0o644)
	name := labtest.Name(t)
	t.Cleanup(func() { labctl(t, "down", name) })
	junit := filepath.Join(t.TempDir(), "report.xml")
	code, stdout, stderr := labctl(t, "test", "-q", "--name", name, "-o", "json", "--junit", junit, file)
	var rep struct {
		Scenarios []struct {
			Scenario string `json:"scenario"`
		} `json:"scenarios"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &rep) != nil || len(rep.Scenarios) != 1 || rep.Scenarios[0].Scenario != name {
		t.Fatalf("exit %d, report %s\nstderr: %s\nwant the scenario labelled %s", code, stdout, stderr, name)
	}
	if b, _ := os.ReadFile(junit); !strings.Contains(string(b), `<testsuite name="`+name+`" tests="1"`) {
		t.Errorf("JUnit does not name the suite %s:\n%s", name, b)
	}
}

// TestExecInterruptExits130: Ctrl-C in labctl exec -i ... sock chat ends the
// chat (its input ends: it says QUIT) and labctl exits 130 without a word.
func TestExecInterruptExits130(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "chat", scenario.ClientImage)
	name := labctlUp(t, `name: ctrlc
networks:
  net: {}
nodes:
  chat: {image: chat, networks: [net]}
  client: {image: client, networks: [net]}
`)
	bin, err := labctlBin()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "exec", "-i", "--lab", name, "client", "--", "sock", "chat", "chat", "--nick", "ctrlc")
	stdin, _ := cmd.StdinPipe() // stays open, as a terminal does
	defer stdin.Close()
	var stdout, stderr labtestBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(stdout.String(), "you are ctrlc"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the chat did not start: %s %s", stdout.String(), stderr.String())
		}
	}
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("labctl exec did not end after Ctrl-C")
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 || stderr.String() != "" {
		t.Errorf("exit %d, stderr %q; want 130 and nothing", code, stderr.String())
	}
}

// labtestBuffer is a bytes.Buffer safe for a process to write while a test reads.
type labtestBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *labtestBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *labtestBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
