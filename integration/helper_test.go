package integration

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"socketlab/internal/images"
	"socketlab/internal/labtest"
	"socketlab/labctl/backend"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// TestHelperContainers runs helper containers in a node's network namespace
// and checks that up, status, list and down never take them for nodes.
func TestHelperContainers(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome", scenario.ClientImage)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sc := pair("welcome")
	l := labtest.Up(t, sc)
	e := labtest.Engine()

	// A helper sees the node's loopback: welcome answers on its 127.0.0.1,
	// which exists only in the welcome node's network namespace.
	probe, err := l.RunHelper(ctx, "welcome", backend.HelperSpec{
		Purpose: "probe", Image: images.Ref(images.Client, ""), Cmd: []string{"welcome", "127.0.0.1"},
	})
	if err != nil {
		t.Fatalf("run helper: %v", err)
	}
	out, _ := io.ReadAll(probe.Stdout())
	if code, err := probe.Wait(ctx); err != nil || code != 0 {
		t.Errorf("helper exited %d, %v; wrote %q", code, err, out)
	}
	if !strings.Contains(string(out), "127.0.0.1") {
		t.Errorf("helper in welcome's namespace got %q, want a greeting naming 127.0.0.1", out)
	}
	if err := probe.Remove(ctx, 0); err != nil {
		t.Errorf("remove helper: %v", err)
	}

	idle, err := l.RunHelper(ctx, "welcome", backend.HelperSpec{
		Purpose: "idle", Image: images.Ref(images.Client, ""), Cmd: []string{"idle"}, Caps: []string{"NET_RAW"},
	})
	if err != nil {
		t.Fatalf("run helper: %v", err)
	}
	ins, err := e.Backend().Inspect(ctx, idle.ID())
	if err != nil {
		t.Fatal(err)
	}
	if s := ins.Security; !s.ReadOnlyRoot || !s.NoNewPrivileges || !slices.Equal(s.CapDrop, []string{"ALL"}) || !slices.Equal(capNames(s.CapAdd), []string{"NET_RAW"}) {
		t.Errorf("helper confinement = %+v, want read-only, no-new-privileges, only NET_RAW", s)
	}

	st := status(t, l)
	if len(st.Nodes) != 2 {
		t.Errorf("status lists %d nodes with a helper running, want 2: %+v", len(st.Nodes), st.Nodes)
	}
	labs, err := e.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range labs {
		if s.Name == l.Name() && s.Nodes != 2 {
			t.Errorf("list counts %d nodes, want 2", s.Nodes)
		}
	}
	again, err := e.Up(ctx, sc, lab.WithName(l.Name()))
	if err != nil {
		t.Fatalf("up again with a helper running: %v", err)
	}
	if again.Changed() {
		t.Error("up again with a helper running changed the lab")
	}

	if err := e.Down(ctx, l.Name()); err != nil {
		t.Fatalf("down: %v", err)
	}
	ctrs, _, err := e.Backend().List(ctx, backend.Selector{lab.LabelLab: l.Name()})
	if err != nil {
		t.Fatal(err)
	}
	if len(ctrs) != 0 {
		t.Errorf("down left %d containers (the helper?)", len(ctrs))
	}
}

// TestHelperNeedsARunningNode: a helper for a stopped node is refused, and
// nothing is left of it.
func TestHelperNeedsARunningNode(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome", scenario.ClientImage)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l := labtest.Up(t, pair("welcome"))
	if err := l.Stop(ctx, "welcome"); err != nil {
		t.Fatal(err)
	}
	_, err := l.RunHelper(ctx, "welcome", backend.HelperSpec{Purpose: "idle", Image: images.Ref(images.Client, ""), Cmd: []string{"idle"}})
	if !errors.Is(err, lab.ErrNotRunning) {
		t.Fatalf("helper for a stopped node: %v, want ErrNotRunning", err)
	}
	ctrs, _, err := labtest.Engine().Backend().List(ctx, backend.Selector{lab.LabelLab: l.Name(), lab.LabelRole: lab.RoleHelper})
	if err != nil || len(ctrs) != 0 {
		t.Errorf("a refused helper left %d containers (%v)", len(ctrs), err)
	}
}

// TestStatusInterfaces: status names the interface of every network, one
// per network, as the node's namespace has them.
func TestStatusInterfaces(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome", "echo", scenario.ClientImage)
	l := labtest.Up(t, twoNets())
	st := status(t, l)
	for _, n := range st.Nodes {
		seen := map[string]bool{}
		for _, a := range n.Addresses {
			if !strings.HasPrefix(a.Interface, "eth") || seen[a.Interface] {
				t.Errorf("node %s network %s: interface %q (want a distinct ethN)", n.Name, a.Network, a.Interface)
			}
			seen[a.Interface] = true
		}
	}
}

// capNames drops the CAP_ prefix the engine may add.
func capNames(caps []string) []string {
	out := make([]string, len(caps))
	for i, c := range caps {
		out[i] = strings.TrimPrefix(c, "CAP_")
	}
	return out
}
