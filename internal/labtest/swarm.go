package labtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"socketlab/internal/images"
	"socketlab/labctl/backend/swarm"
)

// Rig is two Docker hosts on this machine for the multi-host tests: the
// host's own engine, and a second dockerd in a network namespace joined to
// the host by a veth pair. Join makes them one swarm. Everything is undone
// when the test ends, also when it fails: the swarm left on both engines
// (the host's engine is shared: swarm mode lasts only as long as the test),
// the second daemon stopped by its pid, the namespace and veth removed.
type Rig struct {
	// Hosts names both engines: "one" (the host's, the manager) and "two".
	Hosts *swarm.Hosts
	// Second is the second engine's endpoint, unix:///...
	Second string

	t       testing.TB
	dir     string
	pid     int
	joined  bool
	gwExist bool // the host had docker_gwbridge before the swarm
}

// The rig's fixed names and addresses. One rig runs at a time (the host's
// engine can be in one swarm only); a lock file makes a second wait.
const (
	rigNetns   = "swarm-rig-ns"
	rigVethOut = "swarm-rig-v1" // on the host
	rigVethIn  = "swarm-rig-v2" // in the namespace
	rigAddrOut = "10.231.255.1"
	rigAddrIn  = "10.231.255.2"
	rigBip     = "10.231.254.1/24"
	rigPool    = "10.232.0.0/16" // the swarm's own networks (ingress)
	rigLock    = "/run/socketlab-swarm-rig.lock"
	rigDir     = "/tmp/socketlab-swarm-rig" // the second engine's data, socket and log
)

// NewRig starts the second engine and loads images (socketlab image names)
// into it from the host's. It skips t (fails it in CI) when the machine
// cannot host a rig: not root, no dockerd, nsenter or ip. It fails t when
// the host's engine is in a swarm already: that swarm is someone else's.
func NewRig(t testing.TB, imgs ...string) *Rig {
	t.Helper()
	Need(t)
	NeedImages(t, imgs...)
	for _, cmd := range []string{"dockerd", "nsenter", "ip", "docker"} {
		NeedCommand(t, cmd, map[string]string{"dockerd": "docker.io", "docker": "docker.io", "nsenter": "util-linux", "ip": "iproute2"}[cmd])
	}
	if os.Geteuid() != 0 {
		if inCI() {
			t.Fatal("the two-host rig needs root (network namespaces, a second dockerd); CI=true, so it does not skip")
		}
		t.Skip("the two-host rig needs root (network namespaces, a second dockerd)")
	}
	lock, err := os.OpenFile(rigLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("rig lock: %v", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("rig lock: %v", err)
	}
	r := &Rig{t: t, dir: rigDir}
	t.Cleanup(func() {
		r.teardown()
		syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
		lock.Close()
	})
	r.sweep()
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if st := r.out("docker", "info", "--format", "{{.Swarm.LocalNodeState}}"); st != "inactive" {
		t.Fatalf("the host's Docker engine is in swarm mode already (%s): it is not this test's swarm, so the rig leaves it alone; run the multi-host tests when the engine is out of swarm mode", st)
	}
	r.gwExist = r.run("docker", "network", "inspect", "docker_gwbridge") == nil

	r.must("ip", "netns", "add", rigNetns)
	r.must("ip", "link", "add", rigVethOut, "type", "veth", "peer", "name", rigVethIn)
	r.must("ip", "link", "set", rigVethIn, "netns", rigNetns)
	r.must("ip", "addr", "add", rigAddrOut+"/30", "dev", rigVethOut)
	r.must("ip", "link", "set", rigVethOut, "up")
	r.must("ip", "-n", rigNetns, "addr", "add", rigAddrIn+"/30", "dev", rigVethIn)
	r.must("ip", "-n", rigNetns, "link", "set", rigVethIn, "up")
	r.must("ip", "-n", rigNetns, "link", "set", "lo", "up")

	// nsenter, not ip netns exec: that one remounts /sys and hides the
	// cgroup mounts ("Devices cgroup isn't mounted").
	cfg := filepath.Join(r.dir, "empty.json")
	os.WriteFile(cfg, []byte("{}\n"), 0o600)
	sock := filepath.Join(r.dir, "docker.sock")
	r.Second = "unix://" + sock
	logf, err := os.Create(filepath.Join(r.dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	d := exec.Command("nsenter", "--net=/var/run/netns/"+rigNetns, "dockerd",
		"--config-file", cfg, "--data-root", filepath.Join(r.dir, "data"), "--exec-root", filepath.Join(r.dir, "exec"),
		"--pidfile", filepath.Join(r.dir, "docker.pid"), "-H", r.Second, "--storage-driver", "vfs",
		"--cgroup-parent", "socketlab-swarm-rig", "--bip", rigBip)
	d.Stdout, d.Stderr = logf, logf
	if err := d.Start(); err != nil {
		t.Fatalf("start the second dockerd: %v", err)
	}
	r.pid = d.Process.Pid // nsenter execs dockerd: the same process
	go d.Wait()
	deadline := time.Now().Add(60 * time.Second)
	for r.run("docker", "-H", r.Second, "version") != nil {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("the second dockerd did not answer within 60 s; its log ends:\n%s", tail(string(log), 15))
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, img := range imgs {
		ref := images.Ref(img, "")
		save := exec.Command("docker", "save", ref)
		load := exec.Command("docker", "-H", r.Second, "load", "-q")
		pipe, _ := save.StdoutPipe()
		load.Stdin = pipe
		var errb bytes.Buffer
		save.Stderr, load.Stderr = &errb, &errb
		if err := save.Start(); err != nil {
			t.Fatal(err)
		}
		if err := load.Run(); err != nil {
			t.Fatalf("docker save %s | docker -H %s load: %v: %s", ref, r.Second, err, errb.String())
		}
		save.Wait()
	}
	r.Hosts = &swarm.Hosts{File: "rig", Hosts: []swarm.Host{
		{Name: "one", Endpoint: hostEndpoint()},
		{Name: "two", Endpoint: r.Second},
	}}
	return r
}

// hostEndpoint is the host engine's endpoint, as the tests' engine reaches it.
func hostEndpoint() string {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return "unix:///var/run/docker.sock"
}

// Join makes the host's engine a swarm manager over the veth and the second
// engine a worker of it.
func (r *Rig) Join() {
	r.t.Helper()
	r.joined = true
	r.must("docker", "swarm", "init", "--advertise-addr", rigAddrOut, "--listen-addr", rigAddrOut+":2377",
		"--default-addr-pool", rigPool)
	token := r.out("docker", "swarm", "join-token", "-q", "worker")
	r.must("docker", "-H", r.Second, "swarm", "join", "--token", token,
		"--advertise-addr", rigAddrIn, "--listen-addr", rigAddrIn+":2377", rigAddrOut+":2377")
}

// Containers counts the containers of lab on the second engine and on the
// host's.
func (r *Rig) Containers(lab string) (one, two int) {
	count := func(host string) int {
		out := r.out("docker", "-H", host, "ps", "-aq", "--filter", "label=socketlab.lab="+lab, "--filter", "label=socketlab.role=node")
		return len(strings.Fields(out))
	}
	return count(hostEndpoint()), count(r.Second)
}

// teardown undoes the rig, whatever state a failure left it in.
func (r *Rig) teardown() {
	if r.t.Failed() {
		if log, err := os.ReadFile(filepath.Join(r.dir, "dockerd.log")); err == nil {
			r.t.Logf("the second dockerd's log ends:\n%s", tail(string(log), 30))
		}
	}
	if r.Second != "" {
		r.run("docker", "-H", r.Second, "swarm", "leave", "--force")
	}
	if r.joined {
		if err := r.run("docker", "swarm", "leave", "--force"); err != nil {
			r.t.Errorf("the host's engine did not leave swarm mode: %v: run docker swarm leave --force", err)
		}
		if !r.gwExist {
			r.run("docker", "network", "rm", "docker_gwbridge")
		}
	}
	if r.pid > 0 {
		syscall.Kill(r.pid, syscall.SIGTERM)
		for i := 0; i < 150 && syscall.Kill(r.pid, 0) == nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		syscall.Kill(r.pid, syscall.SIGKILL)
	}
	r.sweep()
}

// sweep removes what a rig of a killed test process left; the caller
// holds the rig lock.
func (r *Rig) sweep() { sweepRig() }

// SweepRig undoes a rig left by a test process that was killed (a go test
// timeout runs no cleanups): it makes the host's engine leave a swarm
// advertised on the rig's veth (only a rig makes one there), stops what
// runs in the rig's namespace (its dockerd first, gracefully), and removes
// the namespace and veth. Main calls it first, so that the sweep of
// leftover labs finds no overlay network still held by the swarm. A rig
// in use (its lock held by a live process) is left alone.
func SweepRig() {
	lock, err := os.OpenFile(rigLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return
	}
	defer lock.Close()
	if syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return // a live test process runs a rig
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	sweepRig()
}

func sweepRig() {
	out := func(name string, args ...string) string {
		b, _ := exec.Command(name, args...).Output()
		return strings.TrimSpace(string(b))
	}
	if strings.Contains(out("docker", "info", "--format", "{{.Swarm.NodeAddr}}"), rigAddrOut) {
		exec.Command("docker", "swarm", "leave", "--force").Run()
		exec.Command("docker", "network", "rm", "docker_gwbridge").Run() // the rig's swarm made it
	}
	pids := func() []int {
		var ps []int
		for _, p := range strings.Fields(out("ip", "netns", "pids", rigNetns)) {
			if n, err := strconv.Atoi(p); err == nil {
				ps = append(ps, n)
			}
		}
		return ps
	}
	if ps := pids(); len(ps) > 0 {
		for _, p := range ps {
			if strings.TrimSpace(out("cat", "/proc/"+strconv.Itoa(p)+"/comm")) == "dockerd" {
				syscall.Kill(p, syscall.SIGTERM)
			}
		}
		for i := 0; i < 150 && len(pids()) > 0; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		for _, p := range pids() {
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
	exec.Command("ip", "netns", "del", rigNetns).Run()
	exec.Command("ip", "link", "del", rigVethOut).Run()
	// The daemon is gone; its mounts under exec-root (network namespaces,
	// containerd's) go with a lazy unmount, then its files.
	exec.Command("sh", "-c", "grep -o '"+rigDir+"[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l").Run()
	os.RemoveAll(rigDir)
}

func (r *Rig) run(name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (r *Rig) out(name string, args ...string) string {
	out, _ := exec.Command(name, args...).Output()
	return strings.TrimSpace(string(out))
}

func (r *Rig) must(name string, args ...string) {
	r.t.Helper()
	if err := r.run(name, args...); err != nil {
		r.t.Fatal(err)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
