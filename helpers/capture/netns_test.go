package capture_test

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
	"socketlab/labctl/capture"
)

// The real-capture tests run the helper binary in a network namespace joined
// to another by a veth, with real servers and clients crossing it. They need
// root (network namespaces, CAP_NET_RAW) and iproute2, and skip without.

// pair is two network namespaces, a and b, joined by a veth with IPv4 and IPv6 addresses.
type pair struct {
	a, b       string // namespace names
	ifA, ifB   string // veth ends
	a4, b4     string // addresses
	a6, b6     string
	dir        string // built binaries
	cleanupsMu sync.Mutex
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// binaries builds the helper and the lab binaries the tests run, once per test binary.
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

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: it creates network namespaces and opens packet sockets (run as root, e.g. in CI)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip command: apt-get install iproute2")
	}
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

// newPair creates the namespaces (names prefixed cap-) and removes them when the test ends.
func newPair(t testing.TB) *pair {
	t.Helper()
	needRoot(t)
	pairSeq.Lock()
	pairSeq.n++
	n := pairSeq.n
	pairSeq.Unlock()
	id := fmt.Sprintf("%d%d", os.Getpid()%100000, n)
	p := &pair{
		a: "cap-" + id + "-a", b: "cap-" + id + "-b", ifA: "cap" + id + "a", ifB: "cap" + id + "b",
		a4: "10.251.0.1", b4: "10.251.0.2", a6: "fd00:ca9::1", b6: "fd00:ca9::2", dir: binaries(t),
	}
	t.Cleanup(func() {
		// Deleting a namespace deletes its end of the veth, and so the other.
		_ = exec.Command("ip", "netns", "del", p.a).Run()
		_ = exec.Command("ip", "netns", "del", p.b).Run()
	})
	run(t, "ip", "netns", "add", p.a)
	run(t, "ip", "netns", "add", p.b)
	run(t, "ip", "link", "add", p.ifA, "netns", p.a, "type", "veth", "peer", "name", p.ifB, "netns", p.b)
	for _, side := range []struct{ ns, ifc, v4, v6 string }{{p.a, p.ifA, p.a4, p.a6}, {p.b, p.ifB, p.b4, p.b6}} {
		run(t, "ip", "-n", side.ns, "addr", "add", side.v4+"/24", "dev", side.ifc)
		run(t, "ip", "-n", side.ns, "addr", "add", side.v6+"/64", "dev", side.ifc, "nodad")
		run(t, "ip", "-n", side.ns, "link", "set", side.ifc, "up")
		run(t, "ip", "-n", side.ns, "link", "set", "lo", "up")
	}
	return p
}

// in returns a command running name (a built binary or a path) in namespace ns.
func (p *pair) in(ctx context.Context, ns, name string, args ...string) *exec.Cmd {
	bin := name
	if !strings.Contains(name, "/") {
		bin = filepath.Join(p.dir, name)
	}
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, bin}, args...)...)
}

// serve starts a server in ns and waits for its healthcheck; it is stopped when the test ends.
func (p *pair) serve(t testing.TB, ns, name string, args ...string) {
	t.Helper()
	cmd := p.in(context.Background(), ns, name, append(args, "--quiet")...)
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

// helperRun is a capture helper running in a namespace.
type helperRun struct {
	cmd    *exec.Cmd
	stdout io.ReadCloser
	stderr bytes.Buffer
}

func (p *pair) startCapture(t testing.TB, ns string, args ...string) *helperRun {
	t.Helper()
	h := &helperRun{cmd: p.in(context.Background(), ns, "capture", args...)}
	h.cmd.Stderr = &h.stderr
	var err error
	if h.stdout, err = h.cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.cmd.Process.Kill(); _ = h.cmd.Wait() })
	return h
}

// stop ends the capture with SIGTERM, as docker stop would, and returns its end line.
func (h *helperRun) stop(t testing.TB) helper.Result {
	t.Helper()
	if err := h.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	return h.wait(t)
}

func (h *helperRun) wait(t testing.TB) helper.Result {
	t.Helper()
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("capture helper: %v\nstderr:\n%s", err, h.stderr.String())
	}
	var res helper.Result
	sc := bufio.NewScanner(bytes.NewReader(h.stderr.Bytes()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"event":"end"`) {
			if err := json.Unmarshal(sc.Bytes(), &res); err != nil {
				t.Fatalf("end line %q: %v", sc.Text(), err)
			}
		}
	}
	if res.Event != "end" {
		t.Fatalf("no end line on stderr:\n%s", h.stderr.String())
	}
	return res
}

func TestCaptureAcrossNamespaces(t *testing.T) {
	p := newPair(t)
	p.serve(t, p.b, "welcome")
	p.serve(t, p.b, "responder")

	h := p.startCapture(t, p.a)
	raw := &bytes.Buffer{}
	// NewStream returns once the helper wrote its header: from then on it captures.
	s, err := capture.NewStream(io.TeeReader(h.stdout, raw), "alice", map[string]string{p.ifA: "front"})
	if err != nil {
		t.Fatalf("%v\nstderr: %s", err, h.stderr.String())
	}
	pkts := make(chan []capture.Packet)
	go func() {
		var all []capture.Packet
		for {
			pk, err := s.Next()
			if err != nil {
				pkts <- all
				return
			}
			all = append(all, pk)
		}
	}()

	ctx := context.Background()
	sockOut := func(args ...string) string {
		b, _ := p.in(ctx, p.a, "sock", args...).CombinedOutput()
		return string(b)
	}
	// The client speaks first: welcome must still close with FIN, not RST.
	if out := sockOut("welcome", "--send", "hi", p.b4+":9999"); !strings.Contains(out, "Welcome") {
		t.Fatalf("sock welcome: %s", out)
	}
	if out := sockOut("responder", "["+p.b6+"]:9999", "hello"); !strings.Contains(out, "you are") {
		t.Fatalf("sock responder: %s", out)
	}
	out := sockOut("responder", "--timeout", "2s", p.b4+":9", "closed")
	time.Sleep(100 * time.Millisecond) // the ring hands packets over within 10 ms
	res := h.stop(t)
	all := <-pkts
	t.Logf("sock responder to a closed port: %s", strings.TrimSpace(out))
	t.Logf("helper: %+v", res)

	if res.Dropped != 0 || res.Written != uint64(len(all)) || res.Reason != "signal" {
		t.Errorf("helper end %+v; want 0 dropped, %d written, reason signal", res, len(all))
	}
	if st := s.Stats(); len(st) != 1 || st[0].Where != (capture.Where{Node: "alice", Network: "front"}) || st[0].Received < uint64(len(all)) {
		t.Errorf("statistics blocks %+v; want one for alice:front with at least %d received", st, len(all))
	}
	var f capture.Formatter
	for _, pk := range all {
		t.Log(f.Line(pk))
	}

	tcp, _ := capture.ParseFilter("tcp port 9999")
	udp, _ := capture.ParseFilter("udp port 9999")
	var welcome, responder []capture.Packet
	for _, pk := range all {
		d := capture.Decode(pk.Data)
		if tcp.Match(&d) {
			welcome = append(welcome, pk)
		}
		if udp.Match(&d) {
			responder = append(responder, pk)
		}
	}
	w := capture.Analyze(welcome)
	yes := true
	if m := (capture.Expect{Handshake: &yes, Close: capture.CloseFIN, Family: 4}).Check(w); len(m) != 0 {
		t.Errorf("welcome on the wire: %v", m)
	}
	if !w.Close.Both || w.Close.By != capture.Server {
		t.Errorf("welcome close %s; want fin by server, both ways", w.Close)
	}
	one := 1
	if m := (capture.Expect{DatagramsSent: &one, DatagramsReceived: &one, Family: 6}).Check(capture.Analyze(responder)); len(m) != 0 {
		t.Errorf("responder on the wire: %v", m)
	}
	if all := capture.Analyze(all); !all.PortUnreachable {
		t.Errorf("no ICMP port unreachable from the closed port; ICMP seen: %v", all.ICMP)
	}

	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark is not installed, so the file was not checked with it (CI installs it: apt-get install tshark)")
		return
	}
	file := filepath.Join(t.TempDir(), "a.pcapng")
	if err := os.WriteFile(file, raw.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	count := func(filter string) int {
		b, err := exec.Command("tshark", "-n", "-r", file, "-Y", filter).Output()
		if err != nil {
			t.Fatalf("tshark -Y %q: %v", filter, err)
		}
		return len(strings.Split(strings.TrimSpace(string(b)), "\n")) - map[bool]int{true: 1}[strings.TrimSpace(string(b)) == ""]
	}
	for filter, want := range map[string]int{
		"tcp.port == 9999 && tcp.flags.syn == 1":    2,
		"tcp.port == 9999 && tcp.flags.fin == 1":    2,
		"tcp.flags.reset == 1":                      0,
		"udp.port == 9999 && ipv6":                  2,
		"icmp.type == 3 && icmp.code == 3":          1,
		"frame.interface_name == \"" + p.ifA + "\"": len(all),
	} {
		if got := count(filter); got != want {
			t.Errorf("tshark -Y %q: %d packets, want %d", filter, got, want)
		}
	}
}

func TestCaptureCountAndFilter(t *testing.T) {
	p := newPair(t)
	p.serve(t, p.b, "welcome")
	h := p.startCapture(t, p.a, "--filter", "tcp and host "+p.b4, "--count", "3")
	if _, err := capture.NewStream(h.stdout, "alice", nil); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, h.stdout)
	_ = p.in(context.Background(), p.a, "sock", "welcome", p.b4+":9999").Run()
	done := make(chan helper.Result)
	go func() { done <- h.wait(t) }()
	select {
	case res := <-done:
		if res.Reason != "count" || res.Written != 3 {
			t.Errorf("end %+v; want reason count, 3 written", res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the helper did not stop after --count 3 packets")
	}
}
