package integration

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"socketlab/internal/labtest"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// twoNets is a welcome server on front, an echo server on front and back,
// and a client on both.
func twoNets() *scenario.Scenario {
	return &scenario.Scenario{
		Name:     "two",
		Networks: []*scenario.Network{{Name: "front"}, {Name: "back"}},
		Nodes: []*scenario.Node{
			{Name: "welcome", Image: "welcome", Networks: attach("front")},
			{Name: "echo", Image: "echo", Networks: attach("back", "front")},
			{Name: "client", Image: scenario.ClientImage, Networks: attach("front", "back")},
		},
	}
}

func TestUpThenDownLeavesNothing(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome", "echo", scenario.ClientImage)
	ctx := context.Background()
	name := labtest.Name(t)
	var mu sync.Mutex
	phases := map[string][]lab.Phase{}
	l, err := labtest.Engine().Up(ctx, twoNets(), lab.WithName(name), lab.WithProgress(func(ev lab.Event) {
		mu.Lock()
		defer mu.Unlock()
		phases[string(ev.Kind)+" "+ev.Name] = append(phases[string(ev.Kind)+" "+ev.Name], ev.Phase)
	}))
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	if !l.Changed() {
		t.Error("a new lab reports nothing changed")
	}
	// The client image has no healthcheck: nothing is checked, and up says so.
	for n, ready := range map[string]lab.Phase{"welcome": lab.Healthy, "echo": lab.Healthy, "client": lab.Running} {
		if got := phases["node "+n]; len(got) != 3 || got[0] != lab.Created || got[1] != lab.Started || got[2] != ready {
			t.Errorf("progress of node %s: %v, want created started %s", n, got, ready)
		}
	}

	st := status(t, l)
	if len(st.Networks) != 2 || st.Networks[0].Name != "front" || st.Networks[1].Name != "back" {
		t.Fatalf("networks %+v, want front and back in scenario order", st.Networks)
	}
	for _, n := range st.Networks {
		v4, err4 := netip.ParsePrefix(n.IPv4)
		v6, err6 := netip.ParsePrefix(n.IPv6)
		if err4 != nil || err6 != nil || !v4.Addr().IsPrivate() || !v6.Addr().IsPrivate() || n.Stack != "dual" {
			t.Errorf("network %s: %s %s %s, want dual stack with a private IPv4 and a ULA IPv6 subnet", n.Name, n.Stack, n.IPv4, n.IPv6)
		}
	}
	client := node(t, st, "client")
	if client.State != "running" || len(client.Addresses) != 2 {
		t.Fatalf("client: %+v, want running on two networks", client)
	}
	for _, a := range client.Addresses {
		if a.IPv4 == "" || a.IPv6 == "" {
			t.Errorf("client on %s has %q and %q, want an IPv4 and an IPv6 address", a.Network, a.IPv4, a.IPv6)
		}
	}

	if err := labtest.Engine().Down(ctx, name); err != nil {
		t.Fatalf("down: %v", err)
	}
	if labtest.Exists(t, name) {
		t.Fatal("containers or networks labelled with the lab remain after down")
	}
	if err := labtest.Engine().Down(ctx, name); !errors.Is(err, lab.ErrNoLab) {
		t.Errorf("second down: %v, want ErrNoLab", err)
	}
}

func TestInterruptedUpLeavesNothing(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome", "echo", scenario.ClientImage)
	tests := []struct {
		name string
		at   func(lab.Event) bool // cancel when this event comes
	}{
		{"after the first network", func(ev lab.Event) bool { return ev.Kind == lab.KindNetwork && ev.Phase == lab.Created }},
		{"after the first container", func(ev lab.Event) bool { return ev.Kind == lab.KindNode && ev.Phase == lab.Created }},
		{"after the first start", func(ev lab.Event) bool { return ev.Kind == lab.KindNode && ev.Phase == lab.Started }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := labtest.Name(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cancelled := false
			_, err := labtest.Engine().Up(ctx, twoNets(), lab.WithName(name), lab.WithProgress(func(ev lab.Event) {
				if !cancelled && tt.at(ev) {
					cancelled = true
					cancel() // as Ctrl-C does
				}
			}))
			if err == nil {
				t.Fatal("up succeeded although cancelled")
			}
			if !cancelled {
				t.Fatalf("up failed before the point of cancelling: %v", err)
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("up: %v, want context.Canceled", err)
			}
			if labtest.Exists(t, name) {
				t.Fatal("an interrupted up left containers or networks behind")
			}
		})
	}
}

func TestLabsSideBySide(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome", scenario.ClientImage)
	sc := func() *scenario.Scenario {
		return &scenario.Scenario{
			Name:     "side",
			Networks: []*scenario.Network{{Name: "net"}},
			Nodes: []*scenario.Node{
				{Name: "welcome", Image: "welcome", Networks: attach("net")},
				{Name: "client", Image: scenario.ClientImage, Networks: attach("net")},
			},
		}
	}
	// Both come up at the same moment: subnet allocation must not collide.
	labs := make([]*lab.Lab, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range labs {
		wg.Go(func() { labs[i], errs[i] = labtest.Start(t, sc()) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("up: %v", err)
	}
	a, b := status(t, labs[0]), status(t, labs[1])
	if a.Networks[0].IPv4 == b.Networks[0].IPv4 || a.Networks[0].IPv6 == b.Networks[0].IPv6 {
		t.Errorf("two labs share subnets: %+v and %+v", a.Networks[0], b.Networks[0])
	}
	// The same node names in each lab reach their own lab's server only.
	for i, l := range labs {
		st := []*lab.Status{a, b}[i]
		want := address(t, node(t, st, "welcome"), "net", "IPv6")
		p, code := run(t, l, "client", "sock", "welcome", "-6", "--json", "welcome")
		if code != 0 || !p.OK || host(p.Remote) != want {
			t.Errorf("lab %s: welcome over IPv6 reached %q (exit %d, %s), want its own welcome at %s", l.Name(), p.Remote, code, p.Error, want)
		}
	}
}

func TestUpIsIdempotent(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome", "echo", scenario.ClientImage)
	l := labtest.Up(t, twoNets())
	ctx := context.Background()

	var mu sync.Mutex
	var phases []lab.Phase
	record := lab.WithProgress(func(ev lab.Event) {
		mu.Lock()
		defer mu.Unlock()
		phases = append(phases, ev.Phase)
	})
	again, err := labtest.Engine().Up(ctx, twoNets(), lab.WithName(l.Name()), record)
	if err != nil {
		t.Fatalf("second up: %v", err)
	}
	if again.Changed() {
		t.Error("second up of a running lab reports a change")
	}
	if len(phases) != 5 {
		t.Errorf("second up reported %v, want 5 events (2 networks, 3 nodes)", phases)
	}
	for _, p := range phases {
		if p != lab.Unchanged {
			t.Errorf("second up reported %q, want only %q", p, lab.Unchanged)
		}
	}

	// A stopped node is started again by up, the rest left alone.
	if err := l.Stop(ctx, "welcome"); err != nil {
		t.Fatalf("stop welcome: %v", err)
	}
	phases = nil
	again, err = labtest.Engine().Up(ctx, twoNets(), lab.WithName(l.Name()), record)
	if err != nil {
		t.Fatalf("up after a stop: %v", err)
	}
	if !again.Changed() || node(t, status(t, l), "welcome").State != "running" {
		t.Error("up did not start the stopped node")
	}

	// Another definition under the same name is a conflict, and changes nothing.
	changed := twoNets()
	changed.Nodes[0].Args = []string{"--port", "8000"}
	if _, err := labtest.Engine().Up(ctx, changed, lab.WithName(l.Name())); !errors.Is(err, lab.ErrConflict) ||
		!strings.Contains(err.Error(), "node welcome is defined differently") || !strings.Contains(err.Error(), "labctl down "+l.Name()) {
		t.Errorf("up of a changed scenario: %v, want ErrConflict naming welcome and saying what to do", err)
	}
	if len(status(t, l).Nodes) != 3 {
		t.Error("a refused up changed the lab")
	}
}

func TestNameTaken(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome")
	first := &scenario.Scenario{
		Name:     "first",
		Networks: []*scenario.Network{{Name: "x-net"}},
		Nodes:    []*scenario.Node{{Name: "welcome", Image: "welcome", Networks: attach("x-net")}},
	}
	l := labtest.Up(t, first)
	// Lab L-x has network "net", whose Docker name L-x-net is lab L's.
	second := &scenario.Scenario{
		Name:     "second",
		Networks: []*scenario.Network{{Name: "net"}},
		Nodes:    []*scenario.Node{{Name: "welcome", Image: "welcome", Networks: attach("net")}},
	}
	name := l.Name() + "-x"
	_, err := labtest.Engine().Up(context.Background(), second, lab.WithName(name))
	if !errors.Is(err, lab.ErrNameTaken) || !strings.Contains(err.Error(), "network "+l.Name()+"-x-net") {
		t.Fatalf("up over a taken name: %v, want ErrNameTaken naming the network", err)
	}
	if labtest.Exists(t, name) {
		t.Error("a refused up left resources")
	}
}

func TestNodeOperations(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome", "echo", scenario.ClientImage)
	// Fixed addresses need a fixed subnet: a random one, so that runs in
	// other processes rarely collide.
	x := rand.IntN(256)
	// v6 written as the engine and sock write it (x = 0 gives fd5c:1ab:ffff::10).
	v4, v6 := fmt.Sprintf("10.251.%d.10", x), netip.MustParseAddr(fmt.Sprintf("fd5c:1ab:ffff:%x::10", x)).String()
	sc := &scenario.Scenario{
		Name: "ops",
		Networks: []*scenario.Network{
			{Name: "net", IPv4: netip.MustParsePrefix(fmt.Sprintf("10.251.%d.0/24", x)), IPv6: netip.MustParsePrefix(fmt.Sprintf("fd5c:1ab:ffff:%x::/64", x))},
		},
		Nodes: []*scenario.Node{
			{Name: "welcome", Image: "welcome", Networks: []*scenario.Attachment{
				{Network: "net", IPv4: netip.MustParseAddr(v4), IPv6: netip.MustParseAddr(v6), Aliases: []string{"greeter"}},
			}},
			{Name: "echo", Image: "echo", Networks: attach("net")},
			{Name: "client", Image: scenario.ClientImage, Networks: attach("net")},
		},
	}
	l := labtest.Up(t, sc)
	ctx := context.Background()

	t.Run("fixed addresses and aliases", func(t *testing.T) {
		w := node(t, status(t, l), "welcome")
		if a := w.Addresses[0]; a.IPv4 != v4 || a.IPv6 != v6 || len(a.Aliases) != 1 || a.Aliases[0] != "greeter" {
			t.Errorf("welcome on net: %+v, want %s, %s, alias greeter", a, v4, v6)
		}
		for _, fam := range []string{"-4", "-6"} {
			p, code := run(t, l, "client", "sock", "welcome", fam, "--json", "greeter")
			if code != 0 || host(p.Remote) != map[string]string{"-4": v4, "-6": v6}[fam] {
				t.Errorf("welcome %s by alias: exit %d, remote %q (%s)", fam, code, p.Remote, p.Error)
			}
		}
	})

	t.Run("exec streams and exit status", func(t *testing.T) {
		stdout, stderr, code, err := l.Exec(ctx, "client", []string{"sock", "welcome", "--timeout", "2s", "nosuch"})
		if err != nil || code != 1 || len(stdout) != 0 || !strings.Contains(string(stderr), "nosuch") {
			t.Errorf("failing client: err %v, exit %d, stdout %q, stderr %q; want exit 1 and the reason on stderr", err, code, stdout, stderr)
		}
		var out strings.Builder
		code, err = l.ExecStream(ctx, "client", []string{"sock", "echo", "echo"}, lab.Streams{Stdin: strings.NewReader("typed by a person\n"), Stdout: &out})
		if err != nil || code != 0 || !strings.Contains(out.String(), "typed by a person") {
			t.Errorf("echo of stdin: err %v, exit %d, output %q", err, code, out.String())
		}
		if _, _, _, err := l.Exec(ctx, "nosuch", []string{"sock"}); !errors.Is(err, lab.ErrNoNode) {
			t.Errorf("exec in a missing node: %v, want ErrNoNode", err)
		}
	})

	t.Run("disconnect and connect", func(t *testing.T) {
		if err := l.Disconnect(ctx, "welcome", "net"); err != nil {
			t.Fatalf("disconnect: %v", err)
		}
		p, code := run(t, l, "client", "sock", "welcome", "-4", "--timeout", "2s", "--json", v4)
		if code == 0 || p.OK {
			t.Errorf("welcome reached while disconnected: %+v", p)
		}
		if err := l.Connect(ctx, "welcome", "net"); err != nil {
			t.Fatalf("connect: %v", err)
		}
		// Back with the scenario's fixed addresses and alias.
		p, code = run(t, l, "client", "sock", "welcome", "-6", "--json", "greeter")
		if code != 0 || host(p.Remote) != v6 {
			t.Errorf("after connect: exit %d, remote %q (%s), want %s", code, p.Remote, p.Error, v6)
		}
		if err := l.Disconnect(ctx, "welcome", "nosuch"); !errors.Is(err, lab.ErrNoNetwork) {
			t.Errorf("disconnect from a missing network: %v, want ErrNoNetwork", err)
		}
	})

	t.Run("kill, then start", func(t *testing.T) {
		if err := l.Kill(ctx, "echo"); err != nil {
			t.Fatalf("kill: %v", err)
		}
		e := node(t, status(t, l), "echo")
		if e.State != "exited" || e.ExitCode != 137 {
			t.Errorf("killed echo: %s, exit %d; want exited, 137", e.State, e.ExitCode)
		}
		p, code := run(t, l, "client", "sock", "echo", "-4", "--timeout", "2s", "--json", "echo", "x")
		if code == 0 || p.ErrorKind == "" {
			t.Errorf("echo reached while killed: %+v", p)
		}
		if _, _, _, err := l.Exec(ctx, "echo", []string{"/bin/echo", "healthcheck"}); !errors.Is(err, lab.ErrNotRunning) {
			t.Errorf("exec in a killed node: %v, want ErrNotRunning", err)
		}
		if err := l.Start(ctx, "echo"); err != nil {
			t.Fatalf("start: %v", err)
		}
		p, code = run(t, l, "client", "sock", "echo", "-6", "--json", "echo", "back again")
		if code != 0 || p.Received != "back again" {
			t.Errorf("echo after start: exit %d, %+v", code, p)
		}
	})
}

func TestStacks(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome", scenario.ClientImage)
	sc := &scenario.Scenario{
		Name: "stacks",
		Networks: []*scenario.Network{
			{Name: "v4", Stack: scenario.IPv4Only},
			{Name: "v6", Stack: scenario.IPv6Only},
		},
		Nodes: []*scenario.Node{
			{Name: "old", Image: "welcome", Networks: attach("v4")},
			{Name: "new", Image: "welcome", Networks: attach("v6")},
			{Name: "client", Image: scenario.ClientImage, Networks: attach("v4", "v6")},
		},
	}
	l := labtest.Up(t, sc)
	st := status(t, l)
	if v4 := st.Networks[0]; v4.Stack != "ipv4" || v4.IPv4 == "" || v4.IPv6 != "" {
		t.Errorf("ipv4 network: %+v", v4)
	}
	if a := node(t, st, "old").Addresses[0]; a.IPv4 == "" || a.IPv6 != "" {
		t.Errorf("node on the IPv4-only network has %+v, want IPv4 only", a)
	}
	if v6 := st.Networks[1]; v6.Stack != "ipv6" || v6.IPv6 == "" {
		t.Errorf("ipv6 network: %+v", v6)
	}
	tests := []struct {
		name, family, target string
		ok                   bool
	}{
		{"IPv4 on the IPv4-only network", "-4", "old", true},
		{"IPv6 on the IPv4-only network", "-6", "old", false},
		{"IPv6 on the IPv6-only network", "-6", "new", true},
		{"IPv4 on the IPv6-only network", "-4", "new", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, code := run(t, l, "client", "sock", "welcome", tt.family, "--timeout", "1s", "--json", tt.target)
			if p.OK != tt.ok || (code == 0) != tt.ok {
				t.Errorf("welcome %s %s: ok %v (exit %d, %s), want ok %v", tt.family, tt.target, p.OK, code, p.Error, tt.ok)
			}
		})
	}
}

func TestImageMissing(t *testing.T) {
	t.Parallel()
	labtest.Need(t)
	name := labtest.Name(t)
	_, err := labtest.Engine().Up(context.Background(), pair("welcome"), lab.WithName(name), lab.WithImageTag("not-built"))
	want := "socketlab/welcome:not-built: not built: make images\n  socketlab/client:not-built: not built: make images"
	if !errors.Is(err, lab.ErrImageMissing) || !strings.Contains(err.Error(), want) {
		t.Fatalf("up with unbuilt images: %v, want ErrImageMissing ending %q", err, want)
	}
	if labtest.Exists(t, name) {
		t.Error("an up without images left resources")
	}
}

func TestFailedUpRollsBack(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome", scenario.ClientImage)
	sc := twoNets()
	sc.Nodes[0].Args = []string{"--no-such-flag"} // welcome exits at once
	name := labtest.Name(t)
	_, err := labtest.Engine().Up(context.Background(), sc, lab.WithName(name))
	if !errors.Is(err, lab.ErrUnhealthy) || !strings.Contains(err.Error(), "welcome exited with code") ||
		!strings.Contains(err.Error(), "no-such-flag") {
		t.Fatalf("up with a node that exits: %v, want ErrUnhealthy with its exit code and log", err)
	}
	if labtest.Exists(t, name) {
		t.Fatal("a failed up left containers or networks behind")
	}
}
