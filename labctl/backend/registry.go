package backend

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Opener connects to a runtime at where, whose meaning is the runtime's
// ("" for Docker's default endpoint, a hosts file for a swarm).
type Opener func(ctx context.Context, where string) (Backend, error)

// Registry names the runtimes a program can drive.
type Registry map[string]Opener

// Open connects to the runtime called name at where.
func (r Registry) Open(ctx context.Context, name, where string) (Backend, error) {
	open, ok := r[name]
	if !ok {
		return nil, fmt.Errorf("no container engine backend called %q (there are: %s)", name, strings.Join(r.Names(), ", "))
	}
	return open(ctx, where)
}

// Names are the runtimes' names, sorted.
func (r Registry) Names() []string {
	var names []string
	for name := range r {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
