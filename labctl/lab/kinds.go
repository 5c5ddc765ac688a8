package lab

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"socketlab/labctl/backend"
	"socketlab/labctl/scenario"
)

// A NodeKind is one sort of node: what image it runs, how its container is
// set up, and when it is ready. Each kind is one entry in the list kinds,
// in its own file; the engine asks the list and knows no kind by name.
type NodeKind interface {
	// Name is the kind's name, e.g. "service".
	Name() string
	// Match tells whether the scenario node is of this kind.
	Match(n *scenario.Node) bool
	// Image is the image reference the node runs, with the engine's tag
	// for the socketlab images.
	Image(n *scenario.Node, tag string) string
	// Configure sets the kind's container settings on spec, which the
	// engine has filled with the node's name, networks and labels.
	Configure(n *scenario.Node, spec *backend.NodeSpec)
	// Readiness is how up knows the node is ready, given its image.
	Readiness(n *scenario.Node, img backend.Image) Readiness
}

// KindValidator is a NodeKind that has rules of its own for a node, checked
// when the lab is planned, before anything is created.
type KindValidator interface {
	Validate(n *scenario.Node) error
}

// Readiness is a node's readiness check.
type Readiness struct {
	// What says what was checked, for a person: "healthcheck", or "" when
	// the node is ready once it runs.
	What string
	// Check runs once; nil error means ready. It is retried until it
	// passes or the health timeout ends.
	Check func(ctx context.Context, b ReadyBackend, container string) error
}

// ReadyBackend is what a readiness check may use of the backend: read the
// container and its log, exec in it, run a helper beside it.
type ReadyBackend interface {
	backend.Containers
	backend.Execer
	backend.Helpers
}

// kinds are the node kinds, asked in this order: the first that matches a
// node is its kind. A new kind is a file with its type and one line here.
// The image kind, which runs any image that is not a socketlab short name,
// is not in the list: kindSet.of asks it after every kind listed, so it
// can never shadow one.
var kinds = kindSet{serviceKind{}, clientKind{}, toolboxKind{}}

// anyImage is the catch-all kind, asked last.
var anyImage NodeKind = imageKind{}

// kindSet is an ordered list of node kinds.
type kindSet []NodeKind

// Kinds returns the names of the node kinds, sorted.
func Kinds() []string { return kinds.names() }

func (ks kindSet) names() []string {
	names := []string{anyImage.Name()}
	for _, k := range ks {
		names = append(names, k.Name())
	}
	sort.Strings(names)
	return slices.Compact(names)
}

// of finds the kind of a node: the first of ks that matches it, else the
// image kind.
func (ks kindSet) of(n *scenario.Node) (NodeKind, error) {
	for _, k := range append(ks[:len(ks):len(ks)], anyImage) {
		if k.Match(n) {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: node %s: no node kind runs image %q (kinds: %v)", ErrInvalid, n.Name, n.Image, ks.names())
}
