package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"socketlab/internal/labtest"
)

// TestMakeToolboxAsDockerUser: a person in the docker group who is not root
// runs make toolbox in a fresh copy of the tree and gets a working toolbox
// (mmdebstrap in unshare mode, no sudo), with the same files as the one a
// root build made. It creates the user (with subordinate ids, as
// build.sh --subids-command says) and removes the user and the image.
func TestMakeToolboxAsDockerUser(t *testing.T) {
	labtest.Need(t)
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root to create a user (CI runs as root)")
		}
		t.Skip("needs root to create the docker-group user it builds as (run as root, e.g. in CI)")
	}
	for cmd, pkg := range map[string]string{"mmdebstrap": "mmdebstrap", "newuidmap": "uidmap", "useradd": "passwd", "runuser": "util-linux", "make": "make"} {
		labtest.NeedCommand(t, cmd, pkg)
	}
	user := fmt.Sprintf("sltb%d", os.Getpid()%100000)
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("useradd", "-m", "-G", "docker", "-s", "/bin/bash", user)
	t.Cleanup(func() { exec.Command("userdel", "-r", user).Run() })
	// as runs script as the user, in dir, with only env.
	as := func(dir string, env []string, script string) (string, error) {
		cmd := exec.Command("runuser", "-u", user, "--", "env", "-i")
		cmd.Args = append(cmd.Args, env...)
		cmd.Args = append(cmd.Args, "bash", "-c", script)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// The subordinate ids, as the build's hint says (useradd gives them on
	// most systems already; then the hint is empty).
	repo, _ := filepath.Abs("..")
	if ids := strings.TrimSpace(run("runuser", "-u", user, "--", filepath.Join(repo, "images/toolbox/build.sh"), "--subids-command")); ids != "" {
		run("sh", "-c", ids)
	}

	// A fresh copy of the tree (what git would check out), the user's.
	// Not t.TempDir: its parent is private to root, and the user must get in.
	tmp, err := os.MkdirTemp("", "sltb-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	os.Chmod(tmp, 0o755)
	tree := filepath.Join(tmp, "socketlab")
	copyTree := exec.Command("sh", "-c", `mkdir -p "$1" && git ls-files -z --cached --others --exclude-standard |
		xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh | xargs -0 cp -a --parents -t "$1"`, "sh", tree)
	copyTree.Dir = repo
	if out, err := copyTree.CombinedOutput(); err != nil {
		t.Fatalf("copy the tree: %v\n%s", err, out)
	}
	// Go modules for sock, from this machine's cache (no network for the user).
	mods := filepath.Join(tmp, "gomod")
	gomodcache := strings.TrimSpace(run("go", "env", "GOMODCACHE"))
	get := exec.Command("go", "mod", "download", "github.com/spf13/cobra", "github.com/spf13/pflag", "golang.org/x/sys")
	get.Dir = tree
	get.Env = append(os.Environ(), "GOMODCACHE="+mods, "GOPROXY=file://"+gomodcache+"/cache/download", "GOFLAGS=-mod=mod")
	if out, err := get.CombinedOutput(); err != nil {
		t.Fatalf("go mod download: %v\n%s", err, out)
	}
	// The .deb files a root build cached, so that the test does not download them again.
	debs := filepath.Join(tree, "bin/.toolbox/debs")
	os.MkdirAll(debs, 0o755)
	exec.Command("sh", "-c", `cp /var/cache/socketlab/debootstrap/*.deb "$1"/ 2>/dev/null`, "sh", debs).Run()
	run("chown", "-R", user+":", tree, mods)

	prefix := fmt.Sprintf("sltb-%d", os.Getpid())
	goroot := strings.TrimSpace(run("go", "env", "GOROOT"))
	env := []string{"HOME=/home/" + user, "PATH=" + goroot + "/bin:/usr/local/bin:/usr/bin:/bin",
		"GOMODCACHE=" + mods, "GOPROXY=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "IMAGE_PREFIX=" + prefix}
	out, err := as(tree, env, "make toolbox")
	image := prefix + "/toolbox:latest"
	t.Cleanup(func() {
		refs, _ := exec.Command("docker", "images", "-q", "--filter", "reference="+prefix+"/toolbox").Output()
		for _, id := range strings.Fields(string(refs)) {
			exec.Command("docker", "image", "rm", "-f", id).Run()
		}
	})
	if err != nil {
		t.Fatalf("make toolbox as %s (docker group, not root): %v\n%s", user, err, out)
	}
	if !strings.Contains(out, "toolbox: mmdebstrap bookworm minbase") {
		t.Errorf("make toolbox as a user did not build with mmdebstrap:\n%s", out)
	}
	t.Logf("make toolbox as %s:\n%s", user, out)

	// It works as a node runs it: the learner, python3, sock.
	got := run("docker", "run", "--rm", "--read-only", "--cap-drop", "ALL", image, "bash", "-c",
		`echo "$(id -un) $(id -u) $PWD"; python3 -c 'print("py ok")'; sock --help | head -1`)
	for _, want := range []string{"learner 10001 /lab", "py ok", "sock"} {
		if !strings.Contains(got, want) {
			t.Errorf("the user's toolbox: want %q in:\n%s", want, got)
		}
	}

	// The same files as the root build of the same recipe, when there is one.
	other := "socketlab/toolbox:latest"
	label := `{{index .Config.Labels "socketlab.toolbox.base"}}`
	a, errA := exec.Command("docker", "image", "inspect", "-f", label, image).Output()
	b, errB := exec.Command("docker", "image", "inspect", "-f", label, other).Output()
	if errA != nil || errB != nil || strings.TrimSpace(string(a)) != strings.TrimSpace(string(b)) {
		t.Logf("no %s of the same root recipe here: files not compared", other)
		return
	}
	// The files, owners and modes, and the sizes of regular files; not the
	// tools' own bookkeeping (dpkg's and deb-systemd-helper's state, /run),
	// nor sock, built here from the same source.
	list := func(img string) []string {
		out := run("docker", "run", "--rm", "--user", "0", img, "find", "/", "-xdev",
			"(", "-path", "/proc", "-o", "-path", "/sys", "-o", "-path", "/dev", "-o", "-path", "/run",
			"-o", "-path", "/var/lib/dpkg", "-o", "-path", "/var/lib/systemd", "-o", "-path", "/usr/local/bin/sock",
			"-o", "-path", "/etc/hosts", "-o", "-path", "/etc/hostname", "-o", "-path", "/etc/resolv.conf", ")", "-prune",
			"-o", "-type", "f", "-printf", `%p %m %U %G %s\n`, "-o", "-printf", `%p %m %U %G %y\n`)
		pkgs := run("docker", "run", "--rm", img, "dpkg-query", "-W", "-f", `package ${Package} ${Version}\n`)
		return strings.Split(strings.TrimSpace(out+pkgs), "\n")
	}
	mine, theirs := list(image), list(other)
	if d := diffLines(theirs, mine); d != "" {
		t.Errorf("the user's toolbox differs from %s (- root build, + the user's):\n%s", other, d)
	}
}

// diffLines lists the lines only in a (-) and only in b (+), at most 40.
func diffLines(a, b []string) string {
	in := func(s []string) map[string]bool {
		m := map[string]bool{}
		for _, l := range s {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var d []string
	for _, l := range a {
		if !mb[l] {
			d = append(d, "- "+l)
		}
	}
	for _, l := range b {
		if !ma[l] {
			d = append(d, "+ "+l)
		}
	}
	if len(d) > 40 {
		d = append(d[:40], fmt.Sprintf("… and %d more", len(d)-40))
	}
	return strings.Join(d, "\n")
}
