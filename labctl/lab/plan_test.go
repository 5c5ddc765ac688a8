package lab_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"socketlab/labctl/backend"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// TestNothingCreatedForAPlanThatFails: what Up cannot run fails before the
// first thing is created: a host path outside the scenario's folder, an
// image that is not there.
func TestNothingCreatedForAPlanThatFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ok.py"), []byte("print('ok')\n"), 0o644)
	for _, tc := range []struct {
		name, node string
		want       error
	}{
		{"a host path outside the folder", `{image: client, networks: [n], files: ["/etc/hostname:/x"]}`, lab.ErrInvalid},
		{"a missing image", `{image: "example/none:1", networks: [n], files: ["ok.py:/x"]}`, lab.ErrImageMissing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, f := fakeEngine(t)
			sc, err := scenario.Parse(filepath.Join(dir, "lab.yaml"), []byte("name: fk\nnetworks: {n: {}}\nnodes:\n  a: "+tc.node+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.Up(ctx(t), sc, lab.WithName("fk"))
			if !errors.Is(err, tc.want) {
				t.Fatalf("up: %v, want %v", err, tc.want)
			}
			for _, c := range f.Calls() {
				if !slices.Contains([]string{"Info", "Image", "List"}, c.Method) {
					t.Errorf("a plan that fails called %s %s", c.Method, c.Name)
				}
			}
		})
	}
}

// TestFilesGoIntoTheImage: a node's files become an image it runs, the
// host paths resolved once, as the plan says.
func TestFilesGoIntoTheImage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "prog.py"), []byte("print('ok')\n"), 0o644)
	e, f := fakeEngine(t)
	sc, err := scenario.Parse(filepath.Join(dir, "lab.yaml"), []byte(
		"name: fk\nnetworks: {n: {}}\nnodes:\n  a: {image: client, networks: [n], files: [\"prog.py:/lab/prog.py\"]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := e.Up(ctx(t), sc, lab.WithName("fk"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := l.Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Nodes[0].Image; got != "socketlab/client:latest + files" {
		t.Errorf("node a runs %q, want the client image with its files", got)
	}
	if n := f.Count("AddFiles"); n != 1 {
		t.Errorf("AddFiles called %d times, want 1", n)
	}
}

// TestRecreate: up with WithRecreate takes the lab down and makes it anew.
func TestRecreate(t *testing.T) {
	t.Parallel()
	e, f := fakeEngine(t)
	up(t, e)
	ctrs, _, _ := f.List(context.Background(), backend.Selector{lab.LabelRole: lab.RoleNode})
	l, err := e.Up(ctx(t), fakeLab(t), lab.WithName("fk"), lab.WithRecreate())
	if err != nil {
		t.Fatal(err)
	}
	if !l.Changed() {
		t.Error("recreate: Changed() = false")
	}
	after, _, _ := f.List(context.Background(), backend.Selector{lab.LabelRole: lab.RoleNode})
	for _, c := range ctrs {
		if slices.ContainsFunc(after, func(a backend.Container) bool { return a.ID == c.ID }) {
			t.Errorf("node container %s survived the recreate", c.Name)
		}
	}
	if got := held(t, f); !slices.Equal(got, complete) {
		t.Errorf("after recreate the engine holds\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(complete, "\n  "))
	}
}
