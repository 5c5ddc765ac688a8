package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/moby/moby/client"
)

// TLS names the files that authenticate labctl to an engine on tcp:// and
// the engine to labctl, as dockerd --tlsverify wants them: the CA that
// signed the engine's certificate, and labctl's client certificate and
// key (Docker's DOCKER_CERT_PATH holds them as ca.pem, cert.pem, key.pem).
type TLS struct {
	CA, Cert, Key string
}

// NewAt connects to the Docker engine at endpoint and checks that it
// answers; the error wraps backend.ErrUnreachable. An endpoint is
// unix:///path/docker.sock; tcp://host:port, with tls the files that
// authenticate both sides (nil: plain TCP, no authentication); or
// ssh://[user@]host[:port], through the system's ssh command, which runs
// docker system dial-stdio on the host as the docker CLI does (ssh's own
// configuration, keys and agent apply).
func NewAt(ctx context.Context, endpoint string, tls *TLS) (*Backend, error) {
	hint := "is the Docker daemon running there, and is that its address?"
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("engine at %q: %w", endpoint, err)
	}
	var opts []client.Opt
	switch {
	case u.Scheme == "ssh":
		// The host part is a placeholder: every connection is ssh's stdio.
		opts = append(opts, client.WithHost("http://docker.example.com"), client.WithDialContext(sshDialer(u)))
		hint = "can ssh log in there without a password (ssh " + sshTarget(u) + " docker version), and is docker installed there?"
	case tls != nil:
		opts = append(opts, client.WithTLSClientConfig(tls.CA, tls.Cert, tls.Key), client.WithHost(endpoint))
		hint = "is the Docker daemon listening there with --tlsverify, and do its certificate and the CA match?"
	default:
		opts = append(opts, client.WithHost(endpoint))
	}
	return connect(ctx, endpoint, hint, opts...)
}

// sshTarget is [user@]host of an ssh:// URL, for messages.
func sshTarget(u *url.URL) string {
	if u.User != nil {
		return u.User.Username() + "@" + u.Hostname()
	}
	return u.Hostname()
}

// sshArgs are ssh's arguments to reach the engine of u: as the docker CLI
// gives them (connhelper), so that an ssh set up for docker -H ssh:// works.
func sshArgs(u *url.URL) []string {
	args := []string{"-o", "ConnectTimeout=30", "-T"}
	if u.User != nil {
		args = append(args, "-l", u.User.Username())
	}
	if p := u.Port(); p != "" {
		args = append(args, "-p", p)
	}
	return append(args, "--", u.Hostname(), "docker", "system", "dial-stdio")
}

// sshDialer returns a dialer whose every connection is a new ssh process's
// stdin and stdout.
func sshDialer(u *url.URL) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		cmd := exec.Command("ssh", sshArgs(u)...)
		cmd.Env = os.Environ()
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, fmt.Errorf("ssh %s: %w", sshTarget(u), err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, fmt.Errorf("ssh %s: %w", sshTarget(u), err)
		}
		c := &cmdConn{cmd: cmd, stdin: stdin, stdout: stdout, name: sshTarget(u)}
		cmd.Stderr = &c.stderr
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("ssh %s: %w (is OpenSSH's client installed?)", sshTarget(u), err)
		}
		return c, nil
	}
}

// cmdConn is a connection over a process's stdin and stdout. Deadlines are
// not supported (as the docker CLI's own): a stuck engine is left to the
// caller's context, which closes the connection.
type cmdConn struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.ReadCloser
	name   string
	stderr tailBuffer

	once sync.Once
}

func (c *cmdConn) Read(p []byte) (int, error) {
	n, err := c.stdout.Read(p)
	if errors.Is(err, io.EOF) && c.stderr.String() != "" {
		return n, fmt.Errorf("ssh %s: %s", c.name, c.stderr.String())
	}
	return n, err
}

func (c *cmdConn) Write(p []byte) (int, error) { return c.stdin.Write(p) }

// CloseWrite ends the input, so that the engine sees the end of a stream
// (an exec's stdin).
func (c *cmdConn) CloseWrite() error { return c.stdin.Close() }

// CloseRead is there for callers that close each half.
func (c *cmdConn) CloseRead() error { return nil }

// Close ends the process: its input first, then a kill if it has not
// gone a moment later.
func (c *cmdConn) Close() error {
	c.once.Do(func() {
		c.stdin.Close()
		done := make(chan struct{})
		go func() { c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Second):
			c.cmd.Process.Kill()
			<-done
		}
	})
	return nil
}

func (c *cmdConn) LocalAddr() net.Addr              { return cmdAddr{} }
func (c *cmdConn) RemoteAddr() net.Addr             { return cmdAddr{} }
func (c *cmdConn) SetDeadline(time.Time) error      { return nil }
func (c *cmdConn) SetReadDeadline(time.Time) error  { return nil }
func (c *cmdConn) SetWriteDeadline(time.Time) error { return nil }

type cmdAddr struct{}

func (cmdAddr) Network() string { return "ssh" }
func (cmdAddr) String() string  { return "ssh" }

// tailBuffer keeps the last kilobyte written to it (a process's stderr).
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > 1024 {
		b.buf = b.buf[len(b.buf)-1024:]
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(bytes.TrimSpace(b.buf))
}

// LoopbackHost tells whether host, an endpoint's host name, is a loopback
// address or localhost: an engine there is reached from this machine only.
func LoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// EnvWarning is what to say on every command when the environment points
// the client at an engine on plain TCP beyond loopback (DOCKER_HOST
// tcp://, no DOCKER_TLS_VERIFY): such an engine has no authentication.
// "" when it does not.
func EnvWarning() string {
	u, err := url.Parse(os.Getenv("DOCKER_HOST"))
	if err != nil || u.Scheme != "tcp" || os.Getenv("DOCKER_TLS_VERIFY") != "" || LoopbackHost(u.Hostname()) {
		return ""
	}
	return fmt.Sprintf("DOCKER_HOST=%s is a Docker API on plain TCP, with no authentication: whoever reaches %s is root on that host; "+
		"set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem), or DOCKER_HOST=ssh://USER@%s", u, u.Host, u.Hostname())
}
