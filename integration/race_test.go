package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"socketlab/internal/labtest"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// matchesScenario checks, network by network, that every node of the lab
// is attached as sc says: on each of its networks and no other.
func matchesScenario(t *testing.T, l *lab.Lab, sc *scenario.Scenario) {
	t.Helper()
	st := status(t, l)
	for _, n := range sc.Nodes {
		ns := node(t, st, n.Name)
		var want, got []string
		for _, a := range n.Networks {
			want = append(want, a.Network)
		}
		for _, a := range ns.Addresses {
			got = append(got, a.Network)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(want, got) {
			t.Errorf("node %s is on %v, the scenario says %v", n.Name, got, want)
		}
		if ns.State != "running" {
			t.Errorf("node %s is %s", n.Name, ns.State)
		}
	}
}

// TestConcurrentUpIsExclusive: of two ups of one lab name at the same
// moment, exactly one brings it up, and as the scenario says; the other says
// that another process is bringing it up.
func TestConcurrentUpIsExclusive(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome", "echo", scenario.ClientImage)
	for i := range 10 {
		t.Run(fmt.Sprint("pair", i), func(t *testing.T) {
			t.Parallel()
			name := labtest.Name(t)
			t.Cleanup(func() { labtest.Engine().Down(context.Background(), name) })
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var labs [2]*lab.Lab
			var errs [2]error
			var wg sync.WaitGroup
			start := make(chan struct{})
			for k := range 2 {
				wg.Go(func() {
					<-start
					labs[k], errs[k] = labtest.Engine().Up(ctx, twoNets(), lab.WithName(name))
				})
			}
			close(start)
			wg.Wait()
			won := -1
			for k := range 2 {
				if errs[k] == nil {
					if won >= 0 {
						t.Fatalf("both ups succeeded")
					}
					won = k
				} else if !errors.Is(errs[k], lab.ErrBusy) {
					t.Errorf("the losing up: %v, want %v", errs[k], lab.ErrBusy)
				}
			}
			if won < 0 {
				t.Fatalf("neither up succeeded: %v; %v", errs[0], errs[1])
			}
			matchesScenario(t, labs[won], twoNets())
		})
	}
}

// TestUpAfterKilledUp kills `labctl up` with SIGKILL at ten points of its
// work; up again must then give a lab that matches the scenario network by
// network.
func TestUpAfterKilledUp(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, "welcome", "echo", scenario.ClientImage)
	bin, err := labctlBin()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "kill.yaml")
	os.WriteFile(file, []byte(`name: kill
networks:
  front: {}
  back: {}
nodes:
  welcome: {image: welcome, networks: [front]}
  echo: {image: echo, networks: [back, front]}
  client: {image: client, networks: [front, back]}
`), 0o644)
	sc, err := scenario.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		after := 200*time.Millisecond + time.Duration(i)*300*time.Millisecond/9
		t.Run(after.String(), func(t *testing.T) {
			t.Parallel()
			name := labtest.Name(t)
			t.Cleanup(func() { labtest.Engine().Down(context.Background(), name) })
			cmd := exec.Command(bin, "up", "-q", "--name", name, file)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(after)
			cmd.Process.Kill()
			cmd.Wait()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			l, err := labtest.Engine().Up(ctx, sc, lab.WithName(name))
			if err != nil {
				t.Fatalf("up after kill -9 at %s: %v", after, err)
			}
			matchesScenario(t, l, sc)
			if out, errOut, code, err := l.Exec(ctx, "client", []string{"sock", "echo", "-6", "echo", "after kill"}); err != nil || code != 0 {
				t.Errorf("echo after re-up: exit %d %v: %s%s", code, err, out, errOut)
			}
		})
	}
}
