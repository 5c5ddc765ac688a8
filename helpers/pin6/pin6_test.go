package pin6_test

import (
	"socketlab/internal/labtest/need"

	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPin runs the helper binary in a network namespace as labctl does in a
// node's: the address Docker gave is replaced by the pinned one, and the
// peer gets a permanent neighbour entry. It needs root and iproute2.
func TestPin(t *testing.T) {
	need.Root(t, "create network namespaces")
	need.Command(t, "ip", "iproute2")
	bin := filepath.Join(t.TempDir(), "pin6")
	if out, err := exec.Command("go", "build", "-o", bin, "socketlab/helpers/pin6/cmd").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ns := "pin6-test-" + strings.ReplaceAll(t.Name(), "/", "-")
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run("ip", "-n", ns, "link", "add", "eth0", "address", "02:42:0a:c8:12:fe", "type", "veth", "peer", "name", "peer0", "address", "02:42:0a:c8:12:fd")
	run("ip", "-n", ns, "link", "set", "eth0", "up")
	run("ip", "-n", ns, "link", "set", "peer0", "up")
	run("ip", "-n", ns, "addr", "add", "fd5c:1ab:0:18::3/64", "dev", "eth0", "nodad") // as Docker's host pool gave it

	out := run("ip", "netns", "exec", ns, bin, "--link", "02:42:0a:c8:12:fe=fd5c:1ab:0:18::254/64",
		"--peer", "fd5c:1ab:0:18::253=02:42:0a:c8:12:fd")
	if !strings.Contains(out, "pinned: 1 addresses, 1 neighbours") {
		t.Errorf("pin6 says %q", out)
	}
	addrs := run("ip", "-n", ns, "-6", "addr", "show", "dev", "eth0")
	if !strings.Contains(addrs, "fd5c:1ab:0:18::254/64") || strings.Contains(addrs, "fd5c:1ab:0:18::3/") {
		t.Errorf("eth0's addresses after pin6:\n%s\nwant fd5c:1ab:0:18::254 in place of ::3", addrs)
	}
	neigh := run("ip", "-n", ns, "-6", "neigh", "show", "dev", "eth0")
	if !strings.Contains(neigh, "fd5c:1ab:0:18::253 lladdr 02:42:0a:c8:12:fd PERMANENT") {
		t.Errorf("eth0's neighbours after pin6:\n%s\nwant fd5c:1ab:0:18::253 at 02:42:0a:c8:12:fd, permanent", neigh)
	}
	// Run again: nothing changes, nothing fails (start, connect run it anew).
	run("ip", "netns", "exec", ns, bin, "--link", "02:42:0a:c8:12:fe=fd5c:1ab:0:18::254/64",
		"--peer", "fd5c:1ab:0:18::253=02:42:0a:c8:12:fd")

	cmd := exec.Command("ip", "netns", "exec", ns, bin, "--link", "02:42:0a:c8:12:aa=fd5c:1ab:0:18::254/64")
	if out, err := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "no interface has MAC address 02:42:0a:c8:12:aa") {
		t.Errorf("pin6 on a MAC no interface has: %v: %s", err, out)
	}
	cmd = exec.Command(bin, "--peer", "not-an-address")
	if out, _ := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "want IPV6=MAC") {
		t.Errorf("pin6 with a bad --peer: exit %d: %s", cmd.ProcessState.ExitCode(), out)
	}
}
