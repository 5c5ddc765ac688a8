package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostPaths: files and mounts are found relative to the scenario file,
// and refused when they do not exist or lead out of its folder (by name or
// through a symbolic link) unless allowed.
func TestHostPaths(t *testing.T) {
	top := t.TempDir()
	dir := filepath.Join(top, "lab")
	os.MkdirAll(filepath.Join(dir, "code"), 0o755)
	os.WriteFile(filepath.Join(dir, "server.py"), []byte("print('hi')\n"), 0o644)
	os.WriteFile(filepath.Join(top, "secret"), []byte("x"), 0o644)
	os.Symlink("/etc", filepath.Join(dir, "etc"))
	file := filepath.Join(dir, "lab.yaml")
	src := `name: paths
networks: {net: {}}
nodes:
  a:
    image: toolbox
    networks: [net]
    files: ["./server.py:/lab/server.py", "code:/lab/code"]
    mounts: ["./code:/src:rw"]
  b:
    image: toolbox
    networks: [net]
    files: ["../secret:/lab/secret", "./etc/passwd:/lab/passwd", "./missing.py:/lab/missing.py"]
    mounts: ["/var/run/docker.sock:/var/run/docker.sock"]
`
	os.WriteFile(file, []byte(src), 0o644)
	sc, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	err = sc.ResolveHostPaths(false)
	var errs Errors
	if !asErrors(err, &errs) || len(errs) != 4 {
		t.Fatalf("want 4 errors, got %v", err)
	}
	for i, want := range []string{
		`lab.yaml:12:13: nodes.b.files[0]: host path "../secret" is outside the scenario's folder`,
		`lab.yaml:12:38: nodes.b.files[1]: host path "./etc/passwd" is outside the scenario's folder ` + dir + ` (it leads to /etc/passwd)`,
		`lab.yaml:12:66: nodes.b.files[2]: host path "./missing.py" does not exist`,
		`lab.yaml:13:14: nodes.b.mounts[0]: host path "/var/run/docker.sock"`,
	} {
		if got := strings.TrimPrefix(errs[i].Error(), dir+string(filepath.Separator)); !strings.HasPrefix(got, want) {
			t.Errorf("error %d:\n got %s\nwant %s...", i, got, want)
		}
	}
	if sc.Node("a").Files[0].HostPath != "" {
		t.Error("a failed resolution set a path")
	}

	// Node a alone is fine, and paths are made absolute.
	sc.Nodes = sc.Nodes[:1]
	if err := sc.ResolveHostPaths(false); err != nil {
		t.Fatal(err)
	}
	if got, want := sc.Node("a").Files[0].HostPath, filepath.Join(dir, "server.py"); got != want {
		t.Errorf("host path %s, want %s", got, want)
	}
	if m := sc.Node("a").Mounts[0]; m.HostPath != filepath.Join(dir, "code") || !m.Writable || m.Target != "/src" {
		t.Errorf("mount %+v", m)
	}
}

// TestHostPathsAllowed: --allow-host-paths lifts the folder rule, not the
// existence check.
func TestHostPathsAllowed(t *testing.T) {
	top := t.TempDir()
	os.WriteFile(filepath.Join(top, "secret"), []byte("x"), 0o644)
	dir := filepath.Join(top, "lab")
	os.Mkdir(dir, 0o755)
	sc := &Scenario{File: filepath.Join(dir, "x.yaml"), Nodes: []*Node{{Name: "a", Files: []Bind{{Source: "../secret", Target: "/s"}, {Source: "nope", Target: "/n"}}}}}
	err := sc.ResolveHostPaths(true)
	if err == nil || !strings.Contains(err.Error(), `"nope" does not exist`) || strings.Contains(err.Error(), "secret") {
		t.Fatalf("got %v", err)
	}
	sc.Nodes[0].Files = sc.Nodes[0].Files[:1]
	if err := sc.ResolveHostPaths(true); err != nil || sc.Nodes[0].Files[0].HostPath != filepath.Join(top, "secret") {
		t.Fatalf("allowed: %v, %+v", err, sc.Nodes[0].Files[0])
	}
}

func asErrors(err error, errs *Errors) bool {
	e, ok := err.(Errors)
	*errs = e
	return ok
}

// TestHostPathsOnce: a scenario resolved already is not resolved again
// under the same rule or a looser one, but is under a stricter one.
func TestHostPathsOnce(t *testing.T) {
	top := t.TempDir()
	os.WriteFile(filepath.Join(top, "secret"), []byte("x"), 0o644)
	dir := filepath.Join(top, "lab")
	os.Mkdir(dir, 0o755)
	sc := &Scenario{File: filepath.Join(dir, "x.yaml"), Nodes: []*Node{{Name: "a", Files: []Bind{{Source: "../secret", Target: "/s"}}}}}
	if err := sc.ResolveHostPaths(true); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(top, "secret"))
	if err := sc.ResolveHostPaths(true); err != nil || sc.Nodes[0].Files[0].HostPath != filepath.Join(top, "secret") {
		t.Errorf("resolved again under the same rule: %v, %+v", err, sc.Nodes[0].Files[0])
	}
	if err := sc.ResolveHostPaths(false); err == nil {
		t.Error("a path outside the folder passed the stricter rule")
	}
}
