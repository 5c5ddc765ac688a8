package lab_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"socketlab/internal/images"
	"socketlab/labctl/backend"
	"socketlab/labctl/backend/backendtest"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// These tests run the engine against the in-memory backend: no Docker.

const fakeScenario = `name: fk
networks:
  front: {}
  back: {ipv4: 10.99.1.0/24, ipv6: "fd99:0:0:1::/64"}
nodes:
  echo:
    image: echo
    networks: [front, {name: back, impair: {delay: 10ms}}]
  welcome:
    image: welcome
    networks: [back]
  client:
    image: client
    networks: [front, back]
`

// fakeEngine is an engine with the images the scenario needs, on an
// engine that does not isolate IPv6 itself (so up runs the isolation
// helper in every node), and impairment helpers that say "applied".
func fakeEngine(t *testing.T) (*lab.Engine, *backendtest.Fake) {
	t.Helper()
	f := backendtest.New(backend.Info{Name: "fake", Version: "1"})
	for _, name := range []string{"echo", "welcome", "client", images.Isolate, images.Impair} {
		f.AddImage(images.Ref(name, ""), backend.Image{Healthcheck: []string{"/" + name, "healthcheck"}})
	}
	f.HelperFunc = func(spec backend.HelperSpec) backendtest.HelperRun {
		if spec.Purpose == lab.PurposeImpair && len(spec.Cmd) > 0 && spec.Cmd[0] == "apply" {
			return backendtest.HelperRun{Stdout: `{"event":"applied","interface":"eth1"}` + "\n", Stays: true}
		}
		return backendtest.HelperRun{}
	}
	return newEngine(t, f), f
}

func fakeLab(t *testing.T) *scenario.Scenario {
	t.Helper()
	sc, err := scenario.Parse("fk.yaml", []byte(fakeScenario))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func newEngine(t *testing.T, b backend.Backend) *lab.Engine {
	t.Helper()
	e, err := lab.New(b)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// up brings the scenario up as lab fk.
func up(t *testing.T, e *lab.Engine) *lab.Lab {
	t.Helper()
	l, err := e.Up(ctx(t), fakeLab(t), lab.WithName("fk"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// held lists what the fake holds of the lab: "network NAME", "node NAME
// running|exited|created", "helper PURPOSE NODE".
func held(t *testing.T, f *backendtest.Fake) []string {
	t.Helper()
	ctrs, nets, err := f.List(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range nets {
		out = append(out, "network "+n.Labels[lab.LabelNetwork])
	}
	for _, c := range ctrs {
		switch c.Labels[lab.LabelRole] {
		case lab.RoleHelper:
			if c.Running {
				out = append(out, "helper "+c.Labels[lab.LabelHelper]+" "+c.Labels[lab.LabelNode])
			}
		default:
			out = append(out, "node "+c.Labels[lab.LabelNode]+" "+c.State)
		}
	}
	slices.Sort(out)
	return out
}

var complete = []string{
	"helper impair echo",
	"network back", "network front",
	"node client running", "node echo running", "node welcome running",
}

func TestUpCreatesThePlan(t *testing.T) {
	t.Parallel()
	e, f := fakeEngine(t)
	l := up(t, e)
	if !l.Changed() {
		t.Error("first up: Changed() = false")
	}
	if got := held(t, f); !slices.Equal(got, complete) {
		t.Errorf("after up the engine holds\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(complete, "\n  "))
	}
	st, err := l.Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		var on []string
		for _, a := range n.Addresses {
			on = append(on, a.Network)
		}
		want := map[string][]string{"echo": {"front", "back"}, "welcome": {"back"}, "client": {"front", "back"}}[n.Name]
		if !slices.Equal(on, want) {
			t.Errorf("node %s is on %v, want %v", n.Name, on, want)
		}
	}
	if st.Networks[1].IPv4 != "10.99.1.0/24" || st.Networks[1].IPv6 != "fd99:0:0:1::/64" {
		t.Errorf("network back has %s %s, want the scenario's subnets", st.Networks[1].IPv4, st.Networks[1].IPv6)
	}
	// Every node was filtered (the isolation helper ran in its namespace).
	for _, node := range []string{"echo", "welcome", "client"} {
		if n := helperRuns(f, "isolate", node); n != 1 {
			t.Errorf("isolation helper ran %d times for %s, want 1", n, node)
		}
	}
}

// helperRuns counts the helpers of purpose run for node.
func helperRuns(f *backendtest.Fake, purpose, node string) int {
	n := 0
	for _, c := range f.Calls() {
		if c.Method == "RunHelper" && c.Labels[lab.LabelHelper] == purpose && c.Labels[lab.LabelNode] == node {
			n++
		}
	}
	return n
}

// creates are the calls that make something, each an injection point.
var creates = []string{"CreateNetwork", "CreateNode", "Start", "RunHelper"}

func TestFailedUpRollsBackEverything(t *testing.T) {
	t.Parallel()
	_, clean := fakeEngine(t)
	up(t, newEngine(t, clean))
	injected := errors.New("injected")
	for _, method := range creates {
		for n := 1; n <= clean.Count(method); n++ {
			t.Run(fmt.Sprintf("%s#%d", method, n), func(t *testing.T) {
				t.Parallel()
				e, f := fakeEngine(t)
				f.FailAt(method, n, injected)
				_, err := e.Up(ctx(t), fakeLab(t), lab.WithName("fk"))
				if !errors.Is(err, injected) {
					t.Fatalf("up with %s #%d failing: %v, want the injected error", method, n, err)
				}
				if empty, left := f.Empty(); !empty {
					t.Errorf("after the failed up the engine still holds: %s", left)
				}
			})
		}
	}
}

func TestSecondUpChangesNothing(t *testing.T) {
	t.Parallel()
	e, f := fakeEngine(t)
	up(t, e)
	before := len(f.Calls())
	l := up(t, e)
	if l.Changed() {
		t.Error("second up: Changed() = true")
	}
	for _, c := range f.Calls()[before:] {
		switch c.Method {
		case "CreateNetwork", "Start", "Stop", "Kill", "RemoveNetwork", "Connect", "Disconnect":
			t.Errorf("second up called %s %s", c.Method, c.Name)
		case "CreateNode", "Remove":
			if c.Labels[lab.LabelRole] == lab.RoleNode {
				t.Errorf("second up called %s %s", c.Method, c.Name)
			}
		case "RunHelper":
			if p := c.Labels[lab.LabelHelper]; p != "isolate" {
				t.Errorf("second up ran a %s helper", p)
			}
		}
	}
	if got := held(t, f); !slices.Equal(got, complete) {
		t.Errorf("after the second up the engine holds %v, want %v", got, complete)
	}
}

func TestUpRepairsAHalfMadeLab(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, f *backendtest.Fake)
	}{
		{"a node missing", func(t *testing.T, f *backendtest.Fake) { must(t, f.Remove(context.Background(), "fk-welcome")) }},
		{"a node created, never started", func(t *testing.T, f *backendtest.Fake) {
			must(t, f.Stop(context.Background(), "fk-client", 0))
		}},
		{"a node off one of its networks", func(t *testing.T, f *backendtest.Fake) {
			must(t, f.Disconnect(context.Background(), "fk-back", "fk-client"))
		}},
		{"a network missing", func(t *testing.T, f *backendtest.Fake) {
			must(t, f.Remove(context.Background(), "fk-welcome"))
			must(t, f.Disconnect(context.Background(), "fk-back", "fk-client"))
			must(t, f.Disconnect(context.Background(), "fk-back", "fk-echo"))
			must(t, f.RemoveNetwork(context.Background(), "fk-back"))
		}},
		{"the lock of an up killed with it", func(t *testing.T, f *backendtest.Fake) {
			ctrs, _, _ := f.List(context.Background(), backend.Selector{lab.LabelNode: "echo"})
			must(t, f.Remove(context.Background(), "fk-client"))
			_, err := f.CreateNode(context.Background(), backend.NodeSpec{Name: "fk-lock", Image: "socketlab/echo:latest",
				Labels: map[string]string{lab.LabelLab: "fk", lab.LabelRole: lab.RoleLock, lab.LabelUp: ctrs[0].Labels[lab.LabelUp],
					lab.LabelOwner: deadOwner(t)}, Networks: []backend.Endpoint{{Network: "none"}}})
			must(t, err)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, f := fakeEngine(t)
			up(t, e)
			tc.spoil(t, f)
			l, err := e.Up(ctx(t), fakeLab(t), lab.WithName("fk"))
			if err != nil {
				t.Fatalf("up after %s: %v", tc.name, err)
			}
			if !l.Changed() {
				t.Error("up that repaired: Changed() = false")
			}
			if got := held(t, f); !slices.Equal(got, complete) {
				t.Errorf("after up the engine holds\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(complete, "\n  "))
			}
		})
	}
}

// deadOwner names a process of this host that is not running.
func deadOwner(t *testing.T) string {
	host, err := os.Hostname()
	must(t, err)
	return host + ":2147483000"
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestDownRemovesHelpersFirst(t *testing.T) {
	t.Parallel()
	e, f := fakeEngine(t)
	l := up(t, e)
	h, err := l.RunHelper(ctx(t), "client", backend.HelperSpec{Purpose: "capture", Image: images.Ref(images.Isolate, ""),
		Caps: images.Caps(images.Capture)})
	if err != nil {
		t.Fatal(err)
	}
	_ = h
	before := len(f.Calls())
	if err := e.Down(ctx(t), "fk"); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, c := range f.Calls()[before:] {
		if c.Method == "Remove" || c.Method == "RemoveNetwork" {
			order = append(order, c.Method+" "+c.Labels[lab.LabelRole])
		}
	}
	lastHelper := slices.Index(order, "Remove "+lab.RoleNode) - 1
	if lastHelper < 0 || slices.Contains(order[lastHelper+1:], "Remove "+lab.RoleHelper) {
		t.Errorf("down removed in this order: %v; want every helper before any node", order)
	}
	if i := slices.Index(order, "RemoveNetwork "); i >= 0 && slices.Contains(order[i:], "Remove "+lab.RoleNode) {
		t.Errorf("down removed in this order: %v; want networks last", order)
	}
	if empty, left := f.Empty(); !empty {
		t.Errorf("after down the engine still holds: %s", left)
	}
	if err := e.Down(ctx(t), "fk"); !errors.Is(err, lab.ErrNoLab) {
		t.Errorf("down of a lab that is gone: %v, want ErrNoLab", err)
	}
}

func TestConcurrentUpLosesWithErrBusy(t *testing.T) {
	t.Parallel()
	e, f := fakeEngine(t)
	// The first up holds the lock while it creates its first network.
	reached, release := f.PauseAt("CreateNetwork", 1)
	first := make(chan error, 1)
	go func() {
		_, err := e.Up(ctx(t), fakeLab(t), lab.WithName("fk"))
		first <- err
	}()
	<-reached
	_, err := e.Up(ctx(t), fakeLab(t), lab.WithName("fk"))
	release()
	if !errors.Is(err, lab.ErrBusy) {
		t.Errorf("up while another up holds the lab: %v, want ErrBusy", err)
	}
	if err := <-first; err != nil {
		t.Fatalf("the first up: %v", err)
	}
	if got := held(t, f); !slices.Equal(got, complete) {
		t.Errorf("after both ups the engine holds %v, want %v", got, complete)
	}
}

func TestResumePutsFiltersAndImpairmentsBack(t *testing.T) {
	t.Parallel()
	e, f := fakeEngine(t)
	l := up(t, e)
	// A stopped node loses its namespace: its filter and its impairment
	// helper's settings go with it (the helper dies with the namespace).
	must(t, l.Stop(ctx(t), "echo"))
	hs, _, err := f.List(ctx(t), backend.Selector{lab.LabelHelper: lab.PurposeImpair})
	if err != nil || len(hs) != 1 {
		t.Fatalf("impair helpers: %v %v", hs, err)
	}
	must(t, f.Kill(ctx(t), hs[0].ID))
	isolated, impaired := helperRuns(f, "isolate", "echo"), helperRuns(f, lab.PurposeImpair, "echo")
	up(t, e)
	if n := helperRuns(f, "isolate", "echo") - isolated; n != 1 {
		t.Errorf("up of the stopped node filtered it %d times, want 1", n)
	}
	if n := helperRuns(f, lab.PurposeImpair, "echo") - impaired; n < 1 {
		t.Errorf("up of the stopped node impaired its link %d times, want at least 1", n)
	}
	if got := held(t, f); !slices.Equal(got, complete) {
		t.Errorf("after up the engine holds %v, want %v", got, complete)
	}
	st, err := l.Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Impairments) != 1 || st.Impairments[0].Network != "back" || st.Impairments[0].Summary != "delay 10ms" {
		t.Errorf("impairments after up: %+v, want echo:back delay 10ms", st.Impairments)
	}
}
