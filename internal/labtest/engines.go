package labtest

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"socketlab/internal/images"
)

// RigEngines are the engines make test-engines runs the tests against,
// each beside this machine's engine and out of its way.
var RigEngines = []string{"docker29", "podman"}

// A RigEngine is a started rig engine with the tests' images in it.
type RigEngine struct {
	// Endpoint is its API socket, for DOCKER_HOST.
	Endpoint string
	// Netns is the network namespace a person using it is in: that of
	// its bridges (a path for nsenter --net), or "" for the host's.
	Netns string
	// Description names it: product, version, API, image store.
	Description string
	// Stop stops it and removes what it made.
	Stop func()
}

// StartRigEngine starts the rig engine called name (one of RigEngines)
// and loads the images the tests use into it from the environment's
// engine. bin holds Docker 29's binaries (mk/engines.mk builds them).
func StartRigEngine(ctx context.Context, name, bin string) (*RigEngine, error) {
	switch name {
	case "docker29":
		// dockerd 29 from the module proxy, its docker-proxy and a runc
		// that knows time namespaces (Debian's 1.1 does not); Debian's
		// containerd, which dockerd starts itself.
		d, err := StartDaemon(ctx, DaemonConfig{Name: "slrig-docker29", Bin: bin})
		if err != nil {
			return nil, err
		}
		if err := d.Load(ctx, "", HostImages(ctx)...); err != nil {
			d.Stop()
			return nil, fmt.Errorf("rig engine %s: %w", name, err)
		}
		return &RigEngine{Endpoint: d.Endpoint, Netns: d.NetnsPath(), Description: d.Describe(ctx), Stop: d.Stop}, nil
	case "podman":
		p, err := StartPodman(ctx, 0)
		if err != nil {
			return nil, err
		}
		if err := p.Load(ctx, HostImages(ctx)...); err != nil {
			p.Stop()
			return nil, fmt.Errorf("rig engine %s: %w", name, err)
		}
		return &RigEngine{Endpoint: p.Endpoint, Description: p.Describe(ctx), Stop: p.Stop}, nil
	}
	return nil, fmt.Errorf("rig engine %q: no such engine (engines: %s)", name, strings.Join(RigEngines, ", "))
}

// HostImages are the references of the tests' images (Images) that the
// environment's engine holds.
func HostImages(ctx context.Context) []string {
	out, _ := exec.CommandContext(ctx, "docker", "images", "--format", "{{.Repository}}:{{.Tag}}").Output()
	have := strings.Fields(string(out))
	var refs []string
	for _, img := range Images() {
		if ref := images.Ref(img, ""); slices.Contains(have, ref) {
			refs = append(refs, ref)
		}
	}
	return refs
}

// Describe names the engine at the daemon's endpoint as a person would:
// product and version, API version, image store.
func (d *Daemon) Describe(ctx context.Context) string {
	v, err := d.Docker(ctx, "version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}}")
	if err != nil {
		return "unknown engine: " + err.Error()
	}
	store, _ := d.Docker(ctx, "info", "--format", "{{.Driver}}{{range .DriverStatus}} {{index . 0}}={{index . 1}}{{end}}")
	if strings.Contains(store, "io.containerd.snapshotter") {
		store = "containerd image store, " + strings.Fields(store)[0]
	}
	return "Docker " + v + ", " + store + ")"
}

// NeedHostRoute skips t on an engine whose node addresses the host cannot
// reach: a rootless one keeps its networks in a namespace of the user's.
// A test that sends to nodes from the test process needs the route; what
// it checks there is left to the tests that go through a node.
func NeedHostRoute(t testing.TB) {
	t.Helper()
	Need(t)
	info, err := state.engine.Backend().Info(context.Background())
	if err != nil {
		t.Fatalf("engine info: %v", err)
	}
	if info.Rootless {
		t.Skipf("%s %s is rootless: the host cannot reach node addresses, which this test sends to from the host", info.Product, info.Version)
	}
}
