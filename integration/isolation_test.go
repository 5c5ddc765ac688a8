package integration

import (
	"socketlab/internal/labtest/need"

	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"

	"socketlab/helpers/isolate"
	"socketlab/internal/images"
	"socketlab/internal/labtest"
	"socketlab/labctl/backend"
	"socketlab/labctl/backend/docker"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// isolated is a lab of two networks: a client and echo on front, echo on
// back; with egress, its networks let its nodes out (unsealed), so that
// what keeps it from another lab is the other lab's protection alone.
func isolated(egress bool) *scenario.Scenario {
	return &scenario.Scenario{
		Name:     "iso",
		Networks: []*scenario.Network{{Name: "front", Egress: egress}, {Name: "back", Egress: egress}},
		Nodes: []*scenario.Node{
			{Name: "near", Image: "echo", Networks: attach("front")},
			{Name: "far", Image: "echo", Networks: attach("back")},
			{Name: "client", Image: scenario.ClientImage, Networks: attach("front")},
		},
	}
}

// TestIsolation: a lab's networks are closed to each other, and labs to
// each other, over IPv6 as over IPv4, in both directions; within a network
// both families work. Lab b is not sealed (egress), so that what keeps it
// out of lab a is a's input filter and the engine's isolation, not b's
// seal.
func TestIsolation(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "echo", scenario.ClientImage)
	a := labtest.Up(t, isolated(false))
	b := labtest.Up(t, isolated(true), lab.WithHelpersOnly()) // the helper path, as against a remote engine
	sa, sb := status(t, a), status(t, b)

	// echo runs a client in lab l's client node against addr over fam and
	// tells whether the bytes came back.
	echo := func(l *lab.Lab, fam, addr string) (bool, string) {
		p, _ := run(t, l, "client", "sock", "echo", fam, "--timeout", "2s", "--json", addr, "isolated?")
		return p.OK, p.Error
	}
	for _, fam := range []struct{ flag, name string }{{"-4", "IPv4"}, {"-6", "IPv6"}} {
		if ok, why := echo(a, fam.flag, "near"); !ok {
			t.Errorf("%s within a network: failed (%s), want it to work", fam.name, why)
		}
		cases := []struct {
			what string
			from *lab.Lab
			to   string
		}{
			{"to another network of the lab", a, address(t, node(t, sa, "far"), "back", fam.name)},
			{"to another lab", a, address(t, node(t, sb, "near"), "front", fam.name)},
			{"from another lab", b, address(t, node(t, sa, "near"), "front", fam.name)},
		}
		for _, c := range cases {
			target := c.to
			if strings.Contains(target, ":") {
				target = "[" + target + "]"
			}
			if ok, _ := echo(c.from, fam.flag, target); ok {
				t.Errorf("%s %s (%s) answered: the lab is open", fam.name, c.what, c.to)
			}
		}
	}
}

// flood is a python3 program for the toolbox: it sends a UDP datagram to
// argv[1]:7 every millisecond for argv[2] seconds and prints how many it
// sent and how many came back.
const flood = `import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
end, sent, got = time.time() + float(sys.argv[2]), 0, 0
while time.time() < end:
    s.sendto(b"x", (sys.argv[1], 7))
    sent += 1
    time.sleep(0.001)
    try:
        while True:
            s.recv(64)
            got += 1
    except BlockingIOError:
        pass
print(sent, got)
`

// TestIsolationWhileNetworksChange: while the engine creates and removes
// networks, as other labs on a shared engine do all the time, not one IPv4
// datagram from another lab reaches a node. The flooding lab has egress
// (no seal), so that its datagrams leave it: what keeps them out is the
// receiving lab's protection. Docker 20.10 rewrites the host's
// FORWARD chain on every network it creates and, for some milliseconds, has
// no jump to its isolation rules: every bridge may then reach every other.
// The node's own input filter must hold through that.
func TestIsolationWhileNetworksChange(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "echo", images.Toolbox)
	one := func(egress bool, nodes ...*scenario.Node) *scenario.Scenario {
		return &scenario.Scenario{Name: "churn", Networks: []*scenario.Network{{Name: "net", Egress: egress}}, Nodes: nodes}
	}
	a := labtest.Up(t, one(false, &scenario.Node{Name: "echo", Image: "echo", Networks: attach("net")}))
	b := labtest.Up(t, one(true,
		&scenario.Node{Name: "echo", Image: "echo", Networks: attach("net")},
		&scenario.Node{Name: "prober", Image: images.Toolbox, Networks: attach("net")},
	))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// send floods target from b's prober and returns what it counted.
	send := func(target, seconds string) (sent, got int) {
		t.Helper()
		out, errb, code, err := b.Exec(ctx, "prober", []string{"python3", "-c", flood, target, seconds})
		if err != nil || code != 0 {
			t.Fatalf("flood %s: exit %d, %v: %s", target, code, err, errb)
		}
		if _, err := fmt.Sscan(string(out), &sent, &got); err != nil {
			t.Fatalf("flood %s printed %q: %v", target, out, err)
		}
		return sent, got
	}
	// The flood itself works: within the lab, datagrams come back.
	if sent, got := send(address(t, node(t, status(t, b), "echo"), "net", "IPv4"), "0.5"); got < sent/2 {
		t.Fatalf("within a network %d of %d datagrams came back: the flood does not work", got, sent)
	}

	be, err := docker.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stop, churned := make(chan struct{}), make(chan int)
	go func() {
		n := 0
		defer func() { churned <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			id, err := be.CreateNetwork(ctx, backend.NetworkSpec{
				Name: fmt.Sprintf("%s-churn-%d", a.Name(), n), Labels: map[string]string{lab.LabelLab: a.Name()},
			})
			if err != nil {
				t.Errorf("create a network: %v", err)
				return
			}
			n++
			if err := be.RemoveNetwork(ctx, id); err != nil {
				t.Errorf("remove network %s: %v", id, err)
				return
			}
		}
	}()
	sent, got := send(address(t, node(t, status(t, a), "echo"), "net", "IPv4"), "4")
	close(stop)
	n := <-churned
	t.Logf("%d datagrams to another lab while the engine created %d networks: %d came back", sent, n, got)
	if n == 0 {
		t.Fatal("no network was created meanwhile: the test proved nothing")
	}
	if got > 0 {
		t.Errorf("%d of %d IPv4 datagrams to another lab came back while networks were being created: the lab is open", got, sent)
	}
}

// TestForwardGuardFollowsNetworks: each lab bridge has its forward guard
// table in the host's nftables while the lab is up, and none is left once
// it is down; installed by labctl itself (as root beside the engine) and by
// the isolation helper in the host's namespace (as against a remote engine,
// or labctl not run as root).
func TestForwardGuardFollowsNetworks(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "echo", images.Isolate)
	need.Root(t, "read the host's nftables")
	be, err := docker.New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		up   []lab.UpOption
		down []lab.DownOption
	}{{"by labctl", nil, nil}, {"by the helper", []lab.UpOption{lab.WithHelpersOnly()}, []lab.DownOption{lab.WithHelpersOnly()}}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			l := labtest.Up(t, isolated(false), c.up...)
			_, nets, err := be.List(ctx, backend.Selector{lab.LabelLab: l.Name()})
			if err != nil || len(nets) != 2 {
				t.Fatalf("the lab's networks: %v, %v", nets, err)
			}
			// guarded tells which of the lab's bridges have a guard table.
			guarded := func() map[string]bool {
				have, err := isolate.Guarded()
				if err != nil {
					t.Fatal(err)
				}
				g := map[string]bool{}
				for _, n := range nets {
					if n.Bridge == "" {
						t.Fatalf("network %s has no bridge", n.Name)
					}
					g[n.Bridge] = slices.Contains(have, n.Bridge)
				}
				return g
			}
			for br, ok := range guarded() {
				if !ok {
					t.Errorf("bridge %s has no guard table while the lab is up", br)
				}
			}
			if err := labtest.Engine().Down(ctx, l.Name(), c.down...); err != nil {
				t.Fatal(err)
			}
			for br, ok := range guarded() {
				if ok {
					t.Errorf("bridge %s still has its guard table after down", br)
				}
			}
		})
	}
}

// TestGuardAloneKeepsLabsApart: with the nodes' own IPv6 filters gone (as
// after a restart gives a node a new namespace), the forward guard alone
// keeps another lab out, over IPv6 as over IPv4.
func TestGuardAloneKeepsLabsApart(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "echo", scenario.ClientImage)
	need.Root(t, "remove a node's filter from its namespace")
	ctx := context.Background()
	a, b := labtest.Up(t, pair("echo")), labtest.Up(t, pair("echo"))
	be := labtest.Engine().Backend()
	for _, l := range []*lab.Lab{a, b} {
		ctrs, _, err := be.List(ctx, backend.Selector{lab.LabelLab: l.Name(), lab.LabelRole: lab.RoleNode})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range ctrs {
			ns, err := be.NetNS(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			err = isolate.Clear(nftables.WithNetNSFd(int(ns.Fd())))
			ns.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	sa, sb := status(t, a), status(t, b)
	for _, fam := range []struct{ flag, name string }{{"-4", "IPv4"}, {"-6", "IPv6"}} {
		own := address(t, node(t, sb, "echo"), "net", fam.name)
		other := address(t, node(t, sa, "echo"), "net", fam.name)
		if fam.name == "IPv6" {
			own, other = "["+own+"]", "["+other+"]"
		}
		if p, _ := run(t, b, "client", "sock", "echo", fam.flag, "--timeout", "2s", "--json", own, "x"); !p.OK {
			t.Errorf("%s within the lab: %s, want an echo", fam.name, p.Error)
		}
		if p, _ := run(t, b, "client", "sock", "echo", fam.flag, "--timeout", "2s", "--json", other, "x"); p.OK {
			t.Errorf("%s to another lab %s answered with the nodes' filters gone: the guard does not hold", fam.name, other)
		}
	}
}
