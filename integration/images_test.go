package integration

import (
	"context"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"socketlab/internal/labtest"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// probe is a client run that shows a service answering, for a family flag
// (-4 or -6) and the service's node name.
type probeRun struct {
	name string
	argv func(fam, node string) []string
}

// probes are each service's client runs.
var probes = map[string][]probeRun{
	"welcome": {{"TCP", func(fam, node string) []string { return []string{"sock", "welcome", fam, "--json", node} }}},
	"echo": {
		{"TCP", func(fam, node string) []string { return []string{"sock", "echo", fam, "--json", node, "over TCP"} }},
		{"UDP", func(fam, node string) []string {
			return []string{"sock", "echo", fam, "--udp", "--json", node, "over UDP"}
		}},
	},
	"responder": {{"UDP", func(fam, node string) []string { return []string{"sock", "responder", fam, "--json", node, "hi"} }}},
	"chat": {{"IRC", func(fam, node string) []string {
		return []string{"sock", "chat", fam, "--json", "--nick", "tester", node}
	}}},
	"lookup": {{"search", func(fam, node string) []string {
		return []string{"sock", "lookup", fam, "--json", node, "search", "TCP"}
	}}},
	"web": {{"HTTP", func(fam, node string) []string {
		return []string{"sock", "browse", fam, "--json", "http://" + node + "/"}
	}}},
}

var numericUser = regexp.MustCompile(`^[1-9][0-9]*(:[0-9]+)?$`)

// TestImages runs every service's image in a small lab of its own with the
// client: it must pass its healthcheck, answer the client over IPv4 and IPv6
// across the lab's network, run confined, and stop gracefully.
func TestImages(t *testing.T) {
	t.Parallel()
	labtest.Need(t)
	services := labtest.Services()
	if len(services) == 0 {
		t.Fatal("no services found under services/*/cmd")
	}
	// The labs come up all at once, as parallel packages' labs would.
	labs := make([]*lab.Lab, len(services))
	errs := make([]error, len(services))
	var wg sync.WaitGroup
	labtest.NeedImages(t, scenario.ClientImage)
	for i, s := range services {
		wg.Go(func() {
			if labtest.Missing(s) {
				return // its subtest says so
			}
			labs[i], errs[i] = labtest.Start(t, pair(s))
		})
	}
	wg.Wait()

	for i, s := range services {
		t.Run(s, func(t *testing.T) {
			labtest.NeedImages(t, s)
			if errs[i] != nil {
				t.Fatalf("up: %v", errs[i])
			}
			l := labs[i]
			ctx := context.Background()

			t.Run("docker sees the healthcheck pass", func(t *testing.T) {
				// Up ran the image's healthcheck itself; Docker runs it on
				// its own schedule (every 2 s).
				deadline := time.Now().Add(30 * time.Second)
				for {
					n := node(t, status(t, l), s)
					if n.Health == "healthy" {
						return
					}
					if n.Health != "starting" || time.Now().After(deadline) {
						t.Fatalf("health %q, state %s", n.Health, n.State)
					}
					time.Sleep(250 * time.Millisecond)
				}
			})

			st := status(t, l)
			srv := node(t, st, s)
			for _, fam := range []struct{ flag, name string }{{"-4", "IPv4"}, {"-6", "IPv6"}} {
				if len(probes[s]) == 0 {
					t.Errorf("no client run known for %s: add one to probes", s)
				}
				for _, pr := range probes[s] {
					argv := pr.argv(fam.flag, s)
					t.Run(pr.name+" over "+fam.name, func(t *testing.T) {
						p, code := run(t, l, "client", argv...)
						want := address(t, srv, "net", fam.name)
						if code != 0 || !p.OK || p.Family != fam.name || host(p.Remote) != want {
							t.Errorf("%q: exit %d, ok %v, family %q, remote %q, error %q; want success over %s to %s",
								argv, code, p.OK, p.Family, p.Remote, p.Error, fam.name, want)
						}
					})
				}
			}

			t.Run("confined", func(t *testing.T) {
				sec := srv.Security
				if !numericUser.MatchString(sec.User) {
					t.Errorf("user %q, want a non-root numeric uid", sec.User)
				}
				if !sec.ReadOnlyRoot || !slices.Contains(sec.CapDrop, "ALL") || len(sec.CapAdd) > 0 || sec.Privileged ||
					!slices.ContainsFunc(sec.SecurityOpt, func(o string) bool { return o == "no-new-privileges" || o == "no-new-privileges:true" }) {
					t.Errorf("security %+v, want read-only root, all capabilities dropped, no-new-privileges", sec)
				}
				if sec.Memory != 64<<20 || sec.Pids != 64 {
					t.Errorf("limits: memory %d, pids %d; want the scenario's 64m and 64", sec.Memory, sec.Pids)
				}
			})

			t.Run("stops gracefully", func(t *testing.T) {
				began := time.Now()
				if err := l.Stop(ctx, s); err != nil {
					t.Fatalf("stop: %v", err)
				}
				took := time.Since(began)
				n := node(t, status(t, l), s)
				// Exit status 0: the server ended on SIGTERM by itself;
				// had it not, Docker would have killed it (137) after
				// lab.StopTimeout.
				if n.State != "exited" || n.ExitCode != 0 {
					t.Errorf("after stop: %s, exit %d; want exited, 0", n.State, n.ExitCode)
				}
				t.Logf("stopped in %v", took.Round(time.Millisecond))
			})
		})
	}
}
