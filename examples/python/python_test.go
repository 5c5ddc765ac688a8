// Package python tests the lessons' Python programs on the host, over 127.0.0.1 and ::1:
// each learner's server against its learner's client and against sock, and each learner's
// client against the socketlab service it was written for. The Go binaries are built once
// into a temporary folder; every process a test starts is killed when it ends.
package python

import (
	"socketlab/internal/labtest/need"

	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// families are the loopback hosts every program is tested on.
var families = []struct{ name, host string }{{"IPv4", "127.0.0.1"}, {"IPv6", "::1"}}

var (
	python string // the python3 on PATH
	binDir string // where the Go binaries are built
	builds sync.Map
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	// Without python3 every test ends in needPython: go test then reports
	// each as skipped (failed with CI=true), not ok.
	python, _ = exec.LookPath("python3")
	if binDir, err = os.MkdirTemp("", "socketlab-pyex-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(binDir)
	return m.Run()
}

// needPython ends a test when python3 is not installed: a skip that says
// so, a failure with CI=true.
func needPython(t *testing.T) {
	t.Helper()
	if python == "" {
		need.Missing(t, "python3 is not installed (apt-get install python3)")
	}
}

// binary builds a socketlab command (services/welcome/cmd, services/sock, …) once per test
// run and returns the path of the binary.
func binary(t *testing.T, pkg string) string {
	t.Helper()
	type result struct {
		once sync.Once
		path string
		err  error
	}
	v, _ := builds.LoadOrStore(pkg, new(result))
	r := v.(*result)
	r.once.Do(func() {
		r.path = filepath.Join(binDir, strings.ReplaceAll(pkg, "/", "-"))
		cmd := exec.Command("go", "build", "-o", r.path, "socketlab/"+pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			r.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.path
}

// proc is a server running under a test; its output is collected line by line.
type proc struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	more  chan struct{}
	done  chan struct{}
}

// start runs argv (a server) in its own process group, killed when the test ends, and
// waits for its first line of output, which it returns.
func start(t *testing.T, env []string, argv ...string) (*proc, string) {
	t.Helper()
	p := &proc{cmd: exec.Command(argv[0], argv[1:]...), more: make(chan struct{}, 1), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			select {
			case p.more <- struct{}{}:
			default:
			}
		}
		p.cmd.Wait()
	}()
	t.Cleanup(func() {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	})
	if !p.await(func(l string) bool { return true }, 10*time.Second) {
		t.Fatalf("%v: no line of output within 10s; it wrote %q", argv, p.output())
	}
	return p, p.lines[0]
}

// await reports whether a line matching ok is written within wait.
func (p *proc) await(ok func(string) bool, wait time.Duration) bool {
	timeout := time.After(wait)
	for {
		p.mu.Lock()
		for _, l := range p.lines {
			if ok(l) {
				p.mu.Unlock()
				return true
			}
		}
		p.mu.Unlock()
		select {
		case <-p.more:
		case <-p.done:
			return false
		case <-timeout:
			return false
		}
	}
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// trailingPort is the port at the end of a server's first line: "listening on ('::', 7)".
var trailingPort = regexp.MustCompile(`(\d+)\D*$`)

// pyServer starts one of the lessons' servers on host with port 0 and returns its address.
func pyServer(t *testing.T, script, host string) (string, *proc) {
	t.Helper()
	p, first := start(t, nil, python, "-u", script, host, "0")
	m := trailingPort.FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("%s: no port in its first line %q", script, first)
	}
	return net.JoinHostPort(host, m[1]), p
}

// goServer starts a socketlab server on a free port (on every address, both families) and
// returns that port.
func goServer(t *testing.T, service string) string {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port := strconv.Itoa(freePort(t))
		_, first := start(t, []string{"PORT=" + port}, binary(t, "services/"+service+"/cmd"))
		switch {
		case strings.Contains(first, `"msg":"listening"`):
			return port
		case strings.Contains(first, "address already in use") && attempt < 5:
			// Another process took the free port between freePort and
			// the server's bind (tests run side by side): pick again.
			continue
		}
		t.Fatalf("%s: first log line %q, want it to say listening", service, first)
	}
}

// freePort returns a port free for TCP and UDP on every address at the time of the call.
func freePort(t *testing.T) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", ":0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", ":"+strconv.Itoa(port))
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no port free for both TCP and UDP")
	return 0
}

// result is what a client printed and how it exited.
type result struct {
	stdout, stderr string
	code           int
}

// client runs argv to its end (at most 20 s) and returns what it printed and its exit status.
func client(t *testing.T, argv ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{out.String(), errb.String(), cmd.ProcessState.ExitCode()}
	if ctx.Err() != nil {
		t.Fatalf("%v: still running after 20s: killed; stdout %q, stderr %q", argv, r.stdout, r.stderr)
	}
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("%v: %v", argv, err)
	}
	return r
}

func py(t *testing.T, script string, args ...string) result {
	t.Helper()
	return client(t, append([]string{python, "-u", script}, args...)...)
}

func sock(t *testing.T, args ...string) result {
	t.Helper()
	return client(t, append([]string{binary(t, "services/sock")}, args...)...)
}

// sockJSON runs the sock sub-command args[0] with --json and decodes its one JSON object.
func sockJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	r := sock(t, append([]string{args[0], "--json"}, args[1:]...)...)
	var v map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("sock %v: not one JSON object: %v\nstdout %q\nstderr %q", args, err, r.stdout, r.stderr)
	}
	return v
}

// want fails the test unless r exited with code and its stdout holds every string of out.
func want(t *testing.T, r result, code int, out ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit status %d, want %d; stdout %q, stderr %q", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range out {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout %q does not contain %q (stderr %q)", r.stdout, s, r.stderr)
		}
	}
}

func TestWelcome(t *testing.T) {
	needPython(t)
	t.Parallel()
	goPort := goServer(t, "welcome")
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			addr, _ := pyServer(t, "welcome_server.py", f.host)
			_, port, _ := net.SplitHostPort(addr)

			// sock against the learner's server: the greeting names sock's own address, and
			// the server closes with FIN even when the client spoke first.
			for _, send := range []string{"", "hello?"} {
				v := sockJSON(t, "welcome", "--send", send, addr)
				greeting, _ := v["received"].(string)
				if v["ok"] != true || !strings.Contains(greeting, fmt.Sprintf("You are %s over %s.", v["local"], f.name)) {
					t.Errorf("sock welcome --send %q: ok %v, greeting %q, want it to name %v over %s", send, v["ok"], greeting, v["local"], f.name)
				}
				if d, _ := v["details"].(map[string]any); d["close"] != "clean" {
					t.Errorf("sock welcome --send %q: close %v, want clean (FIN)", send, d["close"])
				}
			}

			// The learner's client against the learner's server and against socketlab's.
			for _, port := range []string{port, goPort} {
				r := py(t, "welcome_client.py", f.host, port)
				want(t, r, 0, "over "+f.name+".")
				if !strings.Contains(r.stderr, "clean close (FIN)") {
					t.Errorf("welcome_client.py against port %s: stderr %q, want a clean close", port, r.stderr)
				}
			}
		})
	}
}

func TestEcho(t *testing.T) {
	needPython(t)
	t.Parallel()
	goPort := goServer(t, "echo")
	for _, f := range families {
		for _, server := range []string{"echo_server.py", "echo_multi_server.py"} {
			t.Run(f.name+"/"+server, func(t *testing.T) {
				t.Parallel()
				addr, _ := pyServer(t, server, f.host)
				_, port, _ := net.SplitHostPort(addr)
				want(t, sock(t, "echo", addr, "hello", "learner"), 0, "hello learner")
				v := sockJSON(t, "echo", "--size", "1000000", addr)
				if v["ok"] != true || v["bytes_received"] != 1e6 || v["family"] != f.name {
					t.Errorf("sock echo --size 1000000: ok %v, %v bytes back over %v; want 1000000 over %s (error %v)",
						v["ok"], v["bytes_received"], v["family"], f.name, v["error"])
				}
				for _, port := range []string{port, goPort} {
					want(t, py(t, "echo_client.py", f.host, port, "hello", "echo"), 0, "hello echo\n")
					r := py(t, "echo_client.py", "--size", "1000000", f.host, port)
					if r.code != 0 || !strings.Contains(r.stderr, "1000000 bytes back in") {
						t.Errorf("echo_client.py --size 1000000 to port %s: exit %d, stderr %q", port, r.code, r.stderr)
					}
				}
			})
		}
	}
}

// TestEchoMultiConcurrent holds connections open that send nothing and checks that the
// selectors server still serves others meanwhile: the one-at-a-time server could not.
func TestEchoMultiConcurrent(t *testing.T) {
	needPython(t)
	t.Parallel()
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			addr, p := pyServer(t, "echo_multi_server.py", f.host)
			_, port, _ := net.SplitHostPort(addr)
			for range 3 {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
			}
			var wg sync.WaitGroup
			results := make([]result, 4)
			for i := range results {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i] = py(t, "echo_client.py", "--size", "200000", f.host, port)
				}()
			}
			wg.Wait()
			for i, r := range results {
				if r.code != 0 || !strings.Contains(r.stderr, "200000 bytes back") {
					t.Errorf("client %d beside 3 idle connections: exit %d, stderr %q", i, r.code, r.stderr)
				}
			}
			if !p.await(func(l string) bool { return strings.Contains(l, "- 4 open") }, 5*time.Second) {
				t.Errorf("the server never counted the 3 idle connections and a client open at once; it logged:\n%s", p.output())
			}
		})
	}
}

func TestUDP(t *testing.T) {
	needPython(t)
	t.Parallel()
	responder, echo := goServer(t, "responder"), goServer(t, "echo")
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			addr, p := pyServer(t, "udp_receiver.py", f.host)
			_, port, _ := net.SplitHostPort(addr)
			want(t, sock(t, "echo", "--udp", addr, "one datagram"), 0, "one datagram")
			want(t, py(t, "udp_sender.py", f.host, port, "from", "python"), 0, "from python\n")
			if !p.await(func(l string) bool {
				return strings.HasPrefix(l, "11 bytes from") && strings.Contains(l, "'from python'")
			}, 5*time.Second) {
				t.Errorf("udp_receiver.py did not print the datagram with its sender; it wrote:\n%s", p.output())
			}
			// The learner's sender against socketlab's responder and UDP echo.
			// The responder answers a 2-byte datagram with its whole line.
			want(t, py(t, "udp_sender.py", f.host, responder, "hi"), 0, "over "+f.name+"; you sent 2 bytes")
			want(t, py(t, "udp_sender.py", f.host, echo, "echo?"), 0, "echo?\n")
			// Nobody on the port: ICMP port unreachable comes back as "refused".
			r := py(t, "udp_sender.py", "--timeout", "2", f.host, strconv.Itoa(freePort(t)))
			if r.code != 1 || !strings.Contains(r.stderr, "refused") {
				t.Errorf("udp_sender.py to a closed port: exit %d, stderr %q; want 1 and refused", r.code, r.stderr)
			}
		})
	}
}

func TestChat(t *testing.T) {
	needPython(t)
	t.Parallel()
	irc := goServer(t, "chat")
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			addr, _ := pyServer(t, "chat_server.py", f.host)
			_, port, _ := net.SplitHostPort(addr)
			// ada waits for bob's line; bob sends it once ada is there.
			ada, first := start(t, nil, python, "-u", "chat_client.py", f.host, port, "--until", "> hi ada", "--timeout", "15")
			if !strings.Contains(first, "connected from") {
				t.Fatalf("chat_client.py: first line %q", first)
			}
			if !ada.await(func(l string) bool { return strings.HasPrefix(l, "* welcome") }, 5*time.Second) {
				t.Fatalf("no welcome line for ada: %q", ada.output())
			}
			bob := py(t, "chat_client.py", f.host, port, "--say", "hi ada", "--until", "sent to")
			want(t, bob, 0, "* welcome ", "* sent to 1 others")
			if !ada.await(func(l string) bool { return strings.HasSuffix(l, "> hi ada") }, 5*time.Second) {
				t.Errorf("ada never got bob's line; she saw:\n%s", ada.output())
			}
			// The same line client talks to socketlab's IRC server.
			r := py(t, "chat_client.py", f.host, irc, "--say", "NICK ada", "--say", "USER ada 0 * :Ada", "--until", " 001 ")
			want(t, r, 0, " 001 ada ")
		})
	}
}

func TestBrowser(t *testing.T) {
	needPython(t)
	t.Parallel()
	port := goServer(t, "web")
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			r := py(t, "browser.py", "--port", port, f.host, "/whoami")
			want(t, r, 0, "HTTP/1.1 200 OK\r\n", "\r\n\r\n", f.name)
			if !strings.Contains(r.stderr, "> GET /whoami HTTP/1.1") || !strings.Contains(r.stderr, f.host+" -> "+f.host+" ("+f.name+")") {
				t.Errorf("browser.py stderr %q, want the resolved address and the request it sent", r.stderr)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			addr, _ := pyServer(t, "lookup_server.py", f.host)
			// sock's lookup client speaks the tutorial's frames: a search and a
			// binary request, each answered in one framed response.
			want(t, sock(t, "lookup", addr, "search", "morpheus"), 0, "Follow the white rabbit.")
			want(t, sock(t, "lookup", addr, "binary", "hello"), 0, "First 10 bytes of request: binaryhell")
		})
	}
}
