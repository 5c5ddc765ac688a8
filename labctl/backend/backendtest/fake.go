// Package backendtest is an in-memory backend.Backend for the engine's
// tests: no Docker. A Fake holds state (networks, containers with their
// attachments and running state, images, helpers), records every call, and
// fails or pauses a call when told to, so that a test asserts outcomes
// (nothing left after a rollback) rather than the order of calls.
package backendtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"

	"socketlab/labctl/backend"
)

// Fake is an in-memory container engine. Its zero value is not usable:
// make one with New. It is safe for concurrent use.
type Fake struct {
	mu     sync.Mutex
	info   backend.Info
	seq    int
	images map[string]backend.Image
	nets   map[string]*network   // by ID
	ctrs   map[string]*container // by ID
	calls  []Call
	rules  []*rule

	// ExecFunc answers an exec in a running container (nil: exit 0, no
	// output). Set it before the fake is used.
	ExecFunc func(c backend.ContainerInfo, argv []string, s backend.Streams) (int, error)
	// HelperFunc says what a helper does (nil: exits 0 at once, says nothing).
	// Set it before the fake is used.
	HelperFunc func(spec backend.HelperSpec) HelperRun
}

// HelperRun is what a fake helper does: it writes Stdout, then exits with
// Exit, or with Stays runs until it is stopped or removed.
type HelperRun struct {
	Stdout string
	Exit   int
	Stays  bool
}

// Call is one call the fake received: the method, and the name of the
// network or container it acted on ("" when none), with its labels then.
type Call struct {
	Method string
	Name   string
	Labels map[string]string
}

type network struct {
	backend.Network
	spec backend.NetworkSpec
	next int // the last host number given on it
}

type container struct {
	info   backend.ContainerInfo
	image  string
	helper *helper // set for a helper
}

var _ backend.Backend = (*Fake)(nil)

// New returns an empty engine described by info, holding images.
func New(info backend.Info, images ...string) *Fake {
	f := &Fake{info: info, images: map[string]backend.Image{}, nets: map[string]*network{}, ctrs: map[string]*container{}}
	for _, ref := range images {
		f.AddImage(ref, backend.Image{})
	}
	return f
}

// AddImage puts an image in the engine (its ID is made from ref when empty).
func (f *Fake) AddImage(ref string, img backend.Image) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if img.ID == "" {
		img.ID = "sha256:" + ref
	}
	f.images[ref] = img
}

// Calls returns the calls received so far, in order.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Count tells how many calls of method the fake received.
func (f *Fake) Count(method string) int {
	n := 0
	for _, c := range f.Calls() {
		if c.Method == method {
			n++
		}
	}
	return n
}

// Empty tells whether the engine holds no container and no network, and
// if not, what it holds.
func (f *Fake) Empty() (bool, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var left []string
	for _, c := range f.ctrs {
		left = append(left, "container "+c.info.Name)
	}
	for _, n := range f.nets {
		left = append(left, "network "+n.Name)
	}
	slices.Sort(left)
	return len(left) == 0, strings.Join(left, ", ")
}

// newID makes a resource ID: kind and a sequence number.
func (f *Fake) newID(kind string) string {
	f.seq++
	return fmt.Sprintf("%s%04d", kind, f.seq)
}

// enter records a call of method on name and applies the rules: it
// returns the error to fail with, after any pause. f.mu must not be held.
func (f *Fake) enter(ctx context.Context, method, name string, labels map[string]string) error {
	f.mu.Lock()
	f.calls = append(f.calls, Call{Method: method, Name: name, Labels: maps.Clone(labels)})
	var hit []*rule
	for _, r := range f.rules {
		if r.method != method {
			continue
		}
		r.seen++
		if r.n == 0 || r.seen == r.n {
			hit = append(hit, r)
		}
	}
	f.mu.Unlock()
	for _, r := range hit {
		if r.pause != nil {
			r.reached.Do(func() { close(r.at) })
			select {
			case <-r.pause:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if r.err != nil {
			return fmt.Errorf("%s %s: %w", method, name, r.err)
		}
	}
	return nil
}

// Info describes the fake engine.
func (f *Fake) Info(ctx context.Context) (backend.Info, error) {
	if err := f.enter(ctx, "Info", "", nil); err != nil {
		return backend.Info{}, err
	}
	return f.info, nil
}

// List returns the containers and networks that carry every label of sel.
func (f *Fake) List(ctx context.Context, sel backend.Selector) ([]backend.Container, []backend.Network, error) {
	if err := f.enter(ctx, "List", "", sel); err != nil {
		return nil, nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var ctrs []backend.Container
	for _, c := range f.ctrs {
		if selects(sel, c.info.Labels) {
			ctrs = append(ctrs, backend.Container{ID: c.info.ID, Name: c.info.Name, Image: c.image, ImageID: c.info.ImageID,
				Running: c.info.Running, State: c.info.State, Labels: maps.Clone(c.info.Labels)})
		}
	}
	var nets []backend.Network
	for _, n := range f.nets {
		if selects(sel, n.Labels) {
			out := n.Network
			out.Subnets, out.Labels = slices.Clone(n.Subnets), maps.Clone(n.Labels)
			nets = append(nets, out)
		}
	}
	slices.SortFunc(ctrs, func(a, b backend.Container) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(nets, func(a, b backend.Network) int { return strings.Compare(a.ID, b.ID) })
	return ctrs, nets, nil
}

func selects(sel backend.Selector, labels map[string]string) bool {
	for k, v := range sel {
		have, ok := labels[k]
		if !ok || v != "" && have != v {
			return false
		}
	}
	return true
}

// Image describes a local image; ErrNotFound when it is not there.
func (f *Fake) Image(ctx context.Context, ref string) (backend.Image, error) {
	if err := f.enter(ctx, "Image", ref, nil); err != nil {
		return backend.Image{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if img, ok := f.images[ref]; ok {
		return img, nil
	}
	for _, img := range f.images {
		if img.ID == ref {
			return img, nil
		}
	}
	return backend.Image{}, fmt.Errorf("image %s: %w", ref, backend.ErrNotFound)
}

// Pull fails: the fake engine has no registry.
func (f *Fake) Pull(ctx context.Context, ref string) error {
	if err := f.enter(ctx, "Pull", ref, nil); err != nil {
		return err
	}
	return fmt.Errorf("pull %s: %w", ref, backend.ErrNotFound)
}

// AddFiles makes an image named after base and the files.
func (f *Fake) AddFiles(ctx context.Context, base string, files []backend.File, labels map[string]string) (string, error) {
	if err := f.enter(ctx, "AddFiles", base, labels); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	img, ok := f.images[base]
	if !ok {
		return "", fmt.Errorf("add files to %s: %w", base, backend.ErrNotFound)
	}
	// As the Docker backend: the image is named by the base's ID and the
	// files' contents, so an edited file or a rebuilt base makes another.
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", img.ID)
	for _, fl := range files {
		b, _ := os.ReadFile(fl.Source)
		fmt.Fprintf(h, "%s\x00%d\x00", fl.Target, len(b))
		h.Write(b)
	}
	ref := base + "-files-" + hex.EncodeToString(h.Sum(nil))[:12]
	img.ID = "sha256:" + ref
	f.images[ref] = img
	return ref, nil
}

// RemoveFilesImages removes the images AddFiles made (of refs; nil: all)
// that no container uses.
func (f *Fake) RemoveFilesImages(ctx context.Context, refs []string) ([]string, error) {
	if err := f.enter(ctx, "RemoveFilesImages", "", nil); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if refs == nil {
		for ref := range f.images {
			refs = append(refs, ref)
		}
		slices.Sort(refs)
	}
	var removed []string
	for _, ref := range refs {
		if _, ok := f.images[ref]; !ok || !strings.Contains(ref, "-files-") {
			continue
		}
		used := false
		for _, c := range f.ctrs {
			used = used || c.info.Image == ref
		}
		if !used {
			delete(f.images, ref)
			removed = append(removed, ref)
		}
	}
	return removed, nil
}

// CreateNetwork creates a network; its subnets must not overlap another's.
func (f *Fake) CreateNetwork(ctx context.Context, spec backend.NetworkSpec) (string, error) {
	if err := f.enter(ctx, "CreateNetwork", spec.Name, spec.Labels); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if spec.IPv4Off && !f.info.IPv6OnlyNetworks {
		return "", fmt.Errorf("network %s without IPv4: %w", spec.Name, backend.ErrUnsupported)
	}
	var subnets []netip.Prefix
	for _, p := range []netip.Prefix{spec.IPv4, spec.IPv6} {
		if p.IsValid() {
			subnets = append(subnets, p)
		}
	}
	for _, n := range f.nets {
		if n.Name == spec.Name {
			return "", fmt.Errorf("network %s: %w", spec.Name, backend.ErrNameInUse)
		}
		for _, s := range n.Subnets {
			for _, p := range subnets {
				if s.Overlaps(p) {
					return "", fmt.Errorf("network %s: %s: %w", spec.Name, p, backend.ErrOverlap)
				}
			}
		}
	}
	id := f.newID("net")
	f.nets[id] = &network{spec: spec, next: 1, Network: backend.Network{ID: id, Name: spec.Name, Subnets: subnets,
		Internal: spec.Internal, Labels: maps.Clone(spec.Labels)}}
	return id, nil
}

// RemoveNetwork removes a network no container is attached to.
func (f *Fake) RemoveNetwork(ctx context.Context, id string) error {
	f.mu.Lock()
	n := f.network(id)
	f.mu.Unlock()
	if n == nil {
		return fmt.Errorf("remove network %s: %w", id, backend.ErrNotFound)
	}
	if err := f.enter(ctx, "RemoveNetwork", n.Name, n.Labels); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.ctrs {
		for _, ep := range c.info.Endpoints {
			if ep.NetworkID == n.ID {
				return fmt.Errorf("remove network %s: container %s is attached to it", n.Name, c.info.Name)
			}
		}
	}
	delete(f.nets, n.ID)
	return nil
}

// network finds a network by ID or name; f.mu is held.
func (f *Fake) network(ref string) *network {
	if n, ok := f.nets[ref]; ok {
		return n
	}
	for _, n := range f.nets {
		if n.Name == ref {
			return n
		}
	}
	return nil
}

// container finds a container by ID or name; f.mu is held.
func (f *Fake) container(ref string) *container {
	if c, ok := f.ctrs[ref]; ok {
		return c
	}
	for _, c := range f.ctrs {
		if c.info.Name == ref {
			return c
		}
	}
	return nil
}

// labelsOf are the labels of the container ref, for the call record.
func (f *Fake) labelsOf(ref string) (string, map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.container(ref); c != nil {
		return c.info.Name, c.info.Labels
	}
	return ref, nil
}

// NetNS is not supported: the fake has no namespaces.
func (f *Fake) NetNS(ctx context.Context, id string) (*os.File, error) {
	name, labels := f.labelsOf(id)
	if err := f.enter(ctx, "NetNS", name, labels); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("netns of %s: %w", name, backend.ErrUnsupported)
}

// Close does nothing.
func (f *Fake) Close() error { return nil }

// Logs writes nothing: fake containers say nothing.
func (f *Fake) Logs(ctx context.Context, id string, _ bool, _ int, _, _ io.Writer) error {
	name, labels := f.labelsOf(id)
	return f.enter(ctx, "Logs", name, labels)
}
