package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"socketlab/labctl/lab"
)

// labctl runs the command in-process and returns its exit status and output.
func labctl(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func write(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const valid = `name: tiny
networks:
  net: {}
nodes:
  welcome:
    image: welcome
    networks: [net]
`

func TestValidate(t *testing.T) {
	good := write(t, "good.yaml", valid)
	bad := write(t, "bad.yaml", `name: tiny
networks:
  net: {}
nodes:
  welcome:
    image: welcom
    networkz: [net]
`)
	outside := write(t, "outside.yaml", `name: tiny
networks:
  net: {}
nodes:
  client: {image: client, networks: [net]}
steps:
  - {node: client, run: echo, target: "8.8.8.8:53", args: [x]}
`)
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		stderr   []string
		noStderr bool
	}{
		{"valid file", []string{"validate", good}, 0, []string{good + ": ok (lab tiny: 1 networks, 1 nodes, 0 steps)"}, nil, true},
		{"every error, located", []string{"validate", bad}, 2, nil, []string{
			bad + `:6:12: nodes.welcome.image: image "welcom" is not known (did you mean "welcome"?)`,
			bad + `:7:5: nodes.welcome: unknown key "networkz" (did you mean "networks"?)`,
			"1 of 1 files invalid",
		}, false},
		{"a sealed step aimed outside: a warning", []string{"validate", outside}, 0, []string{outside + ": ok"}, []string{
			"warning: " + outside + ":7:39: steps[0].target: 8.8.8.8 is outside the lab's networks, and node client is sealed (none of its networks has egress: true): the step cannot succeed",
		}, false},
		{"one bad among good", []string{"validate", good, bad}, 2, []string{good + ": ok"}, []string{"1 of 2 files invalid"}, false},
		{"missing file", []string{"validate", filepath.Join(t.TempDir(), "none.yaml")}, 2, nil, []string{"no such file"}, false},
		{"no file", []string{"validate"}, 2, nil, []string{"requires at least 1 arg"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := labctl(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if tt.noStderr && stderr != "" {
				t.Errorf("stderr: %s", stderr)
			}
		})
	}
}

func TestUpRejectsInvalidScenario(t *testing.T) {
	// Validation comes before Docker: this needs no engine.
	bad := write(t, "bad.yaml", strings.Replace(valid, "[net]", "[nett]", 1))
	code, _, stderr := labctl(t, "up", bad)
	if code != 2 || !strings.Contains(stderr, `network "nett" is not defined (did you mean "net"?)`) {
		t.Errorf("up of an invalid scenario: exit %d, stderr %s", code, stderr)
	}
}

func TestSchema(t *testing.T) {
	code, stdout, _ := labctl(t, "schema")
	var schema map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout), &schema) != nil || schema["$schema"] == nil {
		t.Fatalf("schema: exit %d, not a JSON Schema: %.200s", code, stdout)
	}
	committed, err := os.ReadFile("../scenarios/scenario.schema.json")
	if err == nil && !bytes.Equal(bytes.TrimSpace(committed), bytes.TrimSpace([]byte(stdout))) {
		t.Error("labctl schema differs from scenarios/scenario.schema.json")
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"up"}, "accepts 1 arg(s)"},
		{[]string{"exec", "client"}, "want NODE -- COMMAND"},
		{[]string{"exec", "client", "sock"}, "want NODE -- COMMAND"},
		{[]string{"down"}, "give lab names or files, or --all"},
		{[]string{"down", "--all", "x"}, "give lab names or files, or --all"},
		{[]string{"down", "--images", "--all", "x"}, "give lab names or files, or --all, or --images"},
		{[]string{"status", "-o", "xml"}, `-o "xml": want table or json`},
		{[]string{"status", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"bogus"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := labctl(t, tt.args...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tt.want)
			}
		})
	}
}

func TestHelpTeaches(t *testing.T) {
	for _, cmd := range []string{"up", "down", "status", "logs", "exec", "test", "graph", "validate", "schema"} {
		code, stdout, _ := labctl(t, cmd, "--help")
		if code != 0 || !strings.Contains(stdout, "labctl "+cmd) {
			t.Errorf("%s --help: exit %d\n%s", cmd, code, stdout)
		}
		if cmd != "schema" && !strings.Contains(stdout, "Examples:") {
			t.Errorf("%s --help has no examples", cmd)
		}
	}
}

func TestTableAndHints(t *testing.T) {
	st := &lab.Status{
		Lab: "mine",
		Networks: []lab.NetworkStatus{
			{Name: "front", Stack: "dual", IPv4: "10.200.1.0/24", IPv6: "fd5c:1ab:0:1::/64"},
			{Name: "v6", Stack: "ipv6", IPv4: "10.200.2.0/24", IPv6: "fd5c:1ab:0:2::/64", Note: "IPv4 between its nodes is blocked"},
		},
		Nodes: []lab.NodeStatus{
			{Name: "echo", Image: "socketlab/echo:latest", State: "exited", ExitCode: 137, Health: "unhealthy", Ready: "healthcheck",
				Addresses: []lab.Address{{Network: "front", IPv4: "10.200.1.2", IPv6: "fd5c:1ab:0:1::2", Aliases: []string{"e"}}}},
			{Name: "client", Image: "socketlab/client:latest", State: "running", Health: "none",
				Addresses: []lab.Address{{Network: "front", IPv4: "10.200.1.3", IPv6: "fd5c:1ab:0:1::3"}, {Network: "v6", IPv6: "fd5c:1ab:0:2::3"}}},
		},
	}
	var b bytes.Buffer
	writeTable(&b, st, true)
	writeHints(&b, st, nil)
	out := b.String()
	for _, want := range []string{
		"front    dual   10.200.1.0/24  fd5c:1ab:0:1::/64",
		"v6: IPv4 between its nodes is blocked",
		"echo    socketlab/echo    exited (137)  healthcheck: unhealthy  front (e)  10.200.1.2  fd5c:1ab:0:1::2",
		"client  socketlab/client  running       no readiness check      front      10.200.1.3  fd5c:1ab:0:1::3",
		"                                                                v6         -           fd5c:1ab:0:2::3",
		"labctl exec --lab mine client -- sock echo -6 echo hello",
		"labctl down mine",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestDownAllIsYours: --all takes only the labs the caller created; other
// users' labs on a shared engine need --everyone.
func TestDownAllIsYours(t *testing.T) {
	labs := []lab.Summary{{Name: "mine", Creator: "ada@box"}, {Name: "theirs", Creator: "bob@box"}, {Name: "old"}}
	if names, others := pickLabs(labs, "ada@box", false); !slices.Equal(names, []string{"mine"}) || len(others) != 0 {
		t.Errorf("--all: %v, others %v; want only mine", names, others)
	}
	names, others := pickLabs(labs, "ada@box", true)
	if !slices.Equal(names, []string{"mine", "theirs", "old"}) || !slices.Equal(others, []string{"theirs (bob@box)", "old (creator unknown)"}) {
		t.Errorf("--all --everyone: %v, others %v", names, others)
	}
	if code := run(context.Background(), []string{"down", "--everyone", "x"}, nil, io.Discard, io.Discard); code != 2 {
		t.Errorf("down --everyone without --all exits %d, want 2", code)
	}
}
