// Package svctest starts socketlab servers on ephemeral loopback ports for
// tests, over IPv4 and IPv6, with stand-ins for misbehaving peers; it builds
// and runs server binaries for process-level tests, and runs sock
// sub-commands in process.
package svctest

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"socketlab/services/internal/service"
)

// Loopbacks are the two loopback hosts every server is tested on, by family.
var Loopbacks = map[string]string{"IPv4": "127.0.0.1", "IPv6": "::1"}

// Families lists the keys of Loopbacks in a fixed order.
var Families = []string{"IPv4", "IPv6"}

// ServeTCP serves srv on an ephemeral port of host (127.0.0.1 or ::1) and
// shuts it down when the test ends. It returns the listening address.
func ServeTCP(t testing.TB, srv service.StreamServer, host string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("listen on %s: %v", host, err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { shutdown(t, srv.Shutdown) })
	return ln.Addr().String()
}

// ServeUDP serves srv on an ephemeral UDP port of host and shuts it down when
// the test ends. It returns the socket's address.
func ServeUDP(t testing.TB, srv service.PacketServer, host string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("listen udp on %s: %v", host, err)
	}
	go srv.ServePacket(pc)
	t.Cleanup(func() { shutdown(t, srv.Shutdown) })
	return pc.LocalAddr().String()
}

// FakeTCP serves each TCP connection on an ephemeral 127.0.0.1 port with
// handle, closing the connection when handle returns: a stand-in for a peer
// that misbehaves. The listener closes when the test ends. FakeTCP returns
// the listening address.
func FakeTCP(t testing.TB, handle func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// SilentUDP opens a UDP socket on an ephemeral port of host that never
// answers, until the test ends, and returns its address.
func SilentUDP(t testing.TB, host string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}

// BindLoopbackUDP binds a UDP socket to port on a random 127/8 address, so
// that parallel test processes binding the same well-known port do not
// collide, and closes it when the test ends. It skips the test when the port
// needs privileges the test lacks.
func BindLoopbackUDP(t testing.TB, port int) *net.UDPConn {
	t.Helper()
	for range 20 {
		ip := net.IPv4(127, byte(1+rand.IntN(250)), byte(rand.IntN(256)), byte(2+rand.IntN(250)))
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ip, Port: port})
		if errors.Is(err, syscall.EACCES) {
			t.Skipf("binding port %d needs root or CAP_NET_BIND_SERVICE: %v", port, err)
		}
		if err == nil {
			t.Cleanup(func() { c.Close() })
			return c
		}
	}
	t.Fatalf("cannot bind a loopback address on port %d", port)
	return nil
}

func shutdown(t testing.TB, f func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// FreePort returns a port that is free for both TCP and UDP on every address
// at the moment of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", ":0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", ":"+strconv.Itoa(port))
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no port free for both TCP and UDP")
	return 0
}

var (
	buildMu  sync.Mutex
	builtDir string
)

// Main runs a test package's tests and then removes the binaries Binary
// built; call it from TestMain and exit with what it returns.
func Main(m *testing.M) int {
	code := m.Run()
	buildMu.Lock()
	defer buildMu.Unlock()
	if builtDir != "" {
		os.RemoveAll(builtDir)
		builtDir = ""
	}
	return code
}

// Binary builds the main package at pkg (e.g. "socketlab/services/echo/cmd")
// once per test process and returns the path of the binary. A package that
// uses it removes the binaries with Main.
func Binary(t testing.TB, pkg string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if builtDir == "" {
		d, err := os.MkdirTemp("", "socketlab-bin-")
		if err != nil {
			t.Fatal(err)
		}
		builtDir = d
	}
	out := filepath.Join(builtDir, filepath.Base(filepath.Dir(pkg))+"-"+filepath.Base(pkg))
	if _, err := os.Stat(out); err == nil {
		return out
	}
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// CheckLoopPortsDropped sends a datagram to the UDP server at addr (on
// 127.0.0.1) from each of the source ports of echo, daytime, chargen and time
// (7, 13, 19, 37) and from an ordinary port, in parallel subtests. It fails
// unless only the ordinary port gets a reply: two such servers would
// otherwise answer each other forever.
func CheckLoopPortsDropped(t *testing.T, addr string) {
	t.Helper()
	dst, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, port := range []int{7, 13, 19, 37, 0} {
		name := strconv.Itoa(port)
		if port == 0 {
			name = "ordinary port"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := BindLoopbackUDP(t, port)
			if _, err := c.WriteToUDP([]byte("loop?"), dst); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			buf := make([]byte, 2048)
			n, _, err := c.ReadFromUDP(buf)
			switch {
			case port == 0 && err != nil:
				t.Errorf("no reply to an ordinary port: %v", err)
			case port != 0 && err == nil:
				t.Errorf("replied %q to source port %d", buf[:n], port)
			}
		})
	}
}
