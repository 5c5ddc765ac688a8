package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"socketlab/internal/images"
	"socketlab/internal/labtest"
	"socketlab/labctl/backend"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// helpersLeft lists the helper containers of lab name still on the engine.
func helpersLeft(t *testing.T, name string) []string {
	t.Helper()
	ctrs, _, err := labtest.Engine().Backend().List(context.Background(), backend.Selector{lab.LabelLab: name, lab.LabelRole: lab.RoleHelper})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range ctrs {
		out = append(out, c.Name)
	}
	return out
}

// startCapture runs labctl capture args in the background and returns once
// it says it is capturing; stop sends SIGINT (Ctrl-C) and waits for it.
func startCapture(t *testing.T, args ...string) (stop func() (code int, stdout, stderr string)) {
	t.Helper()
	bin, err := labctlBin()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"capture"}, args...)...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	var stderr bytes.Buffer
	live := make(chan bool, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			stderr.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "capturing ") {
				live <- true
			}
		}
		live <- false
	}()
	select {
	case ok := <-live:
		if !ok {
			cmd.Wait()
			<-done
			t.Fatalf("labctl capture %q ended before capturing: %s", args, stderr.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("labctl capture %q did not start within a minute", args)
	}
	return func() (int, string, string) {
		cmd.Process.Signal(syscall.SIGINT)
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		select {
		case <-waited:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Errorf("labctl capture did not end within a minute of Ctrl-C")
			<-waited
		}
		<-done
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}
}

// tsharkFields reads a pcapng file with tshark and returns one line per
// packet: the fields asked for, tab-separated.
func tsharkFields(t *testing.T, file, filter string, fields ...string) []string {
	t.Helper()
	tshark := labtest.NeedCommand(t, "tshark", "tshark")
	args := []string{"-r", file, "-T", "fields"}
	if filter != "" {
		args = append(args, "-Y", filter)
	}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command(tshark, args...).Output()
	if err != nil {
		t.Fatalf("tshark %q: %v", args, err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestCaptureWelcome: labctl capture -w during sock welcome gives a pcapng
// that tshark reads, with the handshake and a FIN each way and no RST; Ctrl-C
// ends it with the statistics written and no helper container left.
func TestCaptureWelcome(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome", scenario.ClientImage, images.Capture)
	l := labtest.Up(t, pair("welcome"))
	file := filepath.Join(t.TempDir(), "welcome.pcapng")
	stop := startCapture(t, "--lab", l.Name(), "-w", file, "client")
	if p, code := run(t, l, "client", "sock", "welcome", "--json", "-4", "welcome"); code != 0 || !p.OK {
		t.Fatalf("sock welcome: exit %d, %+v", code, p)
	}
	time.Sleep(500 * time.Millisecond) // the helper hands packets over within 60 ms
	code, _, stderr := stop()
	if code != 0 {
		t.Fatalf("labctl capture exited %d after Ctrl-C: %s", code, stderr)
	}
	if !strings.Contains(stderr, "dropped by the kernel") {
		t.Errorf("no drop counter at the end: %q", stderr)
	}
	if left := helpersLeft(t, l.Name()); len(left) > 0 {
		t.Errorf("helper containers left after Ctrl-C: %v", left)
	}
	lines := tsharkFields(t, file, "tcp.port == 9999", "frame.interface_name", "tcp.srcport", "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset")
	var syn, synAck, finFromServer, finFromClient, rst int
	for _, line := range lines {
		f := strings.Split(line, "\t")
		if len(f) != 6 {
			t.Fatalf("tshark line %q", line)
		}
		if f[0] != "client:net" {
			t.Errorf("packet on interface %q, want client:net", f[0])
		}
		is := func(s string) bool { return s == "1" || s == "True" }
		switch {
		case is(f[2]) && !is(f[3]):
			syn++
		case is(f[2]) && is(f[3]):
			synAck++
		}
		if is(f[4]) {
			if f[1] == "9999" {
				finFromServer++
			} else {
				finFromClient++
			}
		}
		if is(f[5]) {
			rst++
		}
	}
	if syn != 1 || synAck != 1 || finFromServer != 1 || finFromClient != 1 || rst != 0 {
		t.Errorf("tshark saw SYN %d, SYN-ACK %d, FIN from server %d, FIN from client %d, RST %d; want 1 1 1 1 0:\n%s",
			syn, synAck, finFromServer, finFromClient, rst, strings.Join(lines, "\n"))
	}
}

// TestCaptureNetwork: --network captures every node on it, so the live
// view shows both ends of a conversation.
func TestCaptureNetwork(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "echo", scenario.ClientImage, images.Capture)
	l := labtest.Up(t, pair("echo"))
	stop := startCapture(t, "--lab", l.Name(), "--network", "net", "--filter", "udp port 7")
	if p, code := run(t, l, "client", "sock", "echo", "--json", "--udp", "-6", "echo", "one datagram"); code != 0 || !p.OK {
		t.Fatalf("sock echo: exit %d, %+v", code, p)
	}
	time.Sleep(500 * time.Millisecond)
	code, stdout, stderr := stop()
	if code != 0 {
		t.Fatalf("labctl capture exited %d: %s", code, stderr)
	}
	var fromClient, atEcho int
	for _, line := range strings.Split(stdout, "\n") {
		if !strings.Contains(line, `UDP len=12 "one datagram"`) {
			continue
		}
		switch {
		case strings.Contains(line, " client:net "):
			fromClient++
		case strings.Contains(line, " echo:net "):
			atEcho++
		}
	}
	// The datagram and its echo, each seen by both nodes.
	if fromClient != 2 || atEcho != 2 {
		t.Errorf("datagram lines: %d at client, %d at echo; want 2 each:\n%s", fromClient, atEcho, stdout)
	}
	if left := helpersLeft(t, l.Name()); len(left) > 0 {
		t.Errorf("helper containers left: %v", left)
	}
}

// TestCaptureBadInput: an unknown node or network, a filter that does not
// parse, a node that is not running: exit 2, a clear error, nothing left.
func TestCaptureBadInput(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome", scenario.ClientImage, images.Capture)
	l := labtest.Up(t, pair("welcome"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := l.Stop(ctx, "welcome"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"clinet"}, `no node "clinet" (did you mean "client"?)`},
		{[]string{"client:front"}, `no network "front"`},
		{[]string{"--network", "nett"}, `no network "nett" (did you mean "net"?)`},
		{[]string{"--filter", "tcp port", "client"}, `column 9`},
		{[]string{"welcome"}, `node "welcome" is exited, not running`},
	} {
		code, _, stderr := labctl(t, append([]string{"capture", "--lab", l.Name(), "--duration", "5s"}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("capture %q: exit %d, %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
	if left := helpersLeft(t, l.Name()); len(left) > 0 {
		t.Errorf("helper containers left: %v", left)
	}
}

// testFile writes a copy of a library scenario with its fixed subnets moved
// to ones of this test, so that it can run beside the library's own run.
func testFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "scenarios", name))
	if err != nil {
		t.Fatal(err)
	}
	n := 100 + rand.IntN(150)
	s := strings.ReplaceAll(string(b), "10.201.1.", fmt.Sprintf("10.201.%d.", n))
	s = strings.ReplaceAll(s, "fd00:5c:201:1:", fmt.Sprintf("fd00:5c:201:%d:", n))
	file := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestTestCapture: labctl test --capture of udp-vs-tcp.yaml writes one
// pcapng, steps marked, named by the table and the JUnit file, and its
// wire checks (RST for TCP, ICMP port unreachable for UDP) pass.
func TestTestCapture(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome", "responder", scenario.ClientImage, images.Capture)
	dir := t.TempDir()
	name := labtest.Name(t)
	junit := filepath.Join(dir, "junit.xml")
	code, stdout, stderr := labctl(t, "test", "--name", name, "--capture", dir, "--junit", junit, testFile(t, "udp-vs-tcp.yaml"))
	if code != 0 {
		t.Fatalf("labctl test exited %d:\n%s\n%s", code, stdout, stderr)
	}
	file := filepath.Join(dir, name+".pcapng")
	if !strings.Contains(stdout, "capture: "+file) {
		t.Errorf("the table does not name %s:\n%s", file, stdout)
	}
	if b, _ := os.ReadFile(junit); !strings.Contains(string(b), "[[ATTACHMENT|"+file+"]]") {
		t.Errorf("the JUnit file has no attachment line for %s:\n%s", file, b)
	}
	marks := tsharkFields(t, file, "frame.comment", "frame.comment")
	if len(marks) != 14 || !strings.HasPrefix(marks[0], "step 1 [ipv4] start:") || !strings.HasPrefix(marks[13], "step 7 end:") {
		t.Errorf("step markers: %q; want a start and an end for each of 7 steps", marks)
	}
	if icmp := tsharkFields(t, file, "icmp.type == 3 && icmp.code == 3", "frame.interface_name"); len(icmp) == 0 {
		t.Errorf("no ICMP port unreachable in %s", file)
	}
	if left := helpersLeft(t, name); len(left) > 0 {
		t.Errorf("helper containers left: %v", left)
	}
	if labtest.Exists(t, name) {
		t.Errorf("lab %s is still up", name)
	}
}

// TestWireFails: a wire expectation that does not hold fails the step with
// what was expected and what crossed the wire.
func TestWireFails(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome", scenario.ClientImage, images.Capture)
	file := filepath.Join(t.TempDir(), "wire.yaml")
	os.WriteFile(file, []byte(`name: wire
networks: {net: {}}
nodes:
  welcome: {image: welcome, networks: [net]}
  client: {image: client, networks: [net]}
steps:
  - name: welcome resets
    node: client
    run: welcome
    target: welcome
    family: ipv6
    expect: {wire: {close: rst, family: IPv4}}
`), 0o644)
	name := labtest.Name(t)
	code, stdout, stderr := labctl(t, "test", "--name", name, file)
	if code != 1 {
		t.Fatalf("labctl test exited %d, want 1:\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"FAIL", "expected: success; wire.close rst, wire.family IPv4", "wire.close fin by server (both ways), wire.family IPv6"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
	if left := helpersLeft(t, name); len(left) > 0 {
		t.Errorf("helper containers left: %v", left)
	}
}
