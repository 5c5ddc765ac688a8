package suite

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a server process under test.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *lockedWriter
	done chan error
}

// startProc starts argv (pinned to the CPUs in pin with taskset, when pin is
// not empty) with env added to the environment, and waits until ready
// succeeds.
func startProc(ctx context.Context, name string, argv, env []string, pin string, ready func(context.Context) error) (*proc, error) {
	if pin != "" {
		argv = append([]string{"taskset", "-c", pin}, argv...)
	}
	p := &proc{name: name, done: make(chan error, 1), out: &lockedWriter{b: new(bytes.Buffer)}}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		err := ready(rctx)
		if err == nil {
			return p, nil
		}
		select {
		case werr := <-p.done:
			p.done <- werr
			return nil, fmt.Errorf("%s exited before it was ready (%v): %s", name, werr, p.output())
		case <-rctx.Done():
			p.stop()
			return nil, fmt.Errorf("%s not ready after 10s: %v: %s", name, err, p.output())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (p *proc) output() string {
	s := strings.TrimSpace(p.out.String())
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}

// stop sends SIGTERM, and SIGKILL if the process is still there after 5 s.
func (p *proc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		return err
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		return fmt.Errorf("%s ignored SIGTERM for 5s: killed", p.name)
	}
}

// rss reads the resident set size of the process from /proc, in bytes.
func (p *proc) rss() (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("rss of %s: %w", p.name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("rss of %s: %q: %w", p.name, v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("rss of %s: no VmRSS line", p.name)
}

// cpu reads the CPU time the process has used so far, user and system.
func (p *proc) cpu() (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("cpu of %s: %w", p.name, err)
	}
	// The command name, in parentheses, may hold spaces: count fields after it.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("cpu of %s: short stat line", p.name)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return time.Duration(utime+stime) * tick, nil
}

// freePort returns a port free for TCP and UDP on 127.0.0.1 at the time of the call.
func freePort() (int, error) {
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		ln.Close()
		if err == nil {
			pc.Close()
			return port, nil
		}
	}
	return 0, errors.New("no port free for both TCP and UDP")
}

// tcpReady is a readiness check: a TCP connection to addr is accepted.
func tcpReady(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// udpReady is a readiness check: a datagram to addr gets a reply.
func udpReady(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		c, err := net.Dial("udp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := c.Write([]byte("ready?")); err != nil {
			return err
		}
		_, err = c.Read(make([]byte, 1024))
		return err
	}
}
