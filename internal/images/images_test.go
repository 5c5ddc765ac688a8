package images_test

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"socketlab/internal/images"
	"socketlab/services/chat"
	"socketlab/services/echo"
	"socketlab/services/lookup"
	"socketlab/services/responder"
	"socketlab/services/web"
	"socketlab/services/welcome"
)

// root is the repository's top folder.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(), name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// folders are the NAMEs of the folders that match top/*/cmd.
func folders(top string) []string {
	dirs, _ := filepath.Glob(filepath.Join(root(), top, "*", "cmd"))
	var out []string
	for _, d := range dirs {
		out = append(out, filepath.Base(filepath.Dir(d)))
	}
	return out
}

// bashList is the words of the first match of re's group 1 in a script.
func bashList(t *testing.T, script string, re *regexp.Regexp) []string {
	t.Helper()
	m := re.FindStringSubmatch(read(t, script))
	if m == nil {
		t.Fatalf("%s: nothing matches %s", script, re)
	}
	return strings.Fields(m[1])
}

// bashMap is the entries of the associative array `declare -A name=(...)`
// in a script: [key]="value" per line.
func bashMap(t *testing.T, script, name string) map[string]string {
	t.Helper()
	re := regexp.MustCompile(`(?s)declare -A ` + name + `=\((.*?)\n\)`)
	m := re.FindStringSubmatch(read(t, script))
	if m == nil {
		t.Fatalf("%s: nothing matches %s", script, re)
	}
	out := map[string]string{}
	for _, e := range regexp.MustCompile(`\[(\w+)\]="([^"]*)"`).FindAllStringSubmatch(m[1], -1) {
		out[e[1]] = e[2]
	}
	return out
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

func exposed(name string) []string {
	s, _ := images.LookupService(name)
	var out []string
	for _, p := range s.Exposed() {
		out = append(out, p.String())
	}
	return sorted(out)
}

// TestOneList: everything that names the services, their ports or their
// clients and cannot import the catalog agrees with it: the server folders
// and Dockerfiles, the build and check scripts, compose.yaml.
func TestOneList(t *testing.T) {
	want := images.Services()
	lists := []struct {
		where string
		names func(t *testing.T) []string
	}{
		{"services/*/cmd", func(*testing.T) []string { return folders("services") }},
		{"scripts/images.sh services=(...)", func(t *testing.T) []string {
			return bashList(t, "scripts/images.sh", regexp.MustCompile(`(?m)^services=\(([^)]*)\)`))
		}},
		{"scripts/compose-check.sh services=(...)", func(t *testing.T) []string {
			return bashList(t, "scripts/compose-check.sh", regexp.MustCompile(`(?m)^services=\(([^)]*)\)`))
		}},
		{"scripts/images-check.sh: the images it checks by default", func(t *testing.T) []string {
			return bashList(t, "scripts/images-check.sh", regexp.MustCompile(`(?m)^\s*for s in ([a-z ]+); do`))
		}},
		{"scripts/images-check.sh expose=(...)", func(t *testing.T) []string {
			return slices.Collect(maps.Keys(bashMap(t, "scripts/images-check.sh", "expose")))
		}},
		{"scripts/probes.sh probes=(...)", func(t *testing.T) []string {
			return slices.Collect(maps.Keys(bashMap(t, "scripts/probes.sh", "probes")))
		}},
	}
	for _, l := range lists {
		t.Run(l.where, func(t *testing.T) {
			if got := l.names(t); !slices.Equal(sorted(got), sorted(want)) {
				t.Errorf("%s lists %v, images.Services = %v", l.where, got, want)
			}
		})
	}

	t.Run("scripts/images-check.sh: each image's EXPOSE", func(t *testing.T) {
		for name, ports := range bashMap(t, "scripts/images-check.sh", "expose") {
			if got := sorted(strings.Fields(swapProto(ports))); !slices.Equal(got, exposed(name)) {
				t.Errorf("expose[%s] = %q, the catalog's ports are %v", name, ports, exposed(name))
			}
		}
	})
	t.Run("services/*/Dockerfile EXPOSE", func(t *testing.T) {
		for _, name := range want {
			m := regexp.MustCompile(`(?m)^EXPOSE (.*)$`).FindStringSubmatch(read(t, "services/"+name+"/Dockerfile"))
			if m == nil {
				t.Errorf("services/%s/Dockerfile has no EXPOSE", name)
				continue
			}
			if got := sorted(strings.Fields(swapProto(m[1]))); !slices.Equal(got, exposed(name)) {
				t.Errorf("services/%s/Dockerfile: EXPOSE %s, the catalog's ports are %v", name, m[1], exposed(name))
			}
		}
	})
	t.Run("scripts/probes.sh: each service's client", func(t *testing.T) {
		for name, probes := range bashMap(t, "scripts/probes.sh", "probes") {
			s, _ := images.LookupService(name)
			for _, p := range strings.Split(probes, ";") {
				if client, _, _ := strings.Cut(p, " "); client != s.Client {
					t.Errorf("probes[%s] runs sock %s, the catalog's client is %s", name, client, s.Client)
				}
			}
		}
	})
	t.Run("compose.yaml", func(t *testing.T) {
		var compose struct {
			Services map[string]struct {
				Image string   `yaml:"image"`
				Ports []string `yaml:"ports"`
			} `yaml:"services"`
		}
		if err := yaml.Unmarshal([]byte(read(t, "compose.yaml")), &compose); err != nil {
			t.Fatal(err)
		}
		// The default lab's nodes: the services and the client (the toolbox is
		// built apart, by make toolbox, and is no part of it).
		for _, name := range append(images.Services(), images.Client) {
			s, ok := compose.Services[name]
			if !ok {
				t.Errorf("compose.yaml has no service %s", name)
				continue
			}
			if s.Image != images.Ref(name, "") {
				t.Errorf("compose.yaml: %s runs %s, want %s", name, s.Image, images.Ref(name, ""))
			}
			for _, p := range s.Ports {
				inside := p[strings.LastIndex(p, ":")+1:]
				if !strings.Contains(inside, "/") {
					inside = "tcp/" + inside
				} else {
					inside = swapProto(inside)
				}
				if !slices.Contains(exposed(name), inside) {
					t.Errorf("compose.yaml: %s publishes %s, which is none of the catalog's ports %v", name, p, exposed(name))
				}
			}
		}
	})
}

// swapProto turns Docker's "9999/udp" into the catalog's "udp/9999", word by word.
func swapProto(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		if n, proto, ok := strings.Cut(w, "/"); ok {
			words[i] = proto + "/" + n
		}
	}
	return strings.Join(words, " ")
}

// TestServices: the ports each server listens on by default (its own
// Port constants) and the name of its sock sub-command are the catalog's.
func TestServices(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ports  []int
		client *cobra.Command
	}{
		{"welcome", []int{welcome.Port}, welcome.ClientCommand()},
		{"echo", []int{echo.Port}, echo.ClientCommand()},
		{"chat", []int{chat.Port, chat.LinePort}, chat.ClientCommand()},
		{"responder", []int{responder.Port}, responder.ClientCommand()},
		{"lookup", []int{lookup.Port}, lookup.ClientCommand()},
		{"web", []int{web.Port}, web.ClientCommand()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ok := images.LookupService(tc.name)
			if !ok {
				t.Fatalf("the catalog has no service %s", tc.name)
			}
			var got []int
			for _, p := range s.Exposed() {
				if !slices.Contains(got, p.Number) {
					got = append(got, p.Number)
				}
			}
			if !slices.Equal(got, tc.ports) {
				t.Errorf("catalog ports %v, the server's constants %v", s.Exposed(), tc.ports)
			}
			if got := tc.client.Name(); got != s.Client {
				t.Errorf("the catalog's client is %q, the sock sub-command is %q", s.Client, got)
			}
		})
	}
	if n := len(images.Services()); n != 6 {
		t.Errorf("the catalog has %d services; add the new one's Port constant to this test", n)
	}
}

func TestRef(t *testing.T) {
	for _, tc := range []struct{ name, tag, want string }{
		{"echo", "", "socketlab/echo:latest"},
		{"client", "dev", "socketlab/client:dev"},
	} {
		if got := images.Ref(tc.name, tc.tag); got != tc.want {
			t.Errorf("Ref(%q, %q) = %s, want %s", tc.name, tc.tag, got, tc.want)
		}
	}
}

func TestShortName(t *testing.T) {
	for _, tc := range []struct {
		ref, want string
		ok        bool
	}{
		{"socketlab/echo:latest", "echo", true},
		{"socketlab/toolbox:dev", "toolbox", true},
		{"alpine:3", "", false},
	} {
		if got, ok := images.ShortName(tc.ref); got != tc.want || ok != tc.ok {
			t.Errorf("ShortName(%q) = %q, %v; want %q, %v", tc.ref, got, ok, tc.want, tc.ok)
		}
	}
}

// TestHelpersList: the helper images are the helpers/*/cmd folders, which
// scripts/images.sh builds, and each runs with some capability.
func TestHelpersList(t *testing.T) {
	if got, want := sorted(folders("helpers")), sorted(images.Helpers()); !slices.Equal(got, want) {
		t.Errorf("helpers/*/cmd = %v, images.Helpers = %v", got, want)
	}
	for _, h := range images.Helpers() {
		if len(images.Caps(h)) == 0 {
			t.Errorf("helper %s has no capabilities in the catalog", h)
		}
	}
	if c := images.Caps("echo"); c != nil {
		t.Errorf("Caps(echo) = %v, want nil: echo is no helper", c)
	}
}
