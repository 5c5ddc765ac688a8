package lab_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"socketlab/internal/images"
	"socketlab/labctl/backend"
	"socketlab/labctl/backend/backendtest"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// TestDownRemovesFilesImages: each edit of a node's file makes another
// image; down removes the lab's unless another lab runs it, and
// RemoveFilesImages (labctl down --images) clears the rest of the cache.
func TestDownRemovesFilesImages(t *testing.T) {
	t.Parallel()
	sc, f, write := filesLab(t)
	e := newEngine(t, f)
	// up brings the scenario up as lab name and returns the image its node runs.
	up := func(name string) string {
		t.Helper()
		if _, err := e.Up(ctx(t), sc, lab.WithName(name)); err != nil {
			t.Fatal(err)
		}
		ctrs, _, _ := f.List(ctx(t), backend.Selector{lab.LabelLab: name, lab.LabelNode: "server"})
		for _, c := range ctrs {
			if c.Labels[lab.LabelRole] != lab.RoleHelper {
				return c.Image
			}
		}
		t.Fatalf("lab %s has no server", name)
		return ""
	}
	write("v1")
	v1a := up("fi-a")
	v1b := up("fi-b") // the same files: the same image
	write("v2")
	v2 := up("fi-c")
	if v1a != v1b || v1a == v2 || !strings.Contains(v1a, "-files-") {
		t.Fatalf("files images %s %s %s: want one per version of the files", v1a, v1b, v2)
	}
	has := func(ref string) bool { _, err := f.Image(ctx(t), ref); return err == nil }

	must(t, e.Down(ctx(t), "fi-a"))
	if !has(v1a) {
		t.Errorf("down fi-a removed %s, which lab fi-b runs", v1a)
	}
	must(t, e.Down(ctx(t), "fi-b"))
	if has(v1a) {
		t.Errorf("down fi-b left %s, which no lab runs", v1a)
	}
	// A stale one (a lab removed by other means) goes with RemoveFilesImages;
	// fi-c's stays while it runs.
	write("v3")
	v3 := up("fi-d")
	ctrs, _, _ := f.List(ctx(t), backend.Selector{lab.LabelLab: "fi-d"})
	for _, c := range ctrs {
		must(t, f.Remove(ctx(t), c.ID))
	}
	removed, err := e.RemoveFilesImages(ctx(t))
	if err != nil || !slices.Equal(removed, []string{v3}) || !has(v2) {
		t.Errorf("RemoveFilesImages = %v, %v; want [%s], and %s (fi-c runs it) kept", removed, err, v3, v2)
	}
	must(t, e.Down(ctx(t), "fi-c"))
	if has(v2) {
		t.Errorf("down fi-c left %s", v2)
	}
	if has(images.Ref(images.Toolbox, "")) == false {
		t.Error("the base image was removed")
	}
}

// filesLab is a scenario of one toolbox node with the file echo-server.py
// (write sets its content), on a fake engine with the toolbox image.
func filesLab(t *testing.T) (*scenario.Scenario, *backendtest.Fake, func(string)) {
	t.Helper()
	dir := t.TempDir()
	server := filepath.Join(dir, "echo-server.py")
	write := func(s string) {
		if err := os.WriteFile(server, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("v1")
	sc, err := scenario.Parse(filepath.Join(dir, "lab.yaml"), []byte(`name: fi
networks:
  lab: {}
nodes:
  server:
    image: toolbox
    networks: [lab]
    files: ["./echo-server.py:/lab/echo-server.py"]
`))
	if err != nil {
		t.Fatal(err)
	}
	f := backendtest.New(backend.Info{Name: "fake", Version: "1"})
	for _, name := range []string{images.Toolbox, images.Isolate} {
		f.AddImage(images.Ref(name, ""), backend.Image{ID: "sha256:" + name + "-1"})
	}
	return sc, f, write
}

// TestUpRemakesFilesImageTakenByDown: another lab's down removes the files
// images no container runs, so it can take the one an up has just made and
// not yet run (seen with labs graded side by side); the up makes it again
// and succeeds.
func TestUpRemakesFilesImageTakenByDown(t *testing.T) {
	t.Parallel()
	sc, f, _ := filesLab(t)
	e := newEngine(t, f)
	if _, err := e.Up(ctx(t), sc, lab.WithName("fr-a")); err != nil {
		t.Fatal(err)
	}
	// The second CreateNode from now is fr-b's server (the first, its lock).
	reached, release := f.PauseAt("CreateNode", 2)
	done := make(chan error, 1)
	go func() {
		_, err := e.Up(ctx(t), sc, lab.WithName("fr-b"))
		done <- err
	}()
	<-reached
	must(t, e.Down(ctx(t), "fr-a")) // fr-b runs nothing yet: the image goes
	release()
	if err := <-done; err != nil {
		t.Fatalf("up fr-b after fr-a's down took its files image: %v", err)
	}
	ctrs, _, _ := f.List(ctx(t), backend.Selector{lab.LabelLab: "fr-b", lab.LabelNode: "server"})
	if len(ctrs) != 1 || !strings.Contains(ctrs[0].Image, "-files-") {
		t.Fatalf("fr-b's server: %+v; want one container on a files image", ctrs)
	}
	if _, err := f.Image(ctx(t), ctrs[0].Image); err != nil {
		t.Errorf("fr-b's server runs %s, which is gone: %v", ctrs[0].Image, err)
	}
}
