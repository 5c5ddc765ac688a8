package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"socketlab/internal/labtest"
)

// TestMakeHelpColumns: make help prints every description in one column,
// however long a target's name is (here one of 30 characters, added by a
// makefile of the test's own).
func TestMakeHelpColumns(t *testing.T) {
	labtest.NeedCommand(t, "make", "make")
	extra := filepath.Join(t.TempDir(), "extra.mk")
	os.WriteFile(extra, []byte("a-target-with-a-very-long-name: ## the long one\n"), 0o644)
	out, err := exec.Command("make", "-s", "-C", "..", "-f", "Makefile", "-f", extra, "help").CombinedOutput()
	if err != nil {
		t.Fatalf("make help: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	col := -1
	for _, l := range lines {
		name, rest, _ := strings.Cut(strings.TrimPrefix(l, "  "), " ")
		at := len(l) - len(strings.TrimLeft(rest, " "))
		if name == "" || strings.TrimSpace(rest) == "" {
			t.Fatalf("line %q has no name and description", l)
		}
		if col < 0 {
			col = at
		}
		if at != col {
			t.Errorf("description of %s starts at column %d, the first at %d:\n%s", name, at, col, out)
		}
	}
	if !strings.Contains(string(out), "a-target-with-a-very-long-name  the long one") {
		t.Errorf("the long target is missing or not separated:\n%s", out)
	}
}
