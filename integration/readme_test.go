package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"socketlab/internal/labtest"
)

// byHandBlocks returns the shell blocks of the README's "Running a service
// by hand" section, in order.
func byHandBlocks(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n### Running a service by hand\n")
	if !ok {
		t.Fatal(`README.md has no "### Running a service by hand" section`)
	}
	if i := strings.Index(sec, "\n## "); i >= 0 {
		sec = sec[:i]
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(sec, -1) {
		blocks = append(blocks, m[1])
	}
	if len(blocks) < 5 {
		t.Fatalf("only %d shell blocks in the section", len(blocks))
	}
	return blocks
}

// TestReadmeByHand runs the README's "Running a service by hand" blocks as
// a person would: each line in turn in one shell, from a directory whose bin/
// holds the binaries `make build` makes, with a moment after each line that
// starts a server in the background. Every line must succeed. The shell runs
// in a network namespace of its own when the system allows it, so that the
// fixed ports of the examples meet nobody else's; every process it started
// is killed at the end.
func TestReadmeByHand(t *testing.T) {
	labtest.NeedCommand(t, "nc", "netcat-openbsd")
	if out, _ := exec.Command("nc", "-h").CombinedOutput(); !bytes.Contains(out, []byte("-N")) {
		t.Skip("the README's examples need netcat-openbsd's nc (nc -N)")
	}
	blocks := byHandBlocks(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	repo, _ := filepath.Abs("..")
	began := time.Now()
	if out, err := exec.Command("make", "-s", "-C", repo, "build", "BIN="+bin).CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	t.Logf("make build: %.1fs", time.Since(began).Seconds())

	shell := []string{"bash", "-e"}
	if exec.Command("unshare", "-rn", "ip", "link", "set", "lo", "up").Run() == nil {
		shell = []string{"unshare", "-rn", "bash", "-c", "ip link set lo up && exec bash -e"}
	} else {
		t.Log("no network namespace here: the examples run on this host's loopback")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sh := exec.CommandContext(ctx, shell[0], shell[1:]...)
	sh.Dir = dir
	sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	sh.Cancel = func() error { return syscall.Kill(-sh.Process.Pid, syscall.SIGKILL) }
	// A file, not a pipe: the background servers keep their output open
	// after the shell ends, and Wait would wait for them.
	out, err := os.Create(filepath.Join(dir, "session.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	sh.Stdout, sh.Stderr = out, out
	session := func() string { b, _ := os.ReadFile(out.Name()); return string(b) }
	in, err := sh.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	// The servers run on in the background after the shell ends: kill the
	// whole process group, whatever happened.
	defer syscall.Kill(-sh.Process.Pid, syscall.SIGKILL)

	exited := make(chan error, 1)
	go func() { exited <- sh.Wait() }()
	var ran []string
	for _, block := range blocks {
		sc := bufio.NewScanner(strings.NewReader(block))
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "make build") {
				continue // done above, into the temporary bin/
			}
			ran = append(ran, line)
			// Echo each line first, so that a failure shows where it was,
			// and after it a mark, to know that the shell has run it.
			mark := fmt.Sprintf("-- line %d done", len(ran))
			io.WriteString(in, "echo '$ '"+shellQuote(line)+"\n"+line+"\necho '"+mark+"'\n")
			for !strings.Contains(session(), mark) {
				select {
				case err := <-exited:
					t.Fatalf("README line %q failed (%v); the session:\n%s", line, err, session())
				case <-time.After(20 * time.Millisecond):
				}
			}
			if strings.HasSuffix(strings.TrimSpace(strings.SplitN(line, " #", 2)[0]), "&") {
				time.Sleep(300 * time.Millisecond) // a server starting: a person takes longer to type the next line
			}
		}
	}
	in.Close()
	if err := <-exited; err != nil {
		t.Fatalf("the shell failed at its end (%v); the session:\n%s", err, session())
	}
	got := session()
	for _, want := range []string{
		"over IPv4", `"family":"IPv6"`, "healthy: welcome answers",
		"<guest1> hello from nc",
		"In the caves beneath the Misty Mountains.",
		"First 10 bytes of request: binaryhell",
		"you are [::1]:",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the session lacks %q:\n%s", want, got)
		}
	}
	t.Logf("%d lines ran", len(ran))
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestReadmeCheckYourProgram runs every line of the README's "Check your
// program" section as written, from a folder holding a learner's files
// (my_server.py, my_client.py, class/*.py: the correct programs of
// examples/python) and bin/labctl; `make toolbox` is what the images
// guard stands for. Every line must pass: each program passes its lesson.
func TestReadmeCheckYourProgram(t *testing.T) {
	labtest.NeedImages(t, "toolbox", "echo", "capture")
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n### Check your program\n")
	if !ok {
		t.Fatal(`README.md has no "### Check your program" section`)
	}
	sec, _, _ = strings.Cut(sec, "\n### ")
	dir := t.TempDir()
	bin, err := labctlBin()
	if err != nil {
		t.Fatal(err)
	}
	for dst, src := range map[string]string{
		"my_server.py": "echo_multi_server.py", "my_client.py": "echo_client.py",
		"class/ada.py": "udp_receiver.py", "class/bob.py": "udp_receiver.py",
	} {
		data, err := os.ReadFile(filepath.Join("..", "examples", "python", src))
		if err == nil {
			err = os.MkdirAll(filepath.Dir(filepath.Join(dir, dst)), 0o755)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, dst), data, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(dir, "bin", "labctl")); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(sec, -1) {
		for _, line := range strings.Split(strings.TrimSpace(m[1]), "\n") {
			if !strings.HasPrefix(line, "make toolbox") {
				lines = append(lines, line)
			}
		}
	}
	if len(lines) < 5 {
		t.Fatalf("only %d lines to run in the section", len(lines))
	}
	var session strings.Builder
	for _, line := range lines {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-c", line)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		cancel()
		fmt.Fprintf(&session, "$ %s\n%s", line, out)
		if err != nil {
			t.Fatalf("README line %q: %v; the session:\n%s", line, err, session.String())
		}
	}
	got := session.String()
	for _, want := range []string{"6 of 6 checks passed", "report: out/report.html", "echo-server ", "4 of 4 checks passed", "2 of 2 programs passed every check"} {
		if !strings.Contains(got, want) {
			t.Errorf("the session lacks %q:\n%s", want, got)
		}
	}
	for _, f := range []string{"out/report.html", "grades.xml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("README promises %s: %v", f, err)
		}
	}
}
