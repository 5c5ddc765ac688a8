package lab

import (
	"net/netip"
	"slices"

	"socketlab/internal/images"
	"socketlab/labctl/backend"
	"socketlab/labctl/scenario"
)

// The kinds of a learner's or a user's own programs: the socketlab toolbox
// (Debian with python3, the network tools and sock) by its short name, and
// any other image by its reference. Both are hardened as the socketlab
// nodes are; the scenario relaxes that per node (readonly, tmpfs, cap_add).
// The image kind is the catch-all, asked after every other (kinds.go).

// toolboxKind is socketlab/toolbox: ready once it runs, unless the
// scenario says what to wait for.
type toolboxKind struct{}

func (toolboxKind) Name() string                              { return "toolbox" }
func (toolboxKind) Match(n *scenario.Node) bool               { return n.Image == images.Toolbox }
func (toolboxKind) Image(n *scenario.Node, tag string) string { return images.Ref(n.Image, tag) }
func (toolboxKind) Configure(n *scenario.Node, spec *backend.NodeSpec) {
	hardened(n, spec)
}
func (toolboxKind) Readiness(_ *scenario.Node, img backend.Image) Readiness {
	return healthcheck(img)
}

// imageKind is any image that is not one of socketlab's, by its reference
// (python:3.12-slim), run as it is: its entrypoint and command unless the
// scenario gives them, ready when its HEALTHCHECK passes (if it has one).
type imageKind struct{}

func (imageKind) Name() string                                       { return "image" }
func (imageKind) Match(n *scenario.Node) bool                        { return !images.IsShortName(n.Image) }
func (imageKind) Image(n *scenario.Node, _ string) string            { return n.Image }
func (imageKind) Configure(n *scenario.Node, spec *backend.NodeSpec) { hardened(n, spec) }
func (imageKind) Readiness(_ *scenario.Node, img backend.Image) Readiness {
	return healthcheck(img)
}

// publishAddr is where published ports listen: the host's loopback only,
// so that a lab is never reachable from the machine's network.
var publishAddr = netip.MustParseAddr("127.0.0.1")

// containerSettings applies what a scenario may set on a node of any kind,
// after the kind's own Configure: its program, user and folders, the
// relaxations of the hardening it asks for, and its published ports. Files
// become an image layer at Up (see upper.addFiles).
func containerSettings(n *scenario.Node, spec *backend.NodeSpec) {
	if len(n.Command) > 0 {
		spec.Cmd = slices.Clone(n.Command)
	}
	if len(n.Entrypoint) > 0 {
		spec.Entrypoint = slices.Clone(n.Entrypoint)
	}
	// A program of the scenario's own is PID 1 otherwise, and the kernel
	// ignores SIGTERM for a PID 1 that does not handle it: every stop
	// would wait for StopTimeout, then kill.
	spec.Init = len(n.Command) > 0 || len(n.Entrypoint) > 0
	if n.WorkDir != "" {
		spec.WorkDir = n.WorkDir
	}
	if n.User != "" {
		spec.User = n.User
	}
	if n.ReadOnly != nil {
		spec.Security.ReadOnlyRoot = *n.ReadOnly
	}
	spec.Security.Tmpfs = append(spec.Security.Tmpfs, n.Tmpfs...)
	spec.Security.CapAdd = append(spec.Security.CapAdd, n.CapAdd...)
	for _, m := range n.Mounts {
		spec.Mounts = append(spec.Mounts, backend.Mount{Source: m.HostPath, Target: m.Target, ReadOnly: !m.Writable})
	}
	for _, p := range n.Publish {
		spec.Publish = append(spec.Publish, backend.PortBinding{HostIP: publishAddr, HostPort: p.HostPort, ContainerPort: p.NodePort, UDP: p.UDP})
	}
}
