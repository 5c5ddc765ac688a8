package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"socketlab/internal/images"
	"socketlab/internal/labtest"
)

// A student is one user of the classroom: the engine they reach and, on
// Podman, the user they are.
type student struct {
	name     string // the lab's name
	endpoint string
	netns    string // nsenter --net target, "" for the host's
	cred     *syscall.Credential
	env      []string
}

// classroom brings up one default lab per student at once, n students on
// the engine (on Podman, each a user with an engine of their own; on
// Docker 29, n labs on one engine as its users would), and reports how
// long that took, the memory it took, and whether any lab reached
// another; then it takes them down.
func classroom(ctx context.Context, engine string, n int, bin, labctl, scenario string, stdout, stderr io.Writer) int {
	var students []student
	var stops []func()
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	refs := defaultLabImages(ctx)
	t0 := time.Now()
	switch engine {
	case "podman":
		for i := 1; i <= n; i++ {
			p, err := labtest.StartPodman(ctx, i)
			if err != nil {
				fmt.Fprintf(stderr, "rig: %v\n", err)
				return 1
			}
			stops = append(stops, p.Stop)
			if err := p.Load(ctx, refs...); err != nil {
				fmt.Fprintf(stderr, "rig: %v\n", err)
				return 1
			}
			uid, gid := p.IDs()
			students = append(students, student{name: fmt.Sprintf("rig-class%d", i), endpoint: p.Endpoint,
				cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, env: p.Env()})
		}
	case "docker29":
		re, err := labtest.StartRigEngine(ctx, engine, bin)
		if err != nil {
			fmt.Fprintf(stderr, "rig: %v\n", err)
			return 1
		}
		stops = append(stops, re.Stop)
		for i := 1; i <= n; i++ {
			students = append(students, student{name: fmt.Sprintf("rig-class%d", i), endpoint: re.Endpoint, netns: re.Netns, env: os.Environ()})
		}
	default:
		fmt.Fprintf(stderr, "rig: -classroom: engine %q: want podman or docker29\n", engine)
		return 2
	}
	fmt.Fprintf(stdout, "classroom %s: %d engines ready with the images in %s\n", engine, len(stops), time.Since(t0).Round(time.Second))

	before := memAvailable()
	ups := make([]time.Duration, len(students))
	errs := make([]error, len(students))
	t1 := time.Now()
	var wg sync.WaitGroup
	for i, s := range students {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			_, errs[i] = s.labctl(ctx, labctl, "up", "--name", s.name, scenario)
			ups[i] = time.Since(start)
		}()
	}
	wg.Wait()
	all := time.Since(t1)
	after := memAvailable()
	up := 0
	for i, err := range errs {
		if err != nil {
			fmt.Fprintf(stdout, "  %s: up failed: %v\n", students[i].name, err)
		} else {
			up++
		}
	}
	slices.Sort(ups)
	fmt.Fprintf(stdout, "classroom %s: %d of %d labs up at once in %s (each %s to %s); memory taken %.1f GiB (MemAvailable before minus after)\n",
		engine, up, len(students), all.Round(time.Second), ups[0].Round(time.Second), ups[len(ups)-1].Round(time.Second), float64(before-after)/(1<<30))

	// Each student's client tries the next student's welcome node, at
	// its IPv4 address: it must not answer.
	reached, probed := 0, 0
	for i, s := range students {
		next := students[(i+1)%len(students)]
		if errs[i] != nil || errs[(i+1)%len(students)] != nil {
			continue
		}
		addr, own, err := next.welcomeAddr(ctx, labctl, s)
		if err != nil {
			fmt.Fprintf(stdout, "  %s: %v\n", next.name, err)
			continue
		}
		if own {
			fmt.Fprintf(stdout, "  %s -> %s: %s is also an address of %s's own lab: not probed\n", s.name, next.name, addr, s.name)
			continue
		}
		probed++
		out, err := s.labctl(ctx, labctl, "exec", "--lab", s.name, "client", "--", "sock", "welcome", "--timeout", "2s", addr)
		if err == nil {
			reached++
			fmt.Fprintf(stdout, "  %s reached %s's welcome at %s: %s\n", s.name, next.name, addr, strings.TrimSpace(out))
		} else {
			fmt.Fprintf(stdout, "  %s -> %s's welcome at %s: %s\n", s.name, next.name, addr, lastLines(out, 1))
		}
	}
	fmt.Fprintf(stdout, "classroom %s: %d of %d probes from one student's lab to another's reached it\n", engine, reached, probed)
	var dwg sync.WaitGroup
	for _, s := range students {
		dwg.Add(1)
		go func() {
			defer dwg.Done()
			s.labctl(context.Background(), labctl, "down", s.name)
		}()
	}
	dwg.Wait()
	if up < len(students) || reached > 0 {
		return 1
	}
	return 0
}

// labctl runs labctl as the student, against their engine.
func (s student) labctl(ctx context.Context, labctl string, args ...string) (string, error) {
	argv := append([]string{labctl}, args...)
	if s.netns != "" {
		argv = append([]string{"nsenter", "--net=" + s.netns, "--"}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(slices.Clone(s.env), "DOCKER_HOST="+s.endpoint)
	cmd.Dir = "/tmp"
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("labctl %s: %v: %s", strings.Join(args, " "), err, lastLines(string(out), 5))
	}
	return string(out), nil
}

// welcomeAddr is the IPv4 address of the welcome node of s's lab, and
// whether it is also one of other's lab's addresses.
func (s student) welcomeAddr(ctx context.Context, labctl string, other student) (string, bool, error) {
	addrs := func(st student) (map[string]string, error) {
		out, err := st.labctl(ctx, labctl, "status", st.name, "-o", "json")
		if err != nil {
			return nil, err
		}
		var status struct {
			Nodes []struct {
				Name      string `json:"name"`
				Addresses []struct {
					IPv4 string `json:"ipv4"`
				} `json:"addresses"`
			} `json:"nodes"`
		}
		if err := json.Unmarshal([]byte(out), &status); err != nil {
			return nil, fmt.Errorf("status -o json: %w", err)
		}
		m := map[string]string{}
		for _, n := range status.Nodes {
			for _, a := range n.Addresses {
				if a.IPv4 != "" {
					m[a.IPv4] = n.Name
				}
			}
		}
		return m, nil
	}
	mine, err := addrs(s)
	if err != nil {
		return "", false, err
	}
	theirs, err := addrs(other)
	if err != nil {
		return "", false, err
	}
	for addr, node := range mine {
		if node == "welcome" {
			_, own := theirs[addr]
			return addr, own, nil
		}
	}
	return "", false, fmt.Errorf("no welcome node with an IPv4 address in lab %s", s.name)
}

// defaultLabImages are the images the default lab needs that this
// machine's engine holds.
func defaultLabImages(ctx context.Context) []string {
	want := append(labtest.Services(), images.Client, images.Isolate, images.Pin6)
	var refs []string
	for _, ref := range labtest.HostImages(ctx) {
		for _, img := range want {
			if ref == images.Ref(img, "") {
				refs = append(refs, ref)
			}
		}
	}
	return refs
}

// memAvailable is the kernel's MemAvailable, in bytes.
func memAvailable() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "MemAvailable:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
