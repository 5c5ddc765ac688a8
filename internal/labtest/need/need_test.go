package need_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"socketlab/internal/labtest/need"
)

// TestMissing: a missing need skips a test outside CI and fails it in CI,
// seen from outside as go test reports it.
func TestMissing(t *testing.T) {
	if os.Getenv("NEED_CHILD") == "1" {
		need.Missing(t, "needs a unicorn")
		return
	}
	for _, tc := range []struct {
		name, ci, want string
		fails          bool
	}{
		{"outside CI it skips", "", "--- SKIP: TestMissing", false},
		{"in CI it fails", "true", "--- FAIL: TestMissing", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run", "^TestMissing$", "-test.v")
			cmd.Env = append(os.Environ(), "NEED_CHILD=1", "CI="+tc.ci)
			out, err := cmd.CombinedOutput()
			if (err != nil) != tc.fails || !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "needs a unicorn") {
				t.Errorf("CI=%q: err %v, output:\n%s\nwant %q and the reason", tc.ci, err, out, tc.want)
			}
		})
	}
}
