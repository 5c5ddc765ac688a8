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
	"strings"
	"testing"
	"time"

	"socketlab/helpers/impair/shape"
)

// The Docker test runs the image socketlab/impair the way labctl will: in
// an echo container's network namespace, with NET_ADMIN only, read-only,
// no-new-privileges. IMPAIR_IMAGE and IMPAIR_ECHO_IMAGE override the images.

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// echoRound sends n datagrams to the echo server at addr, one every 200µs,
// and counts the replies.
func echoRound(t *testing.T, addr netip.AddrPort, n int) (replies, sendErrors int, rtt time.Duration) {
	t.Helper()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadBuffer(4 << 20)
	done := make(chan int)
	var first time.Duration
	t0 := time.Now()
	go func() {
		buf := make([]byte, 2048)
		k := 0
		for {
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := c.Read(buf); err != nil {
				done <- k
				return
			}
			if k == 0 {
				first = time.Since(t0)
			}
			k++
		}
	}()
	for range n {
		if _, err := c.Write([]byte("impair")); err != nil {
			sendErrors++
		}
		time.Sleep(200 * time.Microsecond)
	}
	replies = <-done
	return replies, sendErrors, first
}

func TestDockerHelper(t *testing.T) {
	needRoot(t)
	img, echo := envOr("IMPAIR_IMAGE", "socketlab/impair:latest"), envOr("IMPAIR_ECHO_IMAGE", "socketlab/echo:latest")
	need.DockerImages(t, img, echo)
	name := fmt.Sprintf("imp-echo-%d", os.Getpid())
	id := docker(t, "run", "-d", "--rm", "--name", name, "--read-only", "--cap-drop", "ALL", echo)
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", id).Run() })
	ip := docker(t, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id)
	addr := netip.AddrPortFrom(netip.MustParseAddr(ip), 7)
	// Wait for the echo server and resolve neighbours before impairing.
	for i := 0; ; i++ {
		if r, _, _ := echoRound(t, addr, 5); r == 5 {
			break
		} else if i == 20 {
			t.Fatalf("echo at %s does not answer", addr)
		}
	}

	run := func(args ...string) (string, *bufio.Scanner, *exec.Cmd) {
		hname := fmt.Sprintf("imp-helper-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
		cmd := exec.Command("docker", append([]string{"run", "--rm", "--name", hname, "--network", "container:" + id,
			"--cap-drop", "ALL", "--cap-add", "NET_ADMIN", "--read-only", "--security-opt", "no-new-privileges", img}, args...)...)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", hname).Run(); _ = cmd.Wait() })
		sc := bufio.NewScanner(out)
		return hname, sc, cmd
	}
	next := func(sc *bufio.Scanner) shape.Event {
		if !sc.Scan() {
			t.Fatal("the helper container printed nothing more")
		}
		var e shape.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("helper printed %q: %v", sc.Text(), err)
		}
		return e
	}

	_, sc, cmd := run("probe")
	if e := next(sc); e.Probe == nil || e.Probe.Mechanism == "" {
		t.Fatalf("probe in the container: %+v", e)
	} else {
		t.Logf("probe in a container with NET_ADMIN only: %+v", *e.Probe)
	}
	_ = cmd.Wait()

	hname, sc, cmd := run("apply", "eth0", "--loss", "30%", "--delay", "100ms")
	if e := next(sc); e.Event != shape.EventApplied {
		t.Fatalf("helper printed %+v, want applied", e)
	}
	r, errs, first := echoRound(t, addr, 1000)
	t.Logf("30%% loss + 100ms delay on the echo container's egress: %d of 1000 replies, first after %v, %d send errors", r, first, errs)
	if r < 600 || r > 800 || errs > 0 {
		t.Errorf("%d of 1000 replies (%d send errors), want 600–800 and none", r, errs)
	}
	if first < 90*time.Millisecond {
		t.Errorf("first reply after %v, want ≥ 90ms", first)
	}
	docker(t, "stop", "-t", "5", hname)
	if e := next(sc); e.Event != shape.EventCleared {
		t.Errorf("after docker stop the helper printed %+v, want cleared", e)
	}
	_ = cmd.Wait()
	if r, _, _ := echoRound(t, addr, 1000); r != 1000 {
		t.Errorf("after docker stop: %d of 1000 replies, want all", r)
	}

	hname, sc, cmd = run("apply", "eth0", "--loss", "50%", "--delay", "100ms")
	if e := next(sc); e.Event != shape.EventApplied {
		t.Fatalf("helper printed %+v, want applied", e)
	}
	docker(t, "kill", "-s", "KILL", hname)
	_ = cmd.Wait()
	time.Sleep(200 * time.Millisecond)
	if r, _, first := echoRound(t, addr, 1000); r != 1000 || first > 50*time.Millisecond {
		t.Errorf("after docker kill -s KILL: %d of 1000 replies, first after %v; want all, without the delay", r, first)
	}
}
