package main

import (
	"encoding/json"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestVersion: labctl version and --version say which labctl this is and
// the Go it was built with; with no engine answering they still succeed
// and say why there is none; -o json carries the same.
func TestVersion(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "none.sock"))
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, errb := labctl(t, args...)
		if code != 0 {
			t.Fatalf("labctl %s: exit %d: %s", args[0], code, errb)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "labctl  ") ||
			lines[1] != "go      "+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH ||
			!strings.HasPrefix(lines[2], "engine  none answered: ") || !strings.Contains(lines[2], "none.sock") {
			t.Errorf("labctl %s printed:\n%s", args[0], out)
		}
	}
	code, out, errb := labctl(t, "version", "-o", "json")
	var rep versionReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("labctl version -o json: exit %d: %s%s", code, out, errb)
	}
	if rep.Version == "" || rep.GoVersion != runtime.Version() || rep.Engine != nil || !strings.Contains(rep.EngineError, "none.sock") {
		t.Errorf("labctl version -o json: %+v", rep)
	}
	if code, _, errb := labctl(t, "version", "-o", "yaml"); code != 2 || !strings.Contains(errb, `-o "yaml": want text or json`) {
		t.Errorf("labctl version -o yaml: exit %d: %s", code, errb)
	}
}

// TestEngineText names engines as the README's Engines table does.
func TestEngineText(t *testing.T) {
	for _, c := range []struct {
		e    versionEngine
		want string
	}{
		{versionEngine{Product: "Docker", Version: "20.10.24", APIVersion: "1.41", ImageStore: "overlay2"}, "Docker 20.10.24 (API 1.41, images: overlay2)"},
		{versionEngine{Product: "Podman", Version: "4.3.1", APIVersion: "1.41", Rootless: true, ImageStore: "containers/storage, overlay"}, "Podman 4.3.1, rootless (API 1.41, images: containers/storage, overlay)"},
	} {
		if got := engineText(c.e); got != c.want {
			t.Errorf("engineText(%+v) = %q, want %q", c.e, got, c.want)
		}
	}
}
