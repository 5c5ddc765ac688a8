package labtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"socketlab/internal/images"
	"socketlab/labctl/backend/swarm"
)

// Rig is two Docker hosts on this machine for the multi-host tests: two
// rig daemons (see Daemon), each in a network namespace of its own, the
// namespaces joined by a veth pair. Join makes them one swarm. The engine
// a person uses is never part of it: it is never put in swarm mode and
// keeps its DNS records. Engine two is reached as a remote engine must
// be: over TCP with TLS (certificates made by the test), from a hosts file
// that names them, through a veth of its own to this machine. Everything
// is undone when the test ends, also
// when it fails: both daemons stopped, their namespaces (and so the veth)
// and files removed.
type Rig struct {
	// Hosts names both engines: "one" (the manager, its socket) and "two"
	// (tcp://10.231.252.2:2376 with TLS), as the rig's hosts file does.
	Hosts *swarm.Hosts
	// One and Two are the engines' sockets, unix:///..., for the docker CLI.
	One, Two string

	t       testing.TB
	daemons []*Daemon
}

// The rig's fixed names and addresses: its namespaces hold nothing else,
// so they cannot collide with the host's networks.
const (
	rigOne     = "slrig-swarm1"
	rigTwo     = "slrig-swarm2"
	rigVethOne = "slrig-sw1" // in rigOne's namespace
	rigVethTwo = "slrig-sw2" // in rigTwo's
	rigAddrOne = "10.231.255.1"
	rigAddrTwo = "10.231.255.2"
	rigVethTLS = "slrig-sw2tls" // on the host, to rigTwo's TLS port
	rigTLSHost = "10.231.252.1"
	rigTLSTwo  = "10.231.252.2"
	rigPool    = "10.232.0.0/16" // the swarm's own networks (ingress)
)

// NewRig starts both engines and loads images (socketlab image names) into
// them from the environment's engine. It skips t (fails it in CI) when the
// machine cannot host a rig: not root, no dockerd, nsenter or ip.
func NewRig(t testing.TB, imgs ...string) *Rig {
	t.Helper()
	Need(t)
	NeedImages(t, imgs...)
	for _, cmd := range []string{"dockerd", "nsenter", "ip", "docker"} {
		NeedCommand(t, cmd, map[string]string{"dockerd": "docker.io", "docker": "docker.io", "nsenter": "util-linux", "ip": "iproute2"}[cmd])
	}
	needRoot(t, "the two-host rig needs root (network namespaces, two dockerd)")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r := &Rig{t: t}
	t.Cleanup(r.teardown)
	tls, err := newRigTLS(t.TempDir(), rigTLSTwo)
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []DaemonConfig{
		{Name: rigOne, StorageDriver: "vfs", Bip: "10.231.254.1/24"},
		{Name: rigTwo, StorageDriver: "vfs", Bip: "10.231.253.1/24", Args: tls.Args},
	} {
		d, err := StartDaemon(ctx, cfg)
		if d != nil {
			r.daemons = append(r.daemons, d)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	one, two := r.daemons[0], r.daemons[1]
	r.One, r.Two = one.Endpoint, two.Endpoint
	r.must("ip", "link", "add", rigVethOne, "netns", rigOne, "type", "veth", "peer", "name", rigVethTwo, "netns", rigTwo)
	r.must("ip", "-n", rigOne, "addr", "add", rigAddrOne+"/30", "dev", rigVethOne)
	r.must("ip", "-n", rigTwo, "addr", "add", rigAddrTwo+"/30", "dev", rigVethTwo)
	r.must("ip", "-n", rigOne, "link", "set", rigVethOne, "up")
	r.must("ip", "-n", rigTwo, "link", "set", rigVethTwo, "up")
	// This machine reaches engine two's TLS port through a veth of its own
	// (gone with rigTwo's namespace).
	r.must("ip", "link", "add", rigVethTLS, "type", "veth", "peer", "name", "tls0", "netns", rigTwo)
	r.must("ip", "addr", "add", rigTLSHost+"/30", "dev", rigVethTLS)
	r.must("ip", "link", "set", rigVethTLS, "up")
	r.must("ip", "-n", rigTwo, "addr", "add", rigTLSTwo+"/30", "dev", "tls0")
	r.must("ip", "-n", rigTwo, "link", "set", "tls0", "up")
	var refs []string
	for _, img := range imgs {
		refs = append(refs, images.Ref(img, ""))
	}
	for _, d := range r.daemons {
		if err := d.Load(ctx, "", refs...); err != nil {
			t.Fatal(err)
		}
	}
	if r.Hosts, err = tls.hosts(r.One); err != nil {
		t.Fatal(err)
	}
	return r
}

// Join makes engine one a swarm manager over the veth and engine two a
// worker of it.
func (r *Rig) Join() {
	r.t.Helper()
	r.must("docker", "-H", r.One, "swarm", "init", "--advertise-addr", rigAddrOne, "--listen-addr", rigAddrOne+":2377",
		"--default-addr-pool", rigPool)
	token := r.out("docker", "-H", r.One, "swarm", "join-token", "-q", "worker")
	r.must("docker", "-H", r.Two, "swarm", "join", "--token", token,
		"--advertise-addr", rigAddrTwo, "--listen-addr", rigAddrTwo+":2377", rigAddrOne+":2377")
}

// Containers counts the nodes of lab on engine one and on engine two.
func (r *Rig) Containers(lab string) (one, two int) {
	count := func(host string) int {
		out := r.out("docker", "-H", host, "ps", "-aq", "--filter", "label=socketlab.lab="+lab, "--filter", "label=socketlab.role=node")
		return len(strings.Fields(out))
	}
	return count(r.One), count(r.Two)
}

// teardown undoes the rig, whatever state a failure left it in.
func (r *Rig) teardown() {
	for _, d := range r.daemons {
		if r.t.Failed() {
			if log, err := os.ReadFile(d.Log()); err == nil {
				r.t.Logf("%s's dockerd log ends:\n%s", d.Name, tail(string(log), 30))
			}
		}
		d.Stop()
	}
}

// SweepRig undoes a rig left by a test process that was killed (a go test
// timeout runs no cleanups): its daemons stopped, their namespaces and
// files removed. A rig in use (its daemons' locks held by a live process)
// is left alone.
func SweepRig() {
	SweepDaemon(rigOne)
	SweepDaemon(rigTwo)
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

// needRoot stops t unless it runs as root: a failure in CI, a skip saying
// why elsewhere.
func needRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if inCI() {
		t.Fatal(why + "; CI=true, so it does not skip")
	}
	t.Skip(why)
}
