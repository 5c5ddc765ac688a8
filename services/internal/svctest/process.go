package svctest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startWait bounds how long a started binary may take to log its first line.
const startWait = 10 * time.Second

// Process is a server binary running under a test, started by StartBinary.
// Its JSON log (stdout) is collected line by line, so a busy server never
// blocks on a log nobody reads.
type Process struct {
	// Bin is the path of the binary, for running its other sub-commands.
	Bin string
	// Port is the PORT the server was given in its environment.
	Port int
	// Listening is the server's first log line, which says where it listens.
	Listening string

	cmd    *exec.Cmd
	log    lineLog
	stderr Buffer
	exited chan struct{} // closed when the process has ended and its log is read
	err    error         // how it ended, once exited is closed
	termAt time.Time     // when Terminate sent SIGTERM
}

// StartBinary builds the main package pkg (as Binary does), starts it with
// args and PORT set to a free port, and waits for its first log line, which
// must say "listening". The process is killed when the test ends, if it is
// still running.
func StartBinary(t testing.TB, pkg string, args ...string) *Process {
	t.Helper()
	p := &Process{Bin: Binary(t, pkg), Port: FreePort(t), exited: make(chan struct{})}
	p.log.more = make(chan struct{}, 1)
	p.cmd = exec.Command(p.Bin, args...)
	p.cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(p.Port))
	p.cmd.Stdout = &p.log
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.Bin, err)
	}
	go func() {
		// Wait returns once the process has ended and its stdout is copied.
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
	})
	first, ok := p.NextLog(startWait)
	if !ok || !strings.Contains(first, `"msg":"listening"`) {
		t.Fatalf("first log line: %q; stderr: %q", first, p.stderr.String())
	}
	p.Listening = first
	return p
}

// NextLog returns the next line the server logs that NextLog has not
// returned yet. It reports false when none comes within wait, or when the
// process has ended with no line left.
func (p *Process) NextLog(wait time.Duration) (string, bool) {
	timeout := time.After(wait)
	for {
		if l, ok := p.log.next(); ok {
			return l, true
		}
		select {
		case <-p.log.more:
		case <-p.exited:
			return p.log.next()
		case <-timeout:
			return "", false
		}
	}
}

// Healthy runs the binary's healthcheck against Port and fails the test
// unless it exits with status 0 and prints a line starting "healthy". It
// returns what the healthcheck printed.
func (p *Process) Healthy(t testing.TB, flags ...string) string {
	t.Helper()
	b, err := exec.Command(p.Bin, append([]string{"healthcheck", "--port", strconv.Itoa(p.Port)}, flags...)...).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(b), "healthy") {
		t.Errorf("healthcheck: %v %s", err, b)
	}
	return string(b)
}

// Unhealthy runs the binary's healthcheck against Port with a timeout of
// 500ms and fails the test unless it exits with a non-zero status and says
// "unhealthy": for after Stop.
func (p *Process) Unhealthy(t testing.TB) {
	t.Helper()
	b, err := exec.Command(p.Bin, "healthcheck", "--port", strconv.Itoa(p.Port), "--timeout", "500ms").CombinedOutput()
	if err == nil || !strings.Contains(string(b), "unhealthy") {
		t.Errorf("healthcheck with no server: %v %s", err, b)
	}
}

// Terminate sends SIGTERM to the server; Wait measures from then.
func (p *Process) Terminate(t testing.TB) {
	t.Helper()
	p.termAt = time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("send SIGTERM: %v", err)
	}
}

// Wait waits for the server to end after Terminate and fails the test
// unless it exited with status 0 within the given time of the SIGTERM. A
// server still running 10 s past that is killed. Wait returns the lines the
// server logged that NextLog has not returned, up to the end of its log.
func (p *Process) Wait(t testing.TB, within time.Duration) []string {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(within + 10*time.Second):
		p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("still running %v after SIGTERM: killed", time.Since(p.termAt))
		return p.log.rest()
	}
	took := time.Since(p.termAt)
	if p.err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0", p.err)
	}
	if took > within {
		t.Errorf("stopping took %v, want under %v", took, within)
	} else {
		t.Logf("stopped %v after SIGTERM", took)
	}
	return p.log.rest()
}

// Stop is Terminate then Wait: it fails the test unless the server exits
// with status 0 within the given time of a SIGTERM, and returns the lines
// logged that NextLog has not returned.
func (p *Process) Stop(t testing.TB, within time.Duration) []string {
	t.Helper()
	p.Terminate(t)
	return p.Wait(t, within)
}

// lineLog splits what a process writes into lines; next and rest hand them
// out in order, each once.
type lineLog struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	read    int           // lines handed out so far
	more    chan struct{} // signalled after a Write that completes a line
}

func (l *lineLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, b...)
	added := false
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
		added = true
	}
	if added {
		select {
		case l.more <- struct{}{}:
		default:
		}
	}
	return len(b), nil
}

func (l *lineLog) next() (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.read == len(l.lines) {
		return "", false
	}
	l.read++
	return l.lines[l.read-1], true
}

// rest returns the lines not handed out yet, and a last line without its
// newline if the process ended in the middle of one.
func (l *lineLog) rest() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	rest := l.lines[l.read:]
	l.read = len(l.lines)
	if len(l.partial) > 0 {
		rest = append(rest, string(l.partial))
		l.partial = nil
	}
	return rest
}

// Usage is one command line of a server binary and how the binary must
// answer it.
type Usage struct {
	Name string   // the subtest's name
	Args []string // the command line after the binary's name
	Env  []string // added to the test's environment, as "NAME=value"
	Code int      // the exit status
	Want string   // text that stdout or stderr must contain
}

// CheckUsage runs the binary built from pkg once per case, in parallel
// subtests, and fails each case whose exit status differs or whose output
// lacks its text.
func CheckUsage(t *testing.T, pkg string, cases []Usage) {
	t.Helper()
	bin := Binary(t, pkg)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(bin, c.Args...)
			cmd.Env = append(os.Environ(), c.Env...)
			b, err := cmd.CombinedOutput()
			code := 0
			var ee *exec.ExitError
			switch {
			case errors.As(err, &ee):
				code = ee.ExitCode()
			case err != nil:
				t.Fatalf("run %s: %v", bin, err)
			}
			if code != c.Code || !strings.Contains(string(b), c.Want) {
				t.Errorf("exit %d (want %d), output %q; want it to contain %q", code, c.Code, b, c.Want)
			}
		})
	}
}
