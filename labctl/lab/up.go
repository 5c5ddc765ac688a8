package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"socketlab/labctl/backend"
	"socketlab/labctl/scenario"
)

// Up brings the scenario's lab up and returns when every node is ready (its
// kind's readiness check passed). sc must have passed validation (Parse,
// Load or Validate). The lab is named sc.Name unless WithName says
// otherwise.
//
// Up is idempotent: resources that exist as the scenario says are left
// alone (a stopped node is started), missing ones are created, and a lab that
// is up with another definition is an ErrConflict. When Up fails or ctx ends
// (Ctrl-C), it removes what it created before returning.
func (e *Engine) Up(ctx context.Context, sc *scenario.Scenario, opts ...UpOption) (*Lab, error) {
	o, err := with(e.o, opts, UpOption.applyUp)
	if err != nil {
		return nil, err
	}
	name := o.name
	if name == "" {
		name = sc.Name
	}
	u, err := e.resolve(ctx, sc, name, o)
	if err != nil {
		return nil, err
	}
	if o.recreate {
		quiet := o
		quiet.progress = nil // the lab's resources as they were are no news
		if err := e.down(ctx, name, quiet); err != nil && !errors.Is(err, ErrNoLab) {
			return nil, err
		}
	}
	changed, err := u.run(ctx)
	u.unlock(ctx)
	if err != nil {
		if rerr := u.rollback(ctx); rerr != nil {
			return nil, fmt.Errorf("%w (and rolling back: %v)", err, rerr)
		}
		return nil, err
	}
	return &Lab{name: name, e: e, o: o, changed: changed}, nil
}

// resolve makes the plan of sc as lab name, before anything is created:
// specs, host paths and files (newPlan), placement on the runtime's hosts,
// the images (there, or pulled when o.pull), and readiness.
func (e *Engine) resolve(ctx context.Context, sc *scenario.Scenario, name string, o options) (*upper, error) {
	p, err := newPlan(sc, name, newID(), o)
	if err != nil {
		return nil, err
	}
	if len(p.nodes) == 0 {
		return nil, fmt.Errorf("%w: lab %s has no nodes", ErrInvalid, p.name)
	}
	info, err := e.b.Info(ctx)
	if err != nil {
		return nil, err
	}
	if err := p.place(sc, info.Hosts); err != nil {
		return nil, err
	}
	u := &upper{e: e, o: o, p: p, pools: o.pools, ev: newEmitter(name, o.progress), info: info,
		netIDs: map[string]string{}, subnets: map[string][]netip.Prefix{}, images: map[string]backend.Image{}, readyIDs: map[string]string{}}
	if err := u.inspectImages(ctx); err != nil {
		return nil, err
	}
	p.resolveReadiness(u.images, u.probeImage())
	return u, nil
}

func newID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// upper is one run of Up.
type upper struct {
	e     *Engine
	o     options
	p     *plan
	pools pools
	ev    *emitter

	info backend.Info

	netIDs  map[string]string         // scenario network name -> runtime ID
	subnets map[string][]netip.Prefix // scenario network name -> its subnets
	images  map[string]backend.Image
	lockID  string // the lock container, while up holds it

	mu       sync.Mutex
	readyIDs map[string]string // node name -> container ID, of the nodes called ready
}

func (u *upper) run(ctx context.Context) (changed bool, err error) {
	if err := u.lock(ctx, u.p.nodes[0].image); err != nil {
		return false, err
	}
	if err := u.addFiles(ctx); err != nil {
		return false, err
	}
	ctrs, nets, err := u.e.resources(ctx, backend.Selector{LabelLab: u.p.name})
	if err != nil {
		return false, err
	}
	ctrs = slices.DeleteFunc(ctrs, func(c backend.Container) bool { return isHelper(c.Labels) })
	if err := u.checkExisting(ctx, ctrs, nets); err != nil {
		return false, err
	}
	existing := map[string]backend.Network{}
	for _, n := range nets {
		existing[n.Labels[LabelNetwork]] = n
	}
	for _, n := range u.p.nets {
		if ex, ok := existing[n.net.Name]; ok {
			u.netIDs[n.net.Name] = ex.ID
			u.subnets[n.net.Name] = ex.Subnets
			u.ev.emit(KindNetwork, n.net.Name, Unchanged, describe(ex.Subnets...), nil)
			continue
		}
		if err := u.createNetwork(ctx, n); err != nil {
			u.ev.emit(KindNetwork, n.net.Name, Failed, "", err)
			return false, err
		}
		changed = true
	}
	if err := u.e.guard(ctx, u.p.name, u.p.upID, u.o); err != nil {
		return false, err
	}
	if u.info.PinAddresses {
		if err := u.p.pin(u.subnets); err != nil {
			return false, err
		}
	}

	byNode := map[string]backend.Container{}
	for _, c := range ctrs {
		byNode[c.Labels[LabelNode]] = c
	}
	// The first node to fail stops the others: the lab will be rolled back.
	nctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	did := make([]bool, len(u.p.nodes))
	parallel(len(u.p.nodes), func(i int) error {
		n := u.p.nodes[i]
		var err error
		if c, ok := byNode[n.name]; ok {
			did[i], err = u.resume(nctx, n, c)
		} else {
			did[i], err = true, u.createNode(nctx, n)
		}
		if err != nil && nctx.Err() == nil {
			stop(err)
			u.ev.emit(KindNode, n.name, Failed, "", err)
		}
		return err
	})
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err := context.Cause(nctx); err != nil {
		return false, err
	}
	if err := u.stillUp(ctx); err != nil {
		return false, err
	}
	return changed || slices.Contains(did, true), nil
}

// readySettle is how long after its nodes were called ready Up looks again
// that they still run: a program that crashes once it listens (a typo after
// listen(), a server that serves one client) ends within it.
const readySettle = 300 * time.Millisecond

// stillUp fails when a node that was called ready (it passed a readiness
// check) has exited since, with its exit code and last log lines: such a lab
// is not up, whatever the check said a moment before.
func (u *upper) stillUp(ctx context.Context) error {
	u.mu.Lock()
	ready := maps.Clone(u.readyIDs)
	u.mu.Unlock()
	if len(ready) == 0 {
		return nil
	}
	if !sleep(ctx, readySettle) {
		return ctx.Err()
	}
	for _, n := range u.p.nodes {
		id, ok := ready[n.name]
		if !ok {
			continue
		}
		ins, err := u.e.b.Inspect(ctx, id)
		if err != nil {
			return fmt.Errorf("inspect %s: %w", n.name, err)
		}
		if !ins.Running {
			err := fmt.Errorf("%w: %s exited with code %d right after it was called ready%s", ErrUnhealthy, n.name, ins.ExitCode, logTail(ctx, u.e.b, id))
			u.ev.emit(KindNode, n.name, Failed, "", err)
			return err
		}
	}
	return nil
}

// readyEvent reports a node (container id) that passed r.
func (u *upper) readyEvent(n *nodePlan, id string, r Readiness) {
	if r.Check != nil {
		u.mu.Lock()
		u.readyIDs[n.name] = id
		u.mu.Unlock()
	}
	switch {
	case r.Check == nil:
		u.ev.emit(KindNode, n.name, Running, "no readiness check", nil)
	case r.What == "healthcheck":
		u.ev.emit(KindNode, n.name, Healthy, n.image, nil)
	default:
		u.ev.emit(KindNode, n.name, Ready, r.What, nil)
	}
}

// resume handles a node whose container exists with the scenario's
// definition: one that runs on every network as the scenario says is left
// alone, a stopped one is started, and one whose attachments differ (an up
// killed between create and connect, a network cut by a step) is recreated.
func (u *upper) resume(ctx context.Context, n *nodePlan, c backend.Container) (bool, error) {
	ins, err := u.e.b.Inspect(ctx, c.ID)
	if err != nil {
		return false, fmt.Errorf("inspect %s: %w", n.name, err)
	}
	if why := attachedAsPlanned(n.spec.Networks, ins.Endpoints); why != "" {
		u.ev.emit(KindNode, n.name, Removed, why, nil)
		if err := u.e.b.Remove(ctx, c.ID); err != nil {
			return true, fmt.Errorf("recreate %s: %w", n.name, err)
		}
		return true, u.createNode(ctx, n)
	}
	if c.Running {
		// An up killed between start and filter leaves a node unfiltered:
		// filter it again (it changes nothing when the filter is there).
		if err := u.e.isolate(ctx, u.p.name, c.ID, u.o); err != nil {
			return false, err
		}
		changed, err := u.impairNode(ctx, n)
		if err != nil {
			return changed, err
		}
		u.ev.emit(KindNode, n.name, Unchanged, n.image, nil)
		return changed, nil
	}
	if err := u.e.b.Start(ctx, c.ID); err != nil {
		return true, fmt.Errorf("start %s: %w", n.name, err)
	}
	u.ev.emit(KindNode, n.name, Started, n.image, nil)
	if err := u.e.isolate(ctx, u.p.name, c.ID, u.o); err != nil {
		return true, err
	}
	r, done := n.ready()
	defer done()
	if err := waitReady(ctx, u.e.b, c.ID, n.name, r, n.timeout); err != nil {
		return true, err
	}
	if err := (&Lab{name: u.p.name, e: u.e, o: u.o}).reimpair(ctx, n.name); err != nil {
		return true, err
	}
	if _, err := u.impairNode(ctx, n); err != nil {
		return true, err
	}
	u.readyEvent(n, c.ID, r)
	return true, nil
}

// attachedAsPlanned compares a container's endpoints with the planned ones:
// every network joined, with its fixed addresses and aliases, and no other.
// It returns what differs, or "" when nothing does.
func attachedAsPlanned(want []backend.Endpoint, have []backend.EndpointInfo) string {
	by := map[string]backend.EndpointInfo{}
	for _, ep := range have {
		by[ep.Network] = ep
	}
	for _, w := range want {
		h, ok := by[w.Network]
		switch {
		case !ok:
			return "not on network " + w.Network
		case w.IPv4.IsValid() && h.IPv4 != w.IPv4, w.IPv6.IsValid() && h.IPv6 != w.IPv6:
			return "wrong address on network " + w.Network
		}
		for _, a := range w.Aliases {
			if !slices.Contains(h.Aliases, a) {
				return "alias " + a + " missing on network " + w.Network
			}
		}
		delete(by, w.Network)
	}
	for name := range by {
		return "on network " + name + ", which the scenario does not give it"
	}
	return ""
}

// createNode creates a node's container on its networks, starts it and
// waits until it is ready.
func (u *upper) createNode(ctx context.Context, n *nodePlan) error {
	r, done := n.ready()
	defer done()
	spec := n.spec
	// Networks by ID: a name could be ambiguous for a moment (an engine
	// before API 1.44 may create two networks of one name when two creates
	// race, e.g. one from an up that was killed).
	spec.Networks = slices.Clone(spec.Networks)
	for i, net := range n.nets {
		if id := u.netIDs[net]; id != "" {
			spec.Networks[i].Network = id
		}
	}
	id, err := u.e.b.CreateNode(ctx, spec)
	if errors.Is(err, backend.ErrNotFound) && len(n.files) > 0 {
		// Another lab's down removes the files images no container runs:
		// it may have taken this one between addFiles and here. Make it
		// again, once.
		ref, aerr := u.e.b.AddFiles(ctx, n.image, n.files, map[string]string{LabelFiles: n.image})
		if aerr != nil {
			return fmt.Errorf("node %s: files: %w", n.name, aerr)
		}
		spec.Image = ref
		id, err = u.e.b.CreateNode(ctx, spec)
	}
	switch {
	case errors.Is(err, backend.ErrNameInUse):
		return fmt.Errorf("%w: container %s exists and is not part of lab %s", ErrNameTaken, spec.Name, u.p.name)
	case err != nil:
		return fmt.Errorf("create node %s: %w", n.name, err)
	}
	u.ev.emit(KindNode, n.name, Created, n.image, nil)
	if err := u.e.b.Start(ctx, id); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("start node %s: %w", n.name, err)
	}
	u.ev.emit(KindNode, n.name, Started, n.image, nil)
	if err := u.e.isolate(ctx, u.p.name, id, u.o); err != nil {
		return err
	}
	if err := waitReady(ctx, u.e.b, id, n.name, r, n.timeout); err != nil {
		return err
	}
	if _, err := u.impairNode(ctx, n); err != nil {
		return err
	}
	u.readyEvent(n, id, r)
	return nil
}

// rollback removes what this run of Up created, found by the run's label.
func (u *upper) rollback(ctx context.Context) error {
	ctx, cancel := quietly(ctx)
	defer cancel()
	return u.e.sweep(ctx, u.p.upID, u.ev, rollbackQuiet, u.o)
}

// sweep removes every resource the up upID created. A create that was in
// flight (a cancelled ctx, a killed process) may still complete in the
// daemon a while later, so it sweeps until nothing has been found for
// quiet.
func (e *Engine) sweep(ctx context.Context, upID string, ev *emitter, quiet time.Duration, o options) error {
	var errs []error
	calm := time.Now()
	for round := 0; time.Since(calm) < quiet && round < 200; round++ {
		ctrs, nets, err := e.resources(ctx, backend.Selector{LabelUp: upID})
		if err != nil {
			return err
		}
		if len(ctrs) == 0 && len(nets) == 0 {
			if !sleep(ctx, rollbackPause) {
				break
			}
			continue
		}
		errs = e.remove(ctx, ctrs, nets, ev, o)
		calm = time.Now()
	}
	return joinErrs(errs)
}
