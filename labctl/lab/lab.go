// Package lab is the socketlab engine. It plans a lab from a validated
// scenario, reconciles the runtime with the plan (an idempotent up, rollback
// of a failed one, labels as the only state), reports progress as events,
// and hands out a Lab handle for a lab's nodes. It talks to the container
// runtime only through a backend.Backend (package labctl/backend; the Docker
// one is labctl/backend/docker): e := lab.New(backend), then e.Up, e.Down,
// e.List, e.Open.
//
// Where things go:
//   - a new node kind is one new file with its NodeKind (see
//     kind_socketlab.go): its image reference, container settings,
//     readiness; and one line in the list in kinds.go;
//   - a new runtime is one new package implementing backend.Backend;
//   - helper containers (capture, impairment) run through Lab.RunHelper and
//     carry the helper role label, so they are never taken for nodes.
//
// Every resource carries the lab's name in its labels, so Down, Status and
// the node operations work from the labels alone, without the scenario file.
package lab

import (
	"errors"
	"time"

	"socketlab/labctl/backend"
)

// Errors callers branch on. The engine wraps them with what failed and what
// to do, so errors.Is works and the message still reads well.
var (
	// ErrEngineUnreachable: no container engine answered.
	ErrEngineUnreachable = backend.ErrUnreachable
	// ErrImageMissing: an image the scenario needs has not been built.
	ErrImageMissing = errors.New("image not found")
	// ErrNameTaken: a Docker container or network with a lab resource's name
	// exists and does not belong to that lab.
	ErrNameTaken = errors.New("name already taken")
	// ErrBusy: another process is bringing the lab up right now.
	ErrBusy = errors.New("lab is being brought up by another process")
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
	// ErrInvalid: the scenario or an argument cannot be turned into a lab
	// (a bad name, pool or kind).
	ErrInvalid = errors.New("invalid lab definition")
)

// Phase is a step in the life of a network or node, as reported by Event.
type Phase string

// The phases Up, Start and Down report.
const (
	Preparing Phase = "preparing" // before the container exists: its image with the node's files is made (Detail says what)
	Created   Phase = "created"   // the network or container exists
	Started   Phase = "started"   // the container runs
	Healthy   Phase = "healthy"   // the container passed its image's healthcheck
	Ready     Phase = "ready"     // the container passed the scenario's readiness check (Detail says which)
	Running   Phase = "running"   // the container runs and has no readiness check: nothing was checked
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
