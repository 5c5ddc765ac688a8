package labtest

import (
	"os/exec"
	"testing"
)

// NeedCommand returns the path of the program name (graphviz's dot,
// chromium) for a test that runs it. When it is not installed the test
// fails in CI (CI=true), which installs it, and skips elsewhere, saying
// which Debian package brings it.
func NeedCommand(t testing.TB, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if inCI() {
		t.Fatalf("%s is not installed (apt-get install -y %s); CI=true, so the test does not skip", name, debianPackage)
	}
	t.Skipf("%s is not installed: apt-get install -y %s (CI=true would fail instead)", name, debianPackage)
	return ""
}
