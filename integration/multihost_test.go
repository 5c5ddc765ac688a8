package integration

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"socketlab/internal/images"
	"socketlab/internal/labtest"
	"socketlab/labctl/backend/swarm"
	"socketlab/labctl/check"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
	"socketlab/labctl/tap"
)

// TestMultiHost runs labs across two Docker hosts on this machine (the
// labtest rig: two dockerd of its own, each in a network namespace, one
// swarm over a veth; the host's engine is never part of it): bad input first fails before anything
// is created, then the default lab and the chat scenario pass with their
// nodes split across the hosts, over IPv4 and IPv6, and the welcome and
// lossy-link scenarios' wire checks pass on a capture of nodes on both
// hosts (lossy-link impairs the link of a node on the second host).
func TestMultiHost(t *testing.T) {
	imgs := append(labtest.Services(), images.Client, images.Isolate, images.Pin6, images.Capture, images.Impair)
	rig := labtest.NewRig(t, imgs...)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	t.Run("NotInSwarm", func(t *testing.T) {
		_, err := swarm.New(ctx, rig.Hosts)
		if err == nil || !strings.Contains(err.Error(), "host one") || !strings.Contains(err.Error(), "is not in a swarm") {
			t.Fatalf("New with engines out of swarm mode: %v, want host one is not in a swarm", err)
		}
	})
	rig.Join()

	t.Run("Unreachable", func(t *testing.T) {
		hs := &swarm.Hosts{File: "hosts.yaml", Hosts: append(rig.Hosts.Hosts,
			swarm.Host{Name: "three", Endpoint: "unix://" + filepath.Join(t.TempDir(), "none.sock"), Line: 4, Column: 3})}
		_, err := swarm.New(ctx, hs)
		if !errors.Is(err, lab.ErrEngineUnreachable) || !strings.Contains(err.Error(), "hosts.yaml:4:3: host three") {
			t.Fatalf("New with an unreachable host: %v, want hosts.yaml:4:3: host three ... unreachable", err)
		}
	})

	b, err := swarm.New(ctx, rig.Hosts)
	if err != nil {
		t.Fatalf("swarm backend: %v", err)
	}
	defer b.Close()
	e, err := lab.New(b)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("UnknownHost", func(t *testing.T) {
		sc, err := scenario.Parse("placed.yaml", []byte("name: placed\nnetworks:\n  n: {}\nnodes:\n  a:\n    image: welcome\n    networks: [n]\n    host: tow\n"))
		if err != nil {
			t.Fatal(err)
		}
		name := labtest.Name(t)
		_, err = e.Up(ctx, sc, lab.WithName(name))
		if !errors.Is(err, lab.ErrInvalid) || !strings.Contains(err.Error(), `placed.yaml:8:11: nodes.a.host: host "tow" is not in the hosts file (did you mean "two"?)`) {
			t.Fatalf("up with a node on an unknown host: %v", err)
		}
		if labs, _ := e.List(ctx); len(labs) > 0 && slicesHas(labs, name) {
			t.Errorf("lab %s has resources after a refused up", name)
		}
	})

	t.Run("Default", func(t *testing.T) {
		sc, err := scenario.Load(filepath.Join("..", "scenarios", "default.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		sc.Node("client").Host = "two" // welcome, chat and lookup stay on one
		l := upOn(t, ctx, e, sc)
		one, two := rig.Containers(l.Name())
		if one == 0 || two == 0 || one+two != len(sc.Nodes) {
			t.Fatalf("nodes on host one: %d, on host two: %d; want both, %d in all", one, two, len(sc.Nodes))
		}
		st, err := l.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range st.Nodes {
			if n.Name == "client" && n.Host != "two" || n.Name == "welcome" && n.Host != "one" {
				t.Errorf("status: node %s on host %q", n.Name, n.Host)
			}
		}
		for _, fam := range []string{"-4", "-6"} {
			out, errb, code, err := l.Exec(ctx, "client", []string{"sock", "welcome", fam, "welcome"})
			want := map[string]string{"-4": "over IPv4", "-6": "over IPv6"}[fam]
			if err != nil || code != 0 || !strings.Contains(string(out), want) {
				t.Errorf("sock welcome %s welcome across hosts: exit %d, %v: %s%s; want %q", fam, code, err, out, errb, want)
			}
		}
		runSteps(t, ctx, l, sc)
	})

	t.Run("Chat", func(t *testing.T) {
		sc, err := scenario.Load(filepath.Join("..", "scenarios", "chat.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		l := upOn(t, ctx, e, sc)
		if one, two := rig.Containers(l.Name()); one == 0 || two == 0 {
			t.Fatalf("nodes on host one: %d, on host two: %d; want both", one, two)
		}
		runSteps(t, ctx, l, sc)
	})

	for _, file := range []string{"welcome.yaml", "lossy-link.yaml"} {
		t.Run("Wire-"+strings.TrimSuffix(file, ".yaml"), func(t *testing.T) {
			wire(t, ctx, e, rig, file)
		})
	}
}

// wire runs the scenario file on e with a capture of every node, for its
// wire checks, its nodes split across the rig's hosts.
func wire(t *testing.T, ctx context.Context, e *lab.Engine, rig *labtest.Rig, file string) {
	t.Helper()
	sc, err := scenario.Load(filepath.Join("..", "scenarios", file))
	if err != nil {
		t.Fatal(err)
	}
	l := upOn(t, ctx, e, sc)
	if one, two := rig.Containers(l.Name()); one == 0 || two == 0 {
		t.Fatalf("nodes on host one: %d, on host two: %d; want both", one, two)
	}
	rec, err := tap.Record(ctx, l, images.Ref(images.Capture, ""), nil)
	if err != nil {
		t.Fatalf("capture across two hosts: %v", err)
	}
	defer rec.Close(ctx)
	runSteps(t, ctx, rec, sc)
}

// upOn brings sc up on e and takes it down when the test ends.
func upOn(t *testing.T, ctx context.Context, e *lab.Engine, sc *scenario.Scenario) *lab.Lab {
	t.Helper()
	l, err := e.Up(ctx, sc, lab.WithName(labtest.Name(t)), lab.WithHealthTimeout(time.Minute))
	if err != nil {
		t.Fatalf("up %s across two hosts: %v", sc.Name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.Down(ctx, l.Name()); err != nil {
			t.Errorf("down %s: %v", l.Name(), err)
		}
	})
	return l
}

// runSteps runs sc's steps in l, one subtest each.
func runSteps(t *testing.T, ctx context.Context, l check.Lab, sc *scenario.Scenario) {
	t.Helper()
	rep := check.Run(ctx, l, sc, nil)
	for _, r := range rep.Results {
		name := r.Name
		if r.Family != "" {
			name += " " + r.Family
		}
		t.Run(name, func(t *testing.T) {
			if r.Outcome != check.Pass {
				t.Errorf("%s:%d: %s\n  expected: %s\n  got:      %s\n  %s", sc.File, r.Line, r.Outcome, r.Expected, r.Got, r.Message)
			}
		})
	}
}

func slicesHas(labs []lab.Summary, name string) bool {
	for _, s := range labs {
		if s.Name == name {
			return true
		}
	}
	return false
}

// BenchmarkMultiHostUpDown times the default lab coming up and going down
// across the two hosts of the rig, its nodes spread over both, after one
// run to warm the hosts up (the first attachment of a host to the swarm's
// networks). It reports the median up and down in seconds (up-s, down-s);
// make bench-lab prints them beside the single-host figures.
func BenchmarkMultiHostUpDown(b *testing.B) {
	imgs := append(labtest.Services(), images.Client, images.Isolate, images.Pin6)
	rig := labtest.NewRig(b, imgs...)
	rig.Join()
	ctx := context.Background()
	sb, err := swarm.New(ctx, rig.Hosts)
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close()
	e, err := lab.New(sb)
	if err != nil {
		b.Fatal(err)
	}
	sc, err := scenario.Load(filepath.Join("..", "scenarios", "default.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	once := func() (up, down time.Duration) {
		name := labtest.Name(b)
		t := time.Now()
		if _, err := e.Up(ctx, sc, lab.WithName(name)); err != nil {
			e.Down(ctx, name)
			b.Fatalf("up across two hosts: %v", err)
		}
		up = time.Since(t)
		t = time.Now()
		if err := e.Down(ctx, name); err != nil {
			b.Fatalf("down across two hosts: %v", err)
		}
		return up, time.Since(t)
	}
	once()
	var ups, downs []float64
	b.ResetTimer()
	for range b.N {
		up, down := once()
		ups, downs = append(ups, up.Seconds()), append(downs, down.Seconds())
	}
	b.StopTimer()
	b.ReportMetric(median(ups), "up-s")
	b.ReportMetric(median(downs), "down-s")
	b.ReportMetric(0, "ns/op")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
