package images

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// root is the repository's top folder.
func root(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// TestOneList: everything else that names the services agrees with
// Services: the server folders, the build and check scripts, compose.yaml.
func TestOneList(t *testing.T) {
	want := Services()
	slices.Sort(want)

	dirs, _ := filepath.Glob(filepath.Join(root(t), "services", "*", "cmd"))
	var got []string
	for _, d := range dirs {
		got = append(got, filepath.Base(filepath.Dir(d)))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("services/*/cmd = %v, images.Services = %v", got, want)
	}

	list := regexp.MustCompile(`(?m)^services=\(([^)]*)\)`)
	for _, script := range []string{"scripts/images.sh", "scripts/compose-check.sh"} {
		b, err := os.ReadFile(filepath.Join(root(t), script))
		if err != nil {
			t.Fatal(err)
		}
		m := list.FindSubmatch(b)
		if m == nil {
			t.Errorf("%s: no services=(...) list", script)
			continue
		}
		names := strings.Fields(string(m[1]))
		slices.Sort(names)
		if !slices.Equal(names, want) {
			t.Errorf("%s lists %v, images.Services = %v", script, names, want)
		}
	}

	b, err := os.ReadFile(filepath.Join(root(t), "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image string `yaml:"image"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatal(err)
	}
	// The default lab's nodes: the services and the client (the toolbox is
	// built apart, by make toolbox, and is no part of it).
	for _, name := range append(Services(), Client) {
		s, ok := compose.Services[name]
		if !ok {
			t.Errorf("compose.yaml has no service %s", name)
			continue
		}
		if s.Image != Ref(name, "") {
			t.Errorf("compose.yaml: %s runs %s, want %s", name, s.Image, Ref(name, ""))
		}
	}
}

func TestRef(t *testing.T) {
	if got := Ref("echo", ""); got != "socketlab/echo:latest" {
		t.Errorf("Ref(echo) = %s", got)
	}
	if got := Ref("client", "dev"); got != "socketlab/client:dev" {
		t.Errorf("Ref(client, dev) = %s", got)
	}
}

// TestHelpersList: the helper images are the helpers/*/cmd folders, which
// scripts/images.sh builds.
func TestHelpersList(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(root(t), "helpers", "*", "cmd"))
	var got []string
	for _, d := range dirs {
		got = append(got, filepath.Base(filepath.Dir(d)))
	}
	slices.Sort(got)
	want := Helpers()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("helpers/*/cmd = %v, images.Helpers = %v", got, want)
	}
}
