package lab_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"socketlab/internal/images"
	"socketlab/labctl/backend"
	"socketlab/labctl/backend/backendtest"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// TestTCPReadinessReadsTheSocketTable: a tcp readiness check looks at the
// node's listening sockets and never connects (a one-shot server is not
// used up); one on loopback only fails up with what it found and the fix;
// a node that exits right after it was called ready fails up with its
// exit, never "up".
func TestTCPReadinessReadsTheSocketTable(t *testing.T) {
	t.Parallel()
	const tutorial = `name: rd
networks:
  lab: {}
nodes:
  server:
    image: learner/server
    networks: [lab]
    ready: {tcp: 65432}
`
	table := func(local ...string) string {
		var s []string
		for _, l := range local {
			s = append(s, `{"proto":"tcp","local":"`+l+`"}`)
		}
		return `{"sockets":[` + strings.Join(s, ",") + `]}`
	}
	cases := []struct {
		name    string
		tables  []string // what sock sockets says, attempt after attempt (the last repeats)
		exits   bool     // the server exits once it was seen listening
		wantErr string
	}{
		{name: "listens on every address", tables: []string{table("0.0.0.0:65432")}},
		{name: "listens on ::, after a moment", tables: []string{table(), table("127.0.0.11:41169"), table("[::]:65432")}},
		{name: "loopback only", tables: []string{table("127.0.0.1:65432")},
			wantErr: `server is not ready (tcp 65432): it listens on tcp 127.0.0.1:65432 only, a loopback address: other nodes cannot reach it (connection refused); bind every address instead: "" or "0.0.0.0" (IPv4), "::" (IPv4 and IPv6), e.g. in Python HOST = ""`},
		{name: "loopback both families", tables: []string{table("127.0.0.1:65432", "[::1]:65432")},
			wantErr: "it listens on tcp 127.0.0.1:65432 and [::1]:65432 only"},
		{name: "exits after it was called ready", tables: []string{table("0.0.0.0:65432")}, exits: true,
			wantErr: "server exited with code 137 right after it was called ready"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := backendtest.New(backend.Info{Name: "fake", Version: "1"})
			f.AddImage("learner/server", backend.Image{})
			for _, name := range []string{images.Client, images.Isolate} {
				f.AddImage(images.Ref(name, ""), backend.Image{})
			}
			f.HelperFunc = func(spec backend.HelperSpec) backendtest.HelperRun {
				return backendtest.HelperRun{Stays: spec.Image == images.Ref(images.Client, "")}
			}
			var (
				mu    sync.Mutex
				execs [][]string
			)
			f.ExecFunc = func(_ backend.ContainerInfo, argv []string, s backend.Streams) (int, error) {
				mu.Lock()
				n := len(execs)
				execs = append(execs, argv)
				mu.Unlock()
				s.Stdout.Write([]byte(c.tables[min(n, len(c.tables)-1)]))
				if c.exits && n == len(c.tables)-1 {
					ctrs, _, _ := f.List(context.Background(), backend.Selector{lab.LabelNode: "server"})
					for _, ctr := range ctrs {
						if ctr.Labels[lab.LabelRole] != lab.RoleHelper {
							f.Kill(context.Background(), ctr.ID)
						}
					}
				}
				return 0, nil
			}
			sc, err := scenario.Parse("rd.yaml", []byte(tutorial))
			if err != nil {
				t.Fatal(err)
			}
			_, err = newEngine(t, f).Up(ctx(t), sc, lab.WithName("rd"))
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("up: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("up: %v\nwant an error containing %s", err, c.wantErr)
			}
			for _, argv := range execs {
				if strings.Join(argv, " ") != "sock sockets --json" {
					t.Errorf("the check ran %q: it must only read the socket table, never connect", argv)
				}
			}
			if c.wantErr != "" {
				if got := held(t, f); len(got) != 0 {
					t.Errorf("a failed up left %v", got)
				}
			}
		})
	}
}

// TestEditedFileIsNotAnOlderImage: a node's file edited after up makes the
// next up say which file changed, not that the node runs an older build of
// its image; a rebuilt image still says so.
func TestEditedFileIsNotAnOlderImage(t *testing.T) {
	t.Parallel()
	sc, f, write := filesLab(t)
	server := filepath.Join(filepath.Dir(sc.File), "echo-server.py")
	e := newEngine(t, f)
	var events []string
	progress := func(ev lab.Event) { events = append(events, fmt.Sprintf("%s %s %s", ev.Kind, ev.Name, ev.Phase)) }
	if _, err := e.Up(ctx(t), sc, lab.WithName("fi"), lab.WithProgress(progress)); err != nil {
		t.Fatal(err)
	}
	// Nothing silent before the first network: the files' image is news.
	if len(events) < 3 || events[0] != "node server preparing" || !slices.Contains(events, "network lab created") ||
		slices.Index(events, "network lab created") < slices.Index(events, "node server preparing") {
		t.Errorf("up's first events: %q; want node server preparing before network lab created", events)
	}
	write("v2")
	_, err := e.Up(ctx(t), sc, lab.WithName("fi"))
	if err == nil || !strings.Contains(err.Error(), "node server was started with other contents of "+server+" (edited since)") ||
		strings.Contains(err.Error(), "older build") {
		t.Errorf("second up after an edit: %v\nwant: node server was started with other contents of %s (edited since)", err, server)
	}
	f.AddImage(images.Ref(images.Toolbox, ""), backend.Image{ID: "sha256:toolbox-2"}) // make toolbox again
	write("v1")
	if _, err = e.Up(ctx(t), sc, lab.WithName("fi")); err == nil || !strings.Contains(err.Error(), "node server runs an older build of socketlab/toolbox:latest") {
		t.Errorf("up after a rebuilt image: %v\nwant: runs an older build", err)
	}
}
