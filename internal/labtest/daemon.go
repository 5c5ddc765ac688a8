package labtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A Daemon is a Docker engine of the rig's own on this machine: a dockerd
// in a network namespace of its own (its bridges, its nftables, its
// containers' addresses are out of the host's sight), with its own data
// root, exec root, socket, pidfile and cgroup parent, all named after it.
// The engine a person uses is never touched: images reach a Daemon by
// docker save | docker load.
type Daemon struct {
	// Name names the namespace, the cgroup parent and the directory: slrig-...
	Name string
	// Endpoint is the daemon's socket, unix:///tmp/slrig-.../docker.sock.
	Endpoint string
	// Dir holds its data, socket, pidfile and log.
	Dir string

	pid  int
	lock *os.File
}

// DaemonConfig says which dockerd a Daemon runs and how.
type DaemonConfig struct {
	// Name must start with "slrig-" and fit an interface name (15 bytes).
	Name string
	// Bin is a directory whose dockerd, docker-proxy and runc come before
	// the PATH's; "" runs the PATH's (the machine's Docker).
	Bin string
	// StorageDriver is dockerd's --storage-driver; "" leaves its default.
	StorageDriver string
	// Bip is the default bridge's address (--bip); "" leaves its default.
	Bip string
	// Args are further dockerd flags.
	Args []string
}

// rigRoot is where the daemons' directories are, and runRoot their locks.
const (
	rigRoot = "/tmp"
	runRoot = "/run"
)

// StartDaemon starts a dockerd as cfg says, in a new network namespace
// (loopback up, nothing else), and waits until it answers. A daemon of the
// same name left by a killed process is swept first; one that a live
// process runs makes StartDaemon wait for it (a lock file). It needs root.
func StartDaemon(ctx context.Context, cfg DaemonConfig) (*Daemon, error) {
	if !strings.HasPrefix(cfg.Name, "slrig-") || len(cfg.Name) > 15 {
		return nil, fmt.Errorf("rig daemon %q: the name must start with slrig- and be at most 15 bytes", cfg.Name)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("rig daemon: needs root (a network namespace, a dockerd)")
	}
	dockerd := "dockerd"
	if cfg.Bin != "" {
		dockerd = filepath.Join(cfg.Bin, "dockerd")
	}
	if _, err := exec.LookPath(dockerd); err != nil {
		return nil, fmt.Errorf("rig daemon %s: %w", cfg.Name, err)
	}
	lock, err := os.OpenFile(filepath.Join(runRoot, cfg.Name+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("rig daemon %s: lock: %w", cfg.Name, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		lock.Close()
		return nil, fmt.Errorf("rig daemon %s: lock: %w", cfg.Name, err)
	}
	d := &Daemon{Name: cfg.Name, Dir: filepath.Join(rigRoot, cfg.Name), lock: lock}
	sweepDaemon(d.Name, d.Dir)
	if err := d.start(ctx, cfg, dockerd); err != nil {
		d.Stop()
		return nil, err
	}
	return d, nil
}

func (d *Daemon) start(ctx context.Context, cfg DaemonConfig, dockerd string) error {
	if err := os.MkdirAll(d.Dir, 0o700); err != nil {
		return fmt.Errorf("rig daemon %s: %w", d.Name, err)
	}
	if out, err := exec.CommandContext(ctx, "ip", "netns", "add", d.Name).CombinedOutput(); err != nil {
		return fmt.Errorf("rig daemon %s: ip netns add: %v: %s", d.Name, err, bytes.TrimSpace(out))
	}
	if out, err := exec.CommandContext(ctx, "ip", "-n", d.Name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("rig daemon %s: loopback up: %v: %s", d.Name, err, bytes.TrimSpace(out))
	}
	cfgFile := filepath.Join(d.Dir, "empty.json")
	if err := os.WriteFile(cfgFile, []byte("{}\n"), 0o600); err != nil {
		return fmt.Errorf("rig daemon %s: %w", d.Name, err)
	}
	sock := filepath.Join(d.Dir, "docker.sock")
	d.Endpoint = "unix://" + sock
	logf, err := os.Create(d.Log())
	if err != nil {
		return fmt.Errorf("rig daemon %s: %w", d.Name, err)
	}
	defer logf.Close()
	args := []string{"--net=" + d.NetnsPath(), dockerd,
		"--config-file", cfgFile, "--data-root", filepath.Join(d.Dir, "data"), "--exec-root", filepath.Join(d.Dir, "exec"),
		"--pidfile", filepath.Join(d.Dir, "docker.pid"), "-H", d.Endpoint, "--cgroup-parent", d.Name}
	if cfg.StorageDriver != "" {
		args = append(args, "--storage-driver", cfg.StorageDriver)
	}
	if cfg.Bip != "" {
		args = append(args, "--bip", cfg.Bip)
	}
	// nsenter, not ip netns exec: that one remounts /sys and hides the
	// cgroup mounts ("Devices cgroup isn't mounted").
	cmd := exec.Command("nsenter", append(args, cfg.Args...)...)
	cmd.Env = os.Environ()
	if cfg.Bin != "" { // its runc, containerd and docker-proxy first
		cmd.Env = append(cmd.Env, "PATH="+cfg.Bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a ^C to the test is not the daemon's
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("rig daemon %s: start dockerd: %w", d.Name, err)
	}
	d.pid = cmd.Process.Pid // nsenter execs dockerd: the same process
	go cmd.Wait()
	deadline := time.Now().Add(60 * time.Second)
	for exec.CommandContext(ctx, "docker", "-H", d.Endpoint, "version").Run() != nil {
		if syscall.Kill(d.pid, 0) != nil || time.Now().After(deadline) || ctx.Err() != nil {
			log, _ := os.ReadFile(d.Log())
			return fmt.Errorf("rig daemon %s: dockerd did not answer on %s; its log ends:\n%s", d.Name, d.Endpoint, tail(string(log), 15))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// NetnsPath is the daemon's network namespace, for nsenter --net.
func (d *Daemon) NetnsPath() string { return "/var/run/netns/" + d.Name }

// Log is the daemon's log file.
func (d *Daemon) Log() string { return filepath.Join(d.Dir, "dockerd.log") }

// Docker runs the docker client against the daemon and returns its
// standard output, or an error with its standard error.
func (d *Daemon) Docker(ctx context.Context, args ...string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", append([]string{"-H", d.Endpoint}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("docker -H %s %s: %v: %s", d.Endpoint, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// Load copies images (references) from the engine at from ("" for the
// environment's) into the daemon: docker save | docker load.
func (d *Daemon) Load(ctx context.Context, from string, refs ...string) error {
	if len(refs) == 0 {
		return nil
	}
	saveArgs := append([]string{"save"}, refs...)
	if from != "" {
		saveArgs = append([]string{"-H", from}, saveArgs...)
	}
	save := exec.CommandContext(ctx, "docker", saveArgs...)
	load := exec.CommandContext(ctx, "docker", "-H", d.Endpoint, "load", "-q")
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
		return fmt.Errorf("docker save %s | docker -H %s load: %v: %s", strings.Join(refs, " "), d.Endpoint, errors.Join(serr, lerr), strings.TrimSpace(errb.String()))
	}
	return nil
}

// Stop stops the daemon (SIGTERM, then SIGKILL after 15 s) and removes
// what it had: whatever still runs in its namespace, the namespace, its
// mounts and its directory. It is safe to call on a half-started daemon.
func (d *Daemon) Stop() {
	if d.pid > 0 {
		syscall.Kill(d.pid, syscall.SIGTERM)
		for i := 0; i < 150 && syscall.Kill(d.pid, 0) == nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		syscall.Kill(d.pid, syscall.SIGKILL)
		d.pid = 0
	}
	sweepDaemon(d.Name, d.Dir)
	if d.lock != nil {
		syscall.Flock(int(d.lock.Fd()), syscall.LOCK_UN)
		d.lock.Close()
		d.lock = nil
	}
}

// SweepDaemon undoes the daemon called name that a killed process left (a
// go test timeout runs no cleanups); one that a live process holds is left
// alone.
func SweepDaemon(name string) {
	lock, err := os.OpenFile(filepath.Join(runRoot, name+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return
	}
	defer lock.Close()
	if syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return // a live process runs it
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	sweepDaemon(name, filepath.Join(rigRoot, name))
}

// sweepDaemon stops what runs in the namespace name (dockerd first,
// gracefully, so that it stops its containers), then removes the
// namespace, the mounts under dir and dir. The caller holds the lock.
func sweepDaemon(name, dir string) {
	pids := func() []int {
		out, _ := exec.Command("ip", "netns", "pids", name).Output()
		var ps []int
		for _, p := range strings.Fields(string(out)) {
			if n, err := strconv.Atoi(p); err == nil {
				ps = append(ps, n)
			}
		}
		return ps
	}
	if ps := pids(); len(ps) > 0 {
		for _, p := range ps {
			if comm, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/comm"); strings.TrimSpace(string(comm)) == "dockerd" {
				syscall.Kill(p, syscall.SIGTERM)
			}
		}
		for i := 0; i < 150 && len(pids()) > 0; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		for _, p := range pids() {
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
	exec.Command("ip", "netns", "del", name).Run()
	// The daemon is gone; its mounts under the data and exec roots
	// (network namespaces, containerd's, overlays) go with a lazy unmount,
	// deepest first, then its files.
	exec.Command("sh", "-c", "grep -o ' "+dir+"/[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l").Run()
	os.RemoveAll(dir)
	// Its cgroup parent, in every hierarchy (cgroup v1) or the one (v2).
	cgs, _ := filepath.Glob("/sys/fs/cgroup/*/" + name)
	if v2 := "/sys/fs/cgroup/" + name; fileExists(v2) {
		cgs = append(cgs, v2)
	}
	for _, cg := range cgs {
		os.Remove(cg)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
