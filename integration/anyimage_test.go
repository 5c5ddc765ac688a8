package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"socketlab/internal/images"
	"socketlab/internal/labtest"
	"socketlab/labctl/check"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// ownImage tags the toolbox as an image of a name that is not socketlab's,
// as a user's own image would be, and removes the tag when t ends.
func ownImage(t *testing.T) string {
	t.Helper()
	labtest.NeedImages(t, images.Toolbox)
	ref := fmt.Sprintf("it-own/app:%d-%d", os.Getpid(), time.Now().UnixNano()%100000)
	if out, err := exec.Command("docker", "tag", images.Ref(images.Toolbox, ""), ref).CombinedOutput(); err != nil {
		t.Fatalf("docker tag: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "image", "rm", ref).Run() })
	return ref
}

// writeScenario writes files (name → content) and the scenario text into a
// fresh folder and parses the scenario from there.
func writeScenario(t *testing.T, text string, files map[string]string) (*scenario.Scenario, error) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "lab.yaml")
	os.WriteFile(path, []byte(text), 0o644)
	return scenario.Load(path)
}

// server is a Python program that greets each connection with a line and
// says when it listens.
const server = `import socket, sys
s = socket.create_server(("::", int(sys.argv[1])), family=socket.AF_INET6, dualstack_ipv6=True)
print("listening on", sys.argv[1], flush=True)
while True:
    c, a = s.accept()
    c.sendall(open("/lab/data/greeting.txt", "rb").read())
    c.close()
`

// TestAnyImageWithFiles: a node of an image that is not socketlab's gets a
// program and a folder copied in (through the API, into a read-only root),
// runs it as its command, is ready when its log says so, and publishes its
// port on the host's 127.0.0.1. Exec steps judge exit status and output,
// and a wrong exit status fails with what was expected and what came back.
func TestAnyImageWithFiles(t *testing.T) {
	t.Parallel()
	ref := ownImage(t)
	port := freeTCPPort(t)
	sc, err := writeScenario(t, fmt.Sprintf(`name: anyimage
networks:
  net: {}
nodes:
  app:
    image: %s
    networks: [net]
    files: ["./server.py:/lab/server.py", "./data:/lab/data"]
    command: [python3, /lab/server.py, "8000"]
    ready: {log: listening on, timeout: 20s}
    publish: ["%d:8000"]
  client: {image: client, networks: [net]}
steps:
  - name: the copied program answers
    node: client
    run: welcome
    target: app:8000
    family: both
    expect: {equals: "hello from the lab"}
  - name: an exec step that passes
    node: app
    exec: [python3, -c, "import sys; print(open('/lab/server.py').readline().strip()); sys.stderr.write('to stderr'); sys.exit(3)"]
    expect: {contains: import socket, stderr: {equals: to stderr}, exit: 3}
  - name: an exec step whose exit status differs
    node: app
    exec: [python3, -c, "print('fine')"]
    expect: {contains: fine, exit: 4}
  - name: the root stays read-only
    node: app
    exec: [touch, /lab/new]
    expect: {exit: 1, stderr: {contains: Read-only file system}}
`, ref, port), map[string]string{"server.py": server, "data/greeting.txt": "hello from the lab\n"})
	if err != nil {
		t.Fatal(err)
	}
	var events []lab.Event
	l := labtest.Up(t, sc, lab.WithProgress(func(ev lab.Event) { events = append(events, ev) }))
	st := status(t, l)
	if n := node(t, st, "app"); n.Ready != `log "listening on"` || !n.Security.ReadOnlyRoot || n.Image != ref+" + files" {
		t.Errorf("app: ready %q, read-only root %v, image %s; want the log check, read-only, the image with the files",
			n.Ready, n.Security.ReadOnlyRoot, n.Image)
	}
	if n := node(t, st, "client"); n.Ready != "" {
		t.Errorf("client: ready %q, want nothing checked", n.Ready)
	}
	for _, ev := range events {
		if ev.Name == "client" && ev.Phase == lab.Healthy {
			t.Error("a node with no readiness check was reported healthy")
		}
	}

	// The published port answers on the host's loopback.
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatalf("published port: %v", err)
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if line != "hello from the lab\n" {
		t.Errorf("published port gave %q", line)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep := check.Run(ctx, l, sc, nil)
	want := []string{check.Pass, check.Pass, check.Pass, check.Fail, check.Pass}
	for i, r := range rep.Results {
		if i >= len(want) || r.Outcome != want[i] {
			t.Errorf("step %d %q: %s (expected %s; got %s; %s)", r.Index, r.Name, r.Outcome, r.Expected, r.Got, r.Message)
		}
	}
	if len(rep.Results) != len(want) {
		t.Fatalf("%d results, want %d", len(rep.Results), len(want))
	}
	bad := rep.Results[3]
	if !strings.Contains(bad.Expected, "exit 4") || !strings.HasPrefix(bad.Got, "exit 0,") || bad.Output != "fine\n" {
		t.Errorf("the failing exec step reports expected %q, got %q, output %q", bad.Expected, bad.Got, bad.Output)
	}

	// A node with a command runs under an init: SIGTERM stops it without
	// waiting for the kill.
	if err := l.Stop(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if n := node(t, status(t, l), "app"); n.State != "exited" || n.ExitCode == 137 {
		t.Errorf("after stop: %s, exit %d; want exited by SIGTERM, not killed", n.State, n.ExitCode)
	}
}

func freeTCPPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestMissingImage: an image that is not there is an error naming it and
// saying how to get it; nothing is created and nothing is pulled.
func TestMissingImage(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, images.Client)
	ref := fmt.Sprintf("it-missing/nothere:%d", os.Getpid())
	sc, err := scenario.Parse("missing.yaml", []byte(fmt.Sprintf(`name: missing
networks: {net: {}}
nodes:
  a: {image: %q, networks: [net]}
  client: {image: client, networks: [net]}
`, ref)))
	if err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Second)
	name := labtest.Name(t)
	_, err = labtest.Engine().Up(context.Background(), sc, lab.WithName(name))
	if !errors.Is(err, lab.ErrImageMissing) {
		t.Fatalf("up: %v, want ErrImageMissing", err)
	}
	for _, want := range []string{ref, "docker pull " + ref, "--pull missing", "nothing was created"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if labtest.Exists(t, name) {
		t.Error("a failed up left resources")
	}
	out, err := exec.Command("docker", "events", "--since", since.Format(time.RFC3339Nano), "--until", time.Now().Add(time.Second).Format(time.RFC3339Nano),
		"--filter", "type=image", "--filter", "event=pull", "--format", "{{.Action}} {{.Actor.ID}}").CombinedOutput()
	if err != nil {
		t.Fatalf("docker events: %v: %s", err, out)
	}
	if strings.Contains(string(out), "it-missing/nothere") {
		t.Errorf("up pulled: %s", out)
	}
}

// TestHostPathsAndCapsRefused: files outside the scenario's folder, a
// symbolic link out of it, a file that does not exist, the Docker socket,
// and a capability off the list are refused before anything is created.
func TestHostPathsAndCapsRefused(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, images.Toolbox)
	_, err := writeScenario(t, `name: caps
networks: {net: {}}
nodes:
  a: {image: toolbox, networks: [net], cap_add: [SYS_ADMIN]}
`, nil)
	var errs scenario.Errors
	if !errors.As(err, &errs) || !strings.Contains(err.Error(), "lab.yaml:4:50: nodes.a.cap_add[0]: capability SYS_ADMIN") {
		t.Errorf("cap_add SYS_ADMIN: %v", err)
	}

	sc, err := writeScenario(t, `name: paths
networks: {net: {}}
nodes:
  a:
    image: toolbox
    networks: [net]
    files: ["../outside.py:/lab/x.py", "./etc/passwd:/lab/passwd", "./gone.py:/lab/gone.py"]
    mounts: ["/var/run/docker.sock:/var/run/docker.sock"]
`, map[string]string{"../outside.py": "print('x')\n"})
	if err != nil {
		t.Fatal(err)
	}
	os.Symlink("/etc", filepath.Join(filepath.Dir(sc.File), "etc"))
	name := labtest.Name(t)
	_, err = labtest.Engine().Up(context.Background(), sc, lab.WithName(name))
	if !errors.Is(err, lab.ErrInvalid) {
		t.Fatalf("up: %v, want ErrInvalid", err)
	}
	for _, want := range []string{
		`nodes.a.files[0]: host path "../outside.py" is outside the scenario's folder`,
		`nodes.a.files[1]: host path "./etc/passwd" is outside the scenario's folder`,
		`nodes.a.files[2]: host path "./gone.py" does not exist`,
		`nodes.a.mounts[0]: host path "/var/run/docker.sock" is outside the scenario's folder`,
		"--allow-host-paths",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if labtest.Exists(t, name) {
		t.Error("a refused up left resources")
	}
}

// TestReadyNeverPasses: a readiness check that never passes fails up with
// the node's last log lines, and up removes what it created.
func TestReadyNeverPasses(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, images.Toolbox, images.Client)
	sc, err := scenario.Parse("never.yaml", []byte(`name: never
networks: {net: {}}
nodes:
  a:
    image: toolbox
    networks: [net]
    command: [python3, -c, "import time; print('binding port 7001 failed: try another', flush=True); time.sleep(600)"]
    ready: {tcp: 7000, timeout: 3s}
`))
	if err != nil {
		t.Fatal(err)
	}
	name := labtest.Name(t)
	_, err = labtest.Engine().Up(context.Background(), sc, lab.WithName(name))
	if !errors.Is(err, lab.ErrUnhealthy) {
		t.Fatalf("up: %v, want ErrUnhealthy", err)
	}
	for _, want := range []string{"readiness check (tcp 7000) within 3s", "its log ends with:\nbinding port 7001 failed: try another"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if labtest.Exists(t, name) {
		t.Error("a failed up left resources (the node or its readiness probe)")
	}
}
