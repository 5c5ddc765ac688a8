package labtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A Podman is rootless Podman of the rig's own, as a student on a shared
// server has it: an unprivileged user (made here, with subordinate user
// and group IDs) running `podman system service`, which serves the Docker
// API on a socket of the user's. Its networks live in the user's own
// network namespace, its containers in the user's user namespace: out of
// the host's reach and of every other user's.
type Podman struct {
	// User is the rig's user, slrig-podman or slrig-podmanN.
	User string
	// Endpoint is the service's socket, unix:///tmp/slrig-.../podman.sock.
	Endpoint string
	// Dir holds the runtime directory, the socket and the log.
	Dir string

	uid, gid int
	home     string
	pid      int
	lock     *os.File
}

// podmanConf makes Podman work with no systemd (cgroupfs) and with the
// network backend Debian ships for it, and ends exec sessions' processes
// soon after they are done.
const podmanConf = `[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
# An exec session's conmon waits this long before cleaning up (default
# 300 s, as Docker keeps exec sessions to inspect): a test run execs
# hundreds of times.
exit_command_delay = 10

[network]
network_backend = "netavark"
`

// StartPodman makes the rig user n (0: slrig-podman, else slrig-podmanN)
// if it is not there, starts its Podman service and waits until the
// socket answers. It needs root; the service runs as the user.
func StartPodman(ctx context.Context, n int) (*Podman, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("podman rig: needs root (to make its user)")
	}
	if _, err := exec.LookPath("podman"); err != nil {
		return nil, fmt.Errorf("podman rig: %w: apt-get install -y podman uidmap slirp4netns netavark aardvark-dns catatonit", err)
	}
	name := "slrig-podman"
	if n > 0 {
		name += strconv.Itoa(n)
	}
	p := &Podman{User: name, Dir: filepath.Join(rigRoot, name)}
	lock, err := os.OpenFile(filepath.Join(runRoot, name+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("podman rig %s: lock: %w", name, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		lock.Close()
		return nil, fmt.Errorf("podman rig %s: lock: %w", name, err)
	}
	p.lock = lock
	if err := p.makeUser(ctx, n); err != nil {
		p.Stop()
		return nil, err
	}
	p.sweep()
	if err := p.start(ctx); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// makeUser makes the rig's user with 65536 subordinate IDs of its own
// (from 300000, a range per rig user), and its containers.conf.
func (p *Podman) makeUser(ctx context.Context, n int) error {
	if _, err := user.Lookup(p.User); err != nil {
		if out, err := exec.CommandContext(ctx, "useradd", "--create-home", "--shell", "/bin/sh", p.User).CombinedOutput(); err != nil {
			return fmt.Errorf("podman rig: useradd %s: %v: %s", p.User, err, bytes.TrimSpace(out))
		}
	}
	u, err := user.Lookup(p.User)
	if err != nil {
		return fmt.Errorf("podman rig: %w", err)
	}
	p.uid, _ = strconv.Atoi(u.Uid)
	p.gid, _ = strconv.Atoi(u.Gid)
	p.home = u.HomeDir
	sub, _ := os.ReadFile("/etc/subuid")
	if !bytes.Contains(sub, []byte("\n"+p.User+":")) && !bytes.HasPrefix(sub, []byte(p.User+":")) {
		first := 300000 + n*65536
		ids := fmt.Sprintf("%d-%d", first, first+65535)
		if out, err := exec.CommandContext(ctx, "usermod", "--add-subuids", ids, "--add-subgids", ids, p.User).CombinedOutput(); err != nil {
			return fmt.Errorf("podman rig: usermod --add-subuids %s %s: %v: %s", ids, p.User, err, bytes.TrimSpace(out))
		}
	}
	conf := filepath.Join(p.home, ".config", "containers")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		return fmt.Errorf("podman rig: %w", err)
	}
	if err := os.WriteFile(filepath.Join(conf, "containers.conf"), []byte(podmanConf), 0o644); err != nil {
		return fmt.Errorf("podman rig: %w", err)
	}
	// Native overlay (a user may mount it since Linux 5.13): vfs, what
	// Podman picks otherwise, copies every layer of every container.
	if err := os.WriteFile(filepath.Join(conf, "storage.conf"), []byte("[storage]\ndriver = \"overlay\"\n"), 0o644); err != nil {
		return fmt.Errorf("podman rig: %w", err)
	}
	if err := chownTree(filepath.Join(p.home, ".config"), p.uid, p.gid); err != nil {
		return fmt.Errorf("podman rig: %w", err)
	}
	// A store an earlier rig made with vfs would not open with overlay.
	if _, err := os.Stat(filepath.Join(p.home, ".local/share/containers/storage/vfs")); err == nil {
		os.RemoveAll(filepath.Join(p.home, ".local/share/containers"))
	}
	return nil
}

func chownTree(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}

// IDs are the rig user's user and group IDs.
func (p *Podman) IDs() (uid, gid int) { return p.uid, p.gid }

// Env is the environment the rig user's programs run with (HOME,
// XDG_RUNTIME_DIR, PATH).
func (p *Podman) Env() []string { return p.env() }

// env is the environment the user's podman runs with.
func (p *Podman) env() []string {
	return []string{"HOME=" + p.home, "USER=" + p.User, "LOGNAME=" + p.User, "XDG_RUNTIME_DIR=" + filepath.Join(p.Dir, "run"),
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
}

// command runs podman as the rig's user.
func (p *Podman) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "podman", args...)
	cmd.Env = p.env()
	cmd.Dir = p.home
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(p.uid), Gid: uint32(p.gid)}, Setpgid: true}
	return cmd
}

// Podman runs podman as the rig's user and returns its output.
func (p *Podman) Podman(ctx context.Context, args ...string) (string, error) {
	var out, errb bytes.Buffer
	cmd := p.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("podman %s (as %s): %v: %s", strings.Join(args, " "), p.User, err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

func (p *Podman) start(ctx context.Context) error {
	run := filepath.Join(p.Dir, "run")
	if err := os.MkdirAll(run, 0o700); err != nil {
		return fmt.Errorf("podman rig: %w", err)
	}
	if err := chownTree(p.Dir, p.uid, p.gid); err != nil {
		return fmt.Errorf("podman rig: %w", err)
	}
	sock := filepath.Join(run, "podman.sock")
	p.Endpoint = "unix://" + sock
	logf, err := os.Create(p.Log())
	if err != nil {
		return fmt.Errorf("podman rig: %w", err)
	}
	defer logf.Close()
	cmd := p.command(context.Background(), "system", "service", "--time=0", p.Endpoint)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("podman rig %s: start the service: %w", p.User, err)
	}
	p.pid = cmd.Process.Pid
	go cmd.Wait()
	deadline := time.Now().Add(60 * time.Second)
	for exec.CommandContext(ctx, "docker", "-H", p.Endpoint, "version").Run() != nil {
		if syscall.Kill(p.pid, 0) != nil || time.Now().After(deadline) || ctx.Err() != nil {
			log, _ := os.ReadFile(p.Log())
			return fmt.Errorf("podman rig %s: the service did not answer on %s; its log ends:\n%s", p.User, p.Endpoint, tail(string(log), 15))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// Log is the service's log file.
func (p *Podman) Log() string { return filepath.Join(p.Dir, "podman.log") }

// Load copies images (references) from the environment's engine into the
// user's store: docker save | podman load.
func (p *Podman) Load(ctx context.Context, refs ...string) error {
	if len(refs) == 0 {
		return nil
	}
	save := exec.CommandContext(ctx, "docker", append([]string{"save"}, refs...)...)
	load := p.command(ctx, "load", "-q")
	pipe, err := save.StdoutPipe()
	if err != nil {
		return err
	}
	load.Stdin = pipe
	var errb bytes.Buffer
	save.Stderr, load.Stderr = &errb, &errb
	if err := save.Start(); err != nil {
		return fmt.Errorf("docker save: %w", err)
	}
	lerr := load.Run()
	serr := save.Wait()
	if lerr != nil || serr != nil {
		return fmt.Errorf("docker save | podman load (as %s): %v: %s", p.User, errors.Join(serr, lerr), strings.TrimSpace(errb.String()))
	}
	return nil
}

// Stop stops the service and every process of the rig's user (conmon,
// slirp4netns, aardvark-dns, containers), removes its containers, pods and
// networks, and its runtime directory. The user and its image store stay,
// so that the next start need not make them again.
func (p *Podman) Stop() {
	if p.pid > 0 {
		syscall.Kill(-p.pid, syscall.SIGTERM)
		for i := 0; i < 100 && syscall.Kill(p.pid, 0) == nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		syscall.Kill(-p.pid, syscall.SIGKILL)
		p.pid = 0
	}
	if p.uid > 0 {
		p.sweep()
	}
	if p.lock != nil {
		syscall.Flock(int(p.lock.Fd()), syscall.LOCK_UN)
		p.lock.Close()
		p.lock = nil
	}
}

// sweep removes what the user's Podman holds and ends its processes.
func (p *Podman) sweep() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p.Podman(ctx, "rm", "--all", "--force", "--time", "0")
	p.Podman(ctx, "network", "prune", "--force")
	for _, pid := range userPids(p.uid) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	exec.Command("sh", "-c", "grep -o ' "+p.Dir+"/[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l").Run()
	os.RemoveAll(p.Dir)
	// Podman's run root and temporary directory of a user outside a
	// login session: they name the pause process, now killed, and Podman
	// would not start again with them ("invalid internal status").
	uid := strconv.Itoa(p.uid)
	os.RemoveAll("/tmp/containers-user-" + uid)
	os.RemoveAll("/tmp/podman-run-" + uid)
}

// userPids are the processes that run as uid (by their real user ID).
func userPids(uid int) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, d := range dirs {
		st, err := os.ReadFile(filepath.Join(d, "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(st), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" && f[1] == strconv.Itoa(uid) {
				pid, _ := strconv.Atoi(filepath.Base(d))
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// Describe names the engine at the service's endpoint.
func (p *Podman) Describe(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "docker", "-H", p.Endpoint, "version", "--format",
		"{{range .Server.Components}}{{if eq .Name \"Podman Engine\"}}{{.Version}}{{end}}{{end}} (API {{.Server.APIVersion}}").Output()
	if err != nil {
		return "unknown engine: " + err.Error()
	}
	store, _ := p.Podman(ctx, "info", "--format", "{{.Store.GraphDriverName}}")
	return "Podman " + strings.TrimSpace(string(out)) + ", rootless, containers/storage " + store + ")"
}
