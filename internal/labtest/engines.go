package labtest

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"

	"socketlab/internal/images"
)

// RigEngines are the engines make test-engines runs the tests against,
// each beside this machine's engine and out of its way.
var RigEngines = []string{"docker29"}

// StartRigEngine starts the rig engine called name (one of RigEngines)
// from the binaries in bin (mk/engines.mk builds them) and loads the
// images the tests use into it from the environment's engine.
func StartRigEngine(ctx context.Context, name, bin string) (*Daemon, error) {
	var cfg DaemonConfig
	switch name {
	case "docker29":
		// dockerd 29 from the module proxy, its docker-proxy and a runc
		// that knows time namespaces (Debian's 1.1 does not); Debian's
		// containerd, which dockerd starts itself.
		cfg = DaemonConfig{Name: "slrig-docker29", Bin: bin}
	default:
		return nil, fmt.Errorf("rig engine %q: no such engine (engines: %s)", name, strings.Join(RigEngines, ", "))
	}
	d, err := StartDaemon(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := d.Load(ctx, "", HostImages(ctx)...); err != nil {
		d.Stop()
		return nil, fmt.Errorf("rig engine %s: %w", name, err)
	}
	return d, nil
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
