// Package capturetest runs the capture helper for real in tests: two network
// namespaces joined by a veth, servers and the sock client built and run in
// them, the helper capturing in one. The helper's own tests judge what it
// writes; labctl/capture's tests read the same stream end to end. It needs
// root and iproute2 (need.Root: a failure in CI, a skip elsewhere).
package capturetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	helper "socketlab/helpers/capture"
	"socketlab/internal/labtest/need"
)

// Pair is two network namespaces, A and B, joined by a veth with IPv4 and
// IPv6 addresses.
type Pair struct {
	A, B     string // namespace names
	IfA, IfB string // veth ends
	A4, B4   string // addresses
	A6, B6   string
	dir      string // built binaries
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// binaries builds the helper and the lab binaries the tests run, once per
// test binary.
func binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "cap-bin-")
		if buildErr != nil {
			return
		}
		for out, pkg := range map[string]string{
			"capture": "socketlab/helpers/capture/cmd", "welcome": "socketlab/services/welcome/cmd",
			"responder": "socketlab/services/responder/cmd", "sock": "socketlab/services/sock",
		} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(buildDir, out), pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if b, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir
}

func run(t testing.TB, args ...string) {
	t.Helper()
	if b, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, b)
	}
}

var pairSeq struct {
	sync.Mutex
	n int
}

// NewPair creates the namespaces (names prefixed cap-) and removes them
// when the test ends.
func NewPair(t testing.TB) *Pair {
	t.Helper()
	need.Root(t, "create network namespaces and open packet sockets")
	need.Command(t, "ip", "iproute2")
	pairSeq.Lock()
	pairSeq.n++
	n := pairSeq.n
	pairSeq.Unlock()
	id := fmt.Sprintf("%d%d", os.Getpid()%100000, n)
	p := &Pair{
		A: "cap-" + id + "-a", B: "cap-" + id + "-b", IfA: "cap" + id + "a", IfB: "cap" + id + "b",
		A4: "10.251.0.1", B4: "10.251.0.2", A6: "fd00:ca9::1", B6: "fd00:ca9::2", dir: binaries(t),
	}
	t.Cleanup(func() {
		// Deleting a namespace deletes its end of the veth, and so the other.
		_ = exec.Command("ip", "netns", "del", p.A).Run()
		_ = exec.Command("ip", "netns", "del", p.B).Run()
	})
	run(t, "ip", "netns", "add", p.A)
	run(t, "ip", "netns", "add", p.B)
	run(t, "ip", "link", "add", p.IfA, "netns", p.A, "type", "veth", "peer", "name", p.IfB, "netns", p.B)
	for _, side := range []struct{ ns, ifc, v4, v6 string }{{p.A, p.IfA, p.A4, p.A6}, {p.B, p.IfB, p.B4, p.B6}} {
		run(t, "ip", "-n", side.ns, "addr", "add", side.v4+"/24", "dev", side.ifc)
		run(t, "ip", "-n", side.ns, "addr", "add", side.v6+"/64", "dev", side.ifc, "nodad")
		run(t, "ip", "-n", side.ns, "link", "set", side.ifc, "up")
		run(t, "ip", "-n", side.ns, "link", "set", "lo", "up")
	}
	return p
}

// In returns a command running name (a built binary: capture, welcome,
// responder, sock; or a path) in namespace ns.
func (p *Pair) In(ctx context.Context, ns, name string, args ...string) *exec.Cmd {
	bin := name
	if !strings.Contains(name, "/") {
		bin = filepath.Join(p.dir, name)
	}
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, bin}, args...)...)
}

// Serve starts the server name (welcome, responder) in ns and waits for its
// healthcheck; it is stopped when the test ends.
func (p *Pair) Serve(t testing.TB, ns, name string, args ...string) {
	t.Helper()
	cmd := p.In(context.Background(), ns, name, append(args, "--quiet")...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if exec.Command("ip", "netns", "exec", ns, filepath.Join(p.dir, name), "healthcheck").Run() == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s in %s did not become healthy in 10 s", name, ns)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Helper is a capture helper running in a namespace: Stdout is its pcapng
// stream, Stderr its event lines.
type Helper struct {
	Cmd    *exec.Cmd
	Stdout io.ReadCloser
	Stderr bytes.Buffer
}

// StartCapture starts the capture helper in ns with args; it is killed when
// the test ends, if it has not ended by then.
func (p *Pair) StartCapture(t testing.TB, ns string, args ...string) *Helper {
	t.Helper()
	h := &Helper{Cmd: p.In(context.Background(), ns, "capture", args...)}
	h.Cmd.Stderr = &h.Stderr
	var err error
	if h.Stdout, err = h.Cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if err := h.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Cmd.Process.Kill(); _ = h.Cmd.Wait() })
	return h
}

// Stop ends the capture with SIGINT, as docker stop would end it with
// SIGTERM, and returns its end line.
func (h *Helper) Stop(t testing.TB) helper.Result {
	t.Helper()
	if err := h.Cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	return h.Wait(t)
}

// Wait waits for the helper to end and returns its end line; the test fails
// if it exits with an error or writes no end line.
func (h *Helper) Wait(t testing.TB) helper.Result {
	t.Helper()
	if err := h.Cmd.Wait(); err != nil {
		t.Fatalf("capture helper: %v\nstderr:\n%s", err, h.Stderr.String())
	}
	var res helper.Result
	sc := bufio.NewScanner(bytes.NewReader(h.Stderr.Bytes()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"event":"end"`) {
			if err := json.Unmarshal(sc.Bytes(), &res); err != nil {
				t.Fatalf("end line %q: %v", sc.Text(), err)
			}
		}
	}
	if res.Event != "end" {
		t.Fatalf("no end line on stderr:\n%s", h.Stderr.String())
	}
	return res
}
