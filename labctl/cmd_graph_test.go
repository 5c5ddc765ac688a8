package main

import (
	"os"
	"strings"
	"testing"
)

// labctl graph of a file needs no engine: the default lab's Mermaid text is
// the golden file the graph package keeps; bad input exits 2 and says why.
func TestGraphFile(t *testing.T) {
	golden, err := os.ReadFile("graph/testdata/default.mermaid")
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := labctl(t, "graph", "../scenarios/default.yaml")
	if code != 0 || stdout != string(golden) {
		t.Errorf("graph of the default lab: exit %d, stderr %s\nstdout:\n%s", code, stderr, stdout)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil || !strings.Contains(string(readme), "```mermaid\n"+string(golden)+"```\n") {
		t.Errorf("README.md does not show the default lab's graph as labctl graph draws it (%v); paste labctl graph scenarios/default.yaml into its mermaid block", err)
	}
	code, stdout, _ = labctl(t, "graph", "-o", "svg", "../scenarios/default.yaml")
	if code != 0 || !strings.HasPrefix(stdout, "<svg") || !strings.Contains(stdout, "front") {
		t.Errorf("graph -o svg: exit %d: %.200s", code, stdout)
	}

	bad := write(t, "bad.yaml", strings.Replace(valid, "[net]", "[nett]", 1))
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"invalid file", []string{"graph", bad}, []string{bad + " is not a valid scenario", `network "nett" is not defined (did you mean "net"?)`}},
		{"missing file", []string{"graph", "nosuch.yaml"}, []string{"nosuch.yaml: no such file", "give a scenario file, or the name of a lab"}},
		{"unknown format", []string{"graph", "-o", "png", "../scenarios/default.yaml"}, []string{`-o "png": want one of mermaid, dot, svg, json`}},
		{"two arguments", []string{"graph", "a", "b"}, []string{"accepts at most 1 arg(s)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := labctl(t, tt.args...)
			if code != 2 || stdout != "" {
				t.Errorf("exit %d, want 2 and nothing on stdout; stdout: %.200s", code, stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}
