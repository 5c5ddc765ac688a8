// Package backend is the seam between the socketlab engine and a container
// runtime. The engine (package lab) plans a lab from a scenario and hands a
// Backend plain specs — a network, a node, a helper — that know nothing of
// scenarios; a Backend creates, lists and drives what the specs describe.
//
// The Docker backend (package backend/docker) is the only code that imports
// Docker's types. A new runtime is one new package implementing Backend.
package backend

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"time"
)

// Errors a Backend returns, wrapped with what failed, so that callers branch
// with errors.Is and never on a runtime's message text.
var (
	// ErrUnreachable: the runtime did not answer.
	ErrUnreachable = errors.New("container engine unreachable")
	// ErrNotFound: no such image, container or network.
	ErrNotFound = errors.New("not found")
	// ErrNameInUse: a container or network of that name exists.
	ErrNameInUse = errors.New("name already in use")
	// ErrOverlap: a network's subnet overlaps one the runtime already has.
	ErrOverlap = errors.New("subnet overlaps another network")
	// ErrNotRunning: the container is not running.
	ErrNotRunning = errors.New("container is not running")
	// ErrUnsupported: the runtime cannot do what the spec asks.
	ErrUnsupported = errors.New("not supported by this engine")
)

// Backend creates and drives a lab's networks and containers: every role
// below, and Close. Code that needs only part of it takes the role it
// needs, so that a test can stand in for that part alone.
type Backend interface {
	Lister
	Images
	Networks
	Containers
	Execer
	Helpers
	// Close releases the connection to the runtime.
	Close() error
}

// Lister describes the runtime and finds what it holds.
type Lister interface {
	// Info describes the runtime; it fails with ErrUnreachable when the
	// runtime does not answer.
	Info(ctx context.Context) (Info, error)
	// List returns the containers (running or not) and networks that carry
	// every label of sel (a label with an empty value: the key is present).
	// An empty selector lists everything.
	List(ctx context.Context, sel Selector) ([]Container, []Network, error)
}

// Images finds and makes images.
type Images interface {
	// Image describes a local image; ErrNotFound when it is not there.
	// Nothing is ever pulled.
	Image(ctx context.Context, ref string) (Image, error)
	// Pull fetches an image from its registry; only an explicit request
	// (labctl up --pull missing) calls it.
	Pull(ctx context.Context, ref string) error
	// AddFiles makes an image that is base with files copied in (a layer
	// built by the runtime from base, which it never pulls), tagged by a
	// hash of base and the files' content, and returns its reference. An
	// image of that hash already there is used as it is. The files travel
	// through the runtime's API, so this works against a remote engine.
	AddFiles(ctx context.Context, base string, files []File, labels map[string]string) (ref string, err error)
	// RemoveFilesImages removes images AddFiles made that no container
	// uses: those of refs, or every one when refs is nil. An image a
	// container still uses (another lab's node) stays, and is no error. It
	// returns the references it removed.
	RemoveFilesImages(ctx context.Context, refs []string) (removed []string, err error)
}

// Networks makes networks and joins containers to them.
type Networks interface {
	CreateNetwork(ctx context.Context, spec NetworkSpec) (id string, err error)
	RemoveNetwork(ctx context.Context, id string) error
	Connect(ctx context.Context, network, container string, ep Endpoint) error
	Disconnect(ctx context.Context, network, container string) error
}

// Containers makes, runs and reads a lab's containers.
type Containers interface {
	// CreateNode creates a container on spec.Networks[0], joins it to the
	// others while it is not yet running (so that its program starts with
	// every address), and does not start it.
	CreateNode(ctx context.Context, spec NodeSpec) (id string, err error)
	Start(ctx context.Context, container string) error
	// Stop sends SIGTERM, then SIGKILL after timeout.
	Stop(ctx context.Context, container string, timeout time.Duration) error
	// Kill sends SIGKILL.
	Kill(ctx context.Context, container string) error
	// Remove removes a container, running or not; a container already gone
	// is no error.
	Remove(ctx context.Context, container string) error
	// Inspect reads a container's state, addresses and confinement.
	Inspect(ctx context.Context, container string) (ContainerInfo, error)
	// Logs copies a container's output; with follow, until ctx ends or the
	// container stops. tail > 0 copies only the last tail lines.
	Logs(ctx context.Context, container string, follow bool, tail int, stdout, stderr io.Writer) error
}

// Execer runs commands in running containers.
type Execer interface {
	// Exec runs argv in a running container and returns its exit status.
	// When ctx ends Exec returns ctx's error; the process may run on.
	Exec(ctx context.Context, container string, argv []string, s Streams) (exitCode int, err error)
}

// Helpers works in a container's network namespace.
type Helpers interface {
	// RunHelper runs spec's image in the network namespace of container
	// (Docker's container:<id> network mode), or with container "" in the
	// host's, where the engine's bridges are (network mode host), with only
	// spec.Caps, a read-only root and no-new-privileges, and returns once
	// it runs.
	RunHelper(ctx context.Context, container string, spec HelperSpec) (Helper, error)
	// NetNS opens the network namespace of container's process, when the
	// runtime runs on this machine and this process may open it (root);
	// otherwise it returns ErrUnsupported and the caller uses RunHelper. It
	// is the fast path for a quick change in a node's namespace (netlink
	// sockets opened in it): no helper container to create, start, remove.
	NetNS(ctx context.Context, container string) (*os.File, error)
}

// LabelHost is the label on a container that names the host it is placed
// on (NodeSpec.Host), for a runtime that spans several hosts.
const LabelHost = "socketlab.host"

// Info describes a runtime.
type Info struct {
	Name       string // e.g. "docker"
	Version    string // the engine's version, e.g. 20.10.24
	APIVersion string // the API version spoken, e.g. 1.41
	// Product is the engine serving the API: Docker, Docker Desktop, Podman.
	Product string
	// Rootless: the engine runs as an unprivileged user, with no say over
	// the host's network (its bridges are in a namespace of its own).
	Rootless bool
	// ImageStore is where the engine keeps images, e.g. overlay2, or
	// containerd, overlayfs snapshotter (Docker 29's default).
	ImageStore string
	// IPv6OnlyNetworks: a network can have IPv6 and no IPv4 (Docker 28+).
	IPv6OnlyNetworks bool
	// IsolatesIPv6: the engine filters IPv6 between its networks itself
	// (ip6tables on newer Docker).
	IsolatesIPv6 bool
	// Hosts names the hosts a node may be placed on (NodeSpec.Host), the
	// first being where networks are made; empty for a one-host runtime.
	Hosts []string
	// DNSAtGateway: the runtime's name server answers on each network's
	// gateway address, port 53 (Podman's aardvark-dns), not inside the node
	// (Docker's 127.0.0.11): a sealed node may ask it names.
	DNSAtGateway bool
	// Resolvers are the servers the runtime's name server asks, on a
	// node's behalf and from within its namespace, the names it does not
	// know (Docker's embedded DNS forwards to its host's): a sealed node
	// may send name queries there. Empty when the runtime does not say.
	Resolvers []netip.Addr
	// PinAddresses: the runtime cannot be trusted to give unique addresses
	// or to resolve names in both families, so the engine gives every node
	// fixed IPv4 and IPv6 addresses and the lab's names as ExtraHosts.
	PinAddresses bool
}

// Selector selects resources by label: every key must be present with the
// value given ("" matches any value).
type Selector map[string]string

// NetworkSpec describes a network to create.
type NetworkSpec struct {
	Name       string
	IPv4, IPv6 netip.Prefix // the subnets; a zero prefix: that family is off
	// IPv4Off asks for a network with no IPv4 at all; an engine that cannot
	// do it returns ErrUnsupported.
	IPv4Off bool
	// Isolated drops traffic between the network's containers in the
	// family the engine cannot turn off (IPv4 on an IPv6-only network of an
	// engine that always gives a bridge IPv4).
	Isolated bool
	Internal bool
	Labels   map[string]string
}

// Endpoint is a container's place on one network.
type Endpoint struct {
	Network    string // the network's name or ID
	IPv4, IPv6 netip.Addr
	Aliases    []string
}

// NodeSpec describes a lab node's container.
type NodeSpec struct {
	Name       string
	Image      string
	Hostname   string
	Cmd        []string // arguments to the image's entrypoint (nil: the image's)
	Entrypoint []string // nil: the image's
	Env        []string // KEY=VALUE
	WorkDir    string
	User       string
	Labels     map[string]string
	Networks   []Endpoint // in order; the first is the one the container is created on
	Security   Security
	// StopTimeout is how long Stop waits before SIGKILL.
	StopTimeout time.Duration
	// RestartOnFailure restarts the container when its program fails.
	RestartOnFailure bool
	// LogMaxBytes bounds the container's log (0: the engine's default).
	LogMaxBytes int64
	// ExtraHosts are lines for the container's /etc/hosts, NAME:ADDRESS
	// (an IPv6 address unbracketed, e.g. echo:fd5c:1ab:0:18::254).
	ExtraHosts []string
	// Sysctls are kernel settings of the container's namespaces, e.g.
	// net.ipv6.conf.all.disable_ipv6: "0".
	Sysctls map[string]string
	// Host is the host the container is placed on, one of Info.Hosts
	// ("": the runtime's only host, or its first).
	Host string
	// Init runs the program under a small init as PID 1, which passes
	// signals on and reaps children (a program that is PID 1 itself
	// ignores SIGTERM unless it handles it).
	Init bool
	// Mounts are host paths bind-mounted into the container.
	Mounts []Mount
	// Publish makes container ports reachable on the host.
	Publish []PortBinding
}

// Mount is a host path bind-mounted into a container.
type Mount struct {
	Source   string // absolute path on the runtime's host
	Target   string // absolute path in the container
	ReadOnly bool
}

// PortBinding publishes a container's port on a host address.
type PortBinding struct {
	HostIP        netip.Addr
	HostPort      uint16
	ContainerPort uint16
	UDP           bool
}

// File is a host file or folder that AddFiles puts into an image.
type File struct {
	Source string // absolute path on this machine
	Target string // absolute path in the image
}

// Security is how a container is confined.
type Security struct {
	ReadOnlyRoot    bool
	CapDrop, CapAdd []string
	NoNewPrivileges bool
	Memory          int64 // bytes; 0: no limit
	Pids            int64 // 0: no limit
	Tmpfs           []string
	Privileged      bool
	SecurityOpt     []string // as the engine reports them (Inspect)
}

// Image is what the engine needs to know of an image.
type Image struct {
	ID string
	// Healthcheck is the image's HEALTHCHECK as a command to exec (a shell
	// form is run with /bin/sh -c); nil when it has none.
	Healthcheck []string
}

// Container is one container as List finds it.
type Container struct {
	ID      string
	Name    string
	Image   string // as created, e.g. socketlab/echo:latest
	ImageID string
	Running bool
	State   string
	Labels  map[string]string
}

// Network is one network as List finds it.
type Network struct {
	ID      string
	Name    string
	Subnets []netip.Prefix
	// Gateways are the network's gateway addresses: the host's own on the
	// network (a bridge's), where a sealed node may not send.
	Gateways []netip.Addr
	Internal bool
	Labels   map[string]string
	// Bridge is the host interface of a bridge network (e.g. br-0123456789ab),
	// in the network namespace of the engine's host; "" for other drivers.
	Bridge string
}

// ContainerInfo is a container as Inspect reads it.
type ContainerInfo struct {
	ID       string
	Name     string
	Image    string
	ImageID  string
	State    string // running, exited, created, ...
	Running  bool
	ExitCode int
	// Health is the engine's view of the image's healthcheck: healthy,
	// unhealthy, starting, or "" when the image has none.
	Health    string
	User      string
	Security  Security
	Endpoints []EndpointInfo // in no particular order
	Labels    map[string]string
}

// EndpointInfo is a container's endpoint on one network, as the engine
// reports it.
type EndpointInfo struct {
	Network    string // the network's name
	NetworkID  string
	IPv4, IPv6 netip.Addr
	Aliases    []string
	MAC        string
	// Interface is the interface's name inside the container (eth0, ...),
	// "" when the backend cannot tell.
	Interface string
}

// Streams are the standard streams of an exec. A nil Stdin gives the
// command no input; nil writers drop the output.
type Streams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// HelperSpec describes a helper container: a small program run in a node's
// network namespace (packet capture, link impairment), never a node itself.
// The engine's callers give Purpose; the engine names the container (Name)
// and labels it from it, so that helpers are never taken for nodes.
type HelperSpec struct {
	// Purpose names what the helper does, e.g. "capture".
	Purpose string
	// Name is the container's name, set by the engine.
	Name  string
	Image string
	Cmd   []string
	Caps  []string // the only capabilities it gets, e.g. images.CapNetRaw
	// Labels are the helper's container's labels (the engine adds its own).
	Labels map[string]string
	// Stderr receives the helper's stderr (nil: dropped).
	Stderr io.Writer
}

// Helper is a running helper container.
type Helper interface {
	// ID is the helper's container ID.
	ID() string
	// Stdout streams what the helper writes until it exits.
	Stdout() io.Reader
	// Wait returns the helper's exit status once it has exited.
	Wait(ctx context.Context) (int, error)
	// Remove stops (SIGTERM, then SIGKILL after grace) and removes it.
	Remove(ctx context.Context, grace time.Duration) error
}
