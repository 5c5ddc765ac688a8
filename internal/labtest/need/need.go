// Package need holds the guards of tests that need something of the
// machine: root, a command. A test whose need is missing fails when CI=true
// (CI must run every test, so a missing need there is a broken set-up) and
// skips elsewhere, saying what is missing and how to get it. It imports
// nothing of socketlab, so tests at every layer, helpers and services
// included, can use it without reaching into labctl.
package need

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// CI reports whether the tests run in CI (CI=true), where nothing a test
// needs may be missing.
func CI() bool { return os.Getenv("CI") == "true" }

// Missing ends the test because something it needs is missing: why says
// what and how to get it. With CI=true the test fails; elsewhere it skips.
func Missing(t testing.TB, why string) {
	t.Helper()
	if CI() {
		t.Fatalf("%s (CI=true, so this test does not skip)", why)
	}
	t.Skip(why + "; CI=true would fail instead")
}

// Root ends the test (Missing) unless it runs as root; why says what the
// test does that needs root.
func Root(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "needs root to "+why+": run as root, e.g. sudo go test")
	}
}

// Command ends the test (Missing) unless name is on the PATH; pkg is the
// Debian package that installs it.
func Command(t testing.TB, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		Missing(t, "needs the "+name+" command: apt-get install "+pkg)
	}
}

// DockerImages ends the test (Missing) unless the docker command reaches an
// engine that has every image of refs (socketlab/echo:latest). It asks the
// docker CLI, not labctl, so that the helpers' own tests can use it.
func DockerImages(t testing.TB, refs ...string) {
	t.Helper()
	if out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		Missing(t, fmt.Sprintf("no Docker engine: %v: %s", err, strings.TrimSpace(string(out))))
	}
	for _, ref := range refs {
		if exec.Command("docker", "image", "inspect", ref).Run() != nil {
			Missing(t, ref+" is not built: run make images")
		}
	}
}
