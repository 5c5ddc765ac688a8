// Package svctest starts socketlab servers on ephemeral loopback ports for
// tests, over IPv4 and IPv6, and builds server binaries for process-level tests.
package svctest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
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

// Binary builds the main package at pkg (e.g. "socketlab/services/echo/cmd")
// once per test process and returns the path of the binary.
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
