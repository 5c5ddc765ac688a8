package shaper

import (
	"socketlab/internal/labtest/need"

	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"socketlab/helpers/impair/shape"
)

// The integration tests build the helper, make two network namespaces
// joined by a veth pair (names start with imp-), run the helper in the
// first with ip netns exec, and send traffic from the first to the second.

var helperBin = struct {
	once sync.Once
	path string
	err  error
}{}

// needRoot ends a test that makes network namespaces when not root or
// without iproute2: a failure in CI, a skip elsewhere.
func needRoot(t testing.TB) {
	t.Helper()
	need.Root(t, "create network namespaces (imp-*)")
	need.Command(t, "ip", "iproute2")
}

// helper builds the impair binary once per test process.
func helper(t testing.TB) string {
	t.Helper()
	helperBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "imp-bin-")
		if err != nil {
			helperBin.err = err
			return
		}
		helperBin.path = filepath.Join(dir, "impair")
		cmd := exec.Command("go", "build", "-o", helperBin.path, "socketlab/helpers/impair/cmd")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			helperBin.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if helperBin.err != nil {
		t.Fatal(helperBin.err)
	}
	return helperBin.path
}

// pair is two network namespaces joined by a veth: A (where the helper
// runs, its interface Dev) and B.
type pair struct {
	A, B  string
	Dev   string
	AddrB map[int]netip.Addr // B's address per family (4, 6)
}

var pairN struct {
	sync.Mutex
	n int
}

// newPair makes the namespaces imp-<pid>-<n>a/b; they are deleted (with
// the veth) when the test ends.
func newPair(t testing.TB) *pair {
	t.Helper()
	return newPairPrefix(t, "imp-")
}

// newPairPrefix is newPair with namespaces named prefix<pid>-<n>a/b.
func newPairPrefix(t testing.TB, prefix string) *pair {
	t.Helper()
	pairN.Lock()
	pairN.n++
	n := pairN.n
	pairN.Unlock()
	id := fmt.Sprintf("%d-%d", os.Getpid()%100000, n)
	p := &pair{A: prefix + id + "a", B: prefix + id + "b", Dev: fmt.Sprintf("imp%da", n),
		AddrB: map[int]netip.Addr{}}
	sub := (os.Getpid()*7 + n) % 250
	a4 := netip.MustParseAddr(fmt.Sprintf("10.213.%d.1", sub))
	b4 := netip.MustParseAddr(fmt.Sprintf("10.213.%d.2", sub))
	a6 := netip.MustParseAddr(fmt.Sprintf("fd00:213:%x::1", sub))
	b6 := netip.MustParseAddr(fmt.Sprintf("fd00:213:%x::2", sub))
	p.AddrB[4], p.AddrB[6] = b4, b6
	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", p.A).Run()
		_ = exec.Command("ip", "netns", "del", p.B).Run()
	})
	devB := fmt.Sprintf("imp%db", n)
	for _, c := range [][]string{
		{"netns", "add", p.A}, {"netns", "add", p.B},
		{"link", "add", p.Dev, "netns", p.A, "type", "veth", "peer", "name", devB, "netns", p.B},
		{"-n", p.A, "addr", "add", a4.String() + "/24", "dev", p.Dev},
		{"-n", p.B, "addr", "add", b4.String() + "/24", "dev", devB},
		{"-n", p.A, "addr", "add", a6.String() + "/64", "dev", p.Dev, "nodad"},
		{"-n", p.B, "addr", "add", b6.String() + "/64", "dev", devB, "nodad"},
		{"-n", p.A, "link", "set", "lo", "up"}, {"-n", p.B, "link", "set", "lo", "up"},
		{"-n", p.A, "link", "set", p.Dev, "up"}, {"-n", p.B, "link", "set", devB, "up"},
	} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", c, err, out)
		}
	}
	return p
}

// in runs fn with the calling goroutine's thread in network namespace ns:
// sockets fn opens stay in ns.
func in(t testing.TB, ns string, fn func()) {
	t.Helper()
	done := make(chan error)
	go func() {
		// The thread is left locked (and so discarded) if switching back fails.
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			done <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			done <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		runtime.UnlockOSThread()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// open runs fn in namespace ns and returns the socket it opened there,
// which stays in ns; t fails if fn could not open it.
func open[T any](t testing.TB, ns string, fn func() (T, error)) T {
	t.Helper()
	var v T
	var err error
	in(t, ns, func() { v, err = fn() })
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// running is a helper process in a namespace.
type running struct {
	cmd    *exec.Cmd
	events chan shape.Event
	exited chan error
}

// start runs the helper with args in namespace ns and waits until it has
// printed an applied event for every interface (or failed).
func start(t testing.TB, ns string, ifaces int, args ...string) *running {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, helper(t)}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &running{cmd: cmd, events: make(chan shape.Event, 100), exited: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var e shape.Event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				e = shape.Event{Event: "unparsed", Error: sc.Text()}
			}
			r.events <- e
		}
		close(r.events)
		r.exited <- cmd.Wait()
	}()
	t.Cleanup(func() { r.kill() })
	for applied := 0; applied < ifaces; {
		select {
		case e, ok := <-r.events:
			if !ok {
				t.Fatalf("helper exited before applying: %v", <-r.exited)
			}
			if e.Event != shape.EventApplied {
				t.Fatalf("helper printed %+v, want applied", e)
			}
			applied++
		case <-time.After(10 * time.Second):
			t.Fatal("helper printed no applied event within 10s")
		}
	}
	return r
}

// stop sends SIGTERM and returns the events printed until exit.
func (r *running) stop(t testing.TB) []shape.Event {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var evs []shape.Event
	for e := range r.events {
		evs = append(evs, e)
	}
	if err := <-r.exited; err != nil {
		t.Fatalf("helper exited with %v after SIGTERM (events %+v)", err, evs)
	}
	return evs
}

// kill sends SIGKILL to the helper (ip netns exec execs it, so the pid is
// the helper's) and waits for it.
func (r *running) kill() {
	if r.cmd.ProcessState == nil {
		_ = r.cmd.Process.Kill()
		for range r.events {
		}
	}
}

// udpResult is what a burst of datagrams did.
type udpResult struct {
	sent, sendErrors, received int
}

// burst sends n datagrams of size bytes from p.A to p.B over family fam,
// paced so that no socket buffer overflows, and counts what arrived.
func burst(t testing.TB, p *pair, fam, n, size int, pace time.Duration) udpResult {
	t.Helper()
	dst := netip.AddrPortFrom(p.AddrB[fam], 0)
	rc := open(t, p.B, func() (*net.UDPConn, error) { return net.ListenUDP("udp", net.UDPAddrFromAddrPort(dst)) })
	_ = rc.SetReadBuffer(8 << 20)
	defer rc.Close()
	dst = rc.LocalAddr().(*net.UDPAddr).AddrPort()
	sc := open(t, p.A, func() (*net.UDPConn, error) { return net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst)) })
	defer sc.Close()
	got := make(chan int)
	go func() {
		buf := make([]byte, 65536)
		k := 0
		for {
			_ = rc.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := rc.Read(buf); err != nil {
				got <- k
				return
			}
			k++
		}
	}()
	var r udpResult
	msg := make([]byte, size)
	for i := range n {
		if _, err := sc.Write(msg); err != nil {
			r.sendErrors++
		}
		r.sent++
		if pace > 0 && i%10 == 9 {
			time.Sleep(pace)
		}
	}
	r.received = <-got
	return r
}

// rtts measures n round trips of a datagram from p.A to p.B and back (an
// echo in p.B), one at a time; lost ones are left out.
func rtts(t testing.TB, p *pair, fam, n int) []time.Duration {
	t.Helper()
	ec := open(t, p.B, func() (*net.UDPConn, error) {
		return net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.AddrB[fam], 0)))
	})
	defer ec.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			k, from, err := ec.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			_, _ = ec.WriteToUDPAddrPort(buf[:k], from)
		}
	}()
	c := open(t, p.A, func() (*net.UDPConn, error) { return net.DialUDP("udp", nil, ec.LocalAddr().(*net.UDPAddr)) })
	defer c.Close()
	var out []time.Duration
	buf := make([]byte, 64)
	for i := range n {
		t0 := time.Now()
		if _, err := c.Write([]byte(fmt.Sprint(i))); err != nil {
			continue
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(buf); err != nil {
			continue
		}
		out = append(out, time.Since(t0))
	}
	return out
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// throughput streams TCP from p.A to p.B for d and returns bits per second
// as the receiver counted them.
func throughput(t testing.TB, p *pair, fam int, d time.Duration) float64 {
	t.Helper()
	l := open(t, p.B, func() (net.Listener, error) { return net.Listen("tcp", netip.AddrPortFrom(p.AddrB[fam], 0).String()) })
	defer l.Close()
	res := make(chan float64, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			res <- 0
			return
		}
		defer c.Close()
		buf := make([]byte, 1<<16)
		var n int
		var first time.Time
		for {
			k, err := c.Read(buf)
			if k > 0 && first.IsZero() {
				first = time.Now()
			}
			n += k
			if err != nil {
				break
			}
		}
		res <- float64(n*8) / time.Since(first).Seconds()
	}()
	c := open(t, p.A, func() (net.Conn, error) { return net.Dial("tcp", l.Addr().String()) })
	buf := make([]byte, 1<<16)
	end := time.Now().Add(d)
	_ = c.SetWriteDeadline(end)
	for time.Now().Before(end) {
		if _, err := c.Write(buf); err != nil {
			break
		}
	}
	c.Close()
	return <-res
}
