package layers_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestLayers: no package under services/ or helpers/ imports labctl, even
// through another package or only in its tests (go list -deps -test).
func TestLayers(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	for _, tree := range []string{"./services/...", "./helpers/..."} {
		t.Run(tree, func(t *testing.T) {
			cmd := exec.Command("go", "list", "-deps", "-test", "-f", `{{.ImportPath}} {{join .Imports " "}}`, tree)
			cmd.Dir = root
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list %s: %v", tree, err)
			}
			packages := 0
			for line := range strings.Lines(string(out)) {
				fields := strings.Fields(line)
				if len(fields) == 0 || !strings.HasPrefix(fields[0], "socketlab/") {
					continue
				}
				packages++
				if i := slices.IndexFunc(fields[1:], isLabctl); i >= 0 && !isLabctl(fields[0]) {
					t.Errorf("%s imports %s: what it needs of labctl belongs under internal/", fields[0], fields[1+i])
				}
			}
			if packages == 0 {
				t.Fatalf("go list %s listed no socketlab packages", tree)
			}
		})
	}
}

func isLabctl(path string) bool {
	return path == "socketlab/labctl" || strings.HasPrefix(path, "socketlab/labctl/")
}
