package lab

import (
	"context"
	"time"

	"socketlab/internal/images"
	"socketlab/labctl/backend"
	"socketlab/labctl/scenario"
)

// The socketlab kinds: the six services and the client, each a socketlab
// image by its short name, hardened (read-only root, no capabilities,
// no-new-privileges, the node's limits).

// StopTimeout is how long Stop lets a node shut down gracefully before the
// engine kills it.
const StopTimeout = 5 * time.Second

// logMaxBytes bounds each node's log on the engine.
const logMaxBytes = 16 << 20

// hardened is the container setup every socketlab node gets.
func hardened(n *scenario.Node, spec *backend.NodeSpec) {
	spec.Cmd = n.Args
	spec.Security = backend.Security{
		ReadOnlyRoot: true, CapDrop: []string{"ALL"}, NoNewPrivileges: true,
		Memory: int64(n.Memory), Pids: n.Pids,
	}
	spec.StopTimeout = StopTimeout
	spec.LogMaxBytes = logMaxBytes
}

// serviceKind is a socketlab server: ready when its image's healthcheck
// passes.
type serviceKind struct{}

func (serviceKind) Name() string                              { return "service" }
func (serviceKind) Match(n *scenario.Node) bool               { return images.IsService(n.Image) }
func (serviceKind) Image(n *scenario.Node, tag string) string { return images.Ref(n.Image, tag) }
func (serviceKind) Configure(n *scenario.Node, spec *backend.NodeSpec) {
	hardened(n, spec)
	// A server killed by the kernel (out of memory) comes back.
	spec.RestartOnFailure = true
}
func (serviceKind) Readiness(_ *scenario.Node, img backend.Image) Readiness {
	return healthcheck(img)
}

// clientKind is the image with the sock client, where steps run.
type clientKind struct{}

func (clientKind) Name() string                              { return "client" }
func (clientKind) Match(n *scenario.Node) bool               { return n.Image == images.Client }
func (clientKind) Image(n *scenario.Node, tag string) string { return images.Ref(n.Image, tag) }
func (clientKind) Configure(n *scenario.Node, spec *backend.NodeSpec) {
	hardened(n, spec)
}
func (clientKind) Readiness(_ *scenario.Node, img backend.Image) Readiness {
	return healthcheck(img)
}

// healthcheck is the readiness of an image's own HEALTHCHECK, run at once
// and then every healthPoll: Docker runs the same check only after the
// image's interval (20.10 has no start interval), which would make every up
// take seconds. An image without one is ready once it runs.
func healthcheck(img backend.Image) Readiness {
	if img.Healthcheck == nil {
		return Readiness{}
	}
	argv := img.Healthcheck
	return Readiness{What: "healthcheck", Check: func(ctx context.Context, b ReadyBackend, id string) error {
		return execCheck(ctx, b, id, argv)
	}}
}
