// Package lab is the socketlab engine: it turns a scenario into Docker
// networks and containers, and is the only package that talks to Docker.
//
// Up creates a lab (networks with IPv4 and IPv6 subnets it allocates itself,
// hardened containers from the socketlab images, each created on its first
// network and connected to the others before it starts) and waits until every
// node passes its image's healthcheck. Every resource carries the lab's name
// in its labels, so Down, Status and the node operations work from the labels
// alone, without the scenario file.
//
// Containers are created and started with testcontainers-go; networks,
// inspection, exec and node operations use the moby client directly.
package lab

import (
	"errors"
	"io"
	"time"
)

// Errors callers branch on. The engine wraps them with what failed and what
// to do, so errors.Is works and the message still reads well.
var (
	// ErrEngineUnreachable: no Docker engine answered.
	ErrEngineUnreachable = errors.New("docker engine unreachable")
	// ErrImageMissing: an image the scenario needs has not been built.
	ErrImageMissing = errors.New("image not found")
	// ErrNameTaken: a Docker container or network with a lab resource's name
	// exists and does not belong to that lab.
	ErrNameTaken = errors.New("name already taken")
	// ErrConflict: the lab is up, but with another definition.
	ErrConflict = errors.New("lab is up with a different definition")
	// ErrNoLab: no lab of that name exists.
	ErrNoLab = errors.New("no such lab")
	// ErrNoNode: the lab has no node of that name.
	ErrNoNode = errors.New("no such node")
	// ErrNoNetwork: the lab has no network of that name.
	ErrNoNetwork = errors.New("no such network")
	// ErrNotRunning: the node exists but is not running.
	ErrNotRunning = errors.New("node is not running")
	// ErrUnhealthy: a node exited or failed its healthcheck while starting.
	ErrUnhealthy = errors.New("node did not become healthy")
	// ErrSubnetsExhausted: no free subnet is left in the engine's pools.
	ErrSubnetsExhausted = errors.New("no free subnet")
	// ErrInvalid: the scenario or an argument cannot be turned into Docker
	// resources (a bad name, memory size or address).
	ErrInvalid = errors.New("invalid lab definition")
)

// Option configures Up, Open, Down and List.
type Option func(*options)

type options struct {
	name          string
	progress      func(Event)
	healthTimeout time.Duration
	pool4, pool6  string
	logs          io.Writer
	tag           string
}

func newOptions(opts []Option) options {
	o := options{healthTimeout: DefaultHealthTimeout, pool4: DefaultPool4, pool6: DefaultPool6, tag: DefaultTag}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// DefaultHealthTimeout bounds how long Up and Start wait for a node to pass
// its healthcheck.
const DefaultHealthTimeout = 30 * time.Second

// WithName names the lab, overriding the scenario's name. Tests use it to
// run one scenario several times side by side.
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithProgress receives an Event as each network and node moves on (created,
// started, healthy, removed). Calls are serialized; fn must not block long.
func WithProgress(fn func(Event)) Option { return func(o *options) { o.progress = fn } }

// WithHealthTimeout changes how long a node may take to become healthy.
func WithHealthTimeout(d time.Duration) Option { return func(o *options) { o.healthTimeout = d } }

// WithPools changes the ranges subnets are allocated from when a scenario
// gives none: an IPv4 prefix of length ≤ 24 (cut into /24s) and an IPv6 prefix
// of length ≤ 64 (cut into /64s).
func WithPools(ipv4, ipv6 string) Option {
	return func(o *options) { o.pool4, o.pool6 = ipv4, ipv6 }
}

// WithImageTag runs the images with tag instead of DefaultTag, e.g. images
// built for a branch.
func WithImageTag(tag string) Option { return func(o *options) { o.tag = tag } }

// WithEngineLog sends testcontainers' own log lines to w (default: dropped).
func WithEngineLog(w io.Writer) Option { return func(o *options) { o.logs = w } }

// Phase is a step in the life of a network or node, as reported by Event.
type Phase string

// The phases Up, Start and Down report.
const (
	Created   Phase = "created"   // the network or container exists
	Started   Phase = "started"   // the container runs
	Healthy   Phase = "healthy"   // the container passed its healthcheck (or has none)
	Unchanged Phase = "unchanged" // up already, as the scenario says: left alone
	Failed    Phase = "failed"    // see Event.Err
	Removed   Phase = "removed"   // the network or container is gone
)

// Kind tells what an Event is about.
type Kind string

// The kinds of resource a lab has.
const (
	KindNetwork Kind = "network"
	KindNode    Kind = "node"
)

// Event reports progress on one network or node of a lab.
type Event struct {
	Lab     string
	Kind    Kind
	Name    string // the scenario's name of the network or node
	Phase   Phase
	Detail  string        // e.g. the subnets of a network, the image of a node
	Elapsed time.Duration // since the operation began
	Err     error         // set when Phase is Failed
}
