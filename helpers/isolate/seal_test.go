package isolate_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"socketlab/internal/labtest/need"
	"socketlab/internal/netnstest"
)

// The seal tests build a small lab out of network namespaces: a "host"
// namespace with a bridge (the gateway, 10.98.1.1 and fd98:1::1) that
// routes to a "lan" namespace (192.0.2.1, 2001:db8::1), and two
// nodes on the bridge, node (.2) and peer (.3), whose default routes go
// through the gateway. The helper binary runs in node's namespace as
// labctl runs it. They need root and iproute2, and skip without.

// netns is the namespaces' names; the prefix keeps them apart from other
// tests' on a shared machine.
type netns struct{ host, node, peer, lan string }

func newLab(t *testing.T) netns {
	t.Helper()
	need.Root(t, "create network namespaces")
	need.Command(t, "ip", "iproute2")
	id := fmt.Sprintf("%d", os.Getpid()%100000)
	ns := netns{host: "seah" + id, node: "sean" + id, peer: "seap" + id, lan: "seal" + id}
	for _, n := range []string{ns.host, ns.node, ns.peer, ns.lan} {
		ip(t, "netns", "add", n)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", n).Run() })
		ip(t, "-n", n, "link", "set", "lo", "up")
	}
	ip(t, "-n", ns.host, "link", "add", "br0", "type", "bridge")
	ip(t, "-n", ns.host, "addr", "add", "10.98.1.1/24", "dev", "br0")
	ip(t, "-n", ns.host, "addr", "add", "fd98:1::1/64", "dev", "br0", "nodad")
	ip(t, "-n", ns.host, "link", "set", "br0", "up")
	// The LAN: a namespace of its own behind a veth, the host routing.
	ip(t, "-n", ns.host, "link", "add", "lan0", "type", "veth", "peer", "name", "lan1", "netns", ns.lan)
	ip(t, "-n", ns.host, "addr", "add", "192.0.2.254/24", "dev", "lan0")
	ip(t, "-n", ns.host, "addr", "add", "2001:db8::254/64", "dev", "lan0", "nodad")
	ip(t, "-n", ns.host, "link", "set", "lan0", "up")
	ip(t, "-n", ns.lan, "addr", "add", "192.0.2.1/24", "dev", "lan1")
	ip(t, "-n", ns.lan, "addr", "add", "2001:db8::1/64", "dev", "lan1", "nodad")
	ip(t, "-n", ns.lan, "link", "set", "lan1", "up")
	ip(t, "-n", ns.lan, "route", "add", "default", "via", "192.0.2.254")
	ip(t, "-n", ns.lan, "-6", "route", "add", "default", "via", "2001:db8::254")
	for _, k := range []string{"net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"} {
		if out, err := exec.Command("ip", "netns", "exec", ns.host, "sysctl", "-qw", k+"=1").CombinedOutput(); err != nil {
			t.Fatalf("sysctl %s in %s: %v\n%s", k, ns.host, err, out)
		}
	}
	for i, n := range []string{ns.node, ns.peer} {
		in, out := fmt.Sprintf("v%d", i), fmt.Sprintf("%s-%d", n, i)
		ip(t, "-n", ns.host, "link", "add", out, "type", "veth", "peer", "name", in, "netns", n)
		ip(t, "-n", ns.host, "link", "set", out, "master", "br0", "up")
		ip(t, "-n", n, "addr", "add", fmt.Sprintf("10.98.1.%d/24", i+2), "dev", in)
		ip(t, "-n", n, "addr", "add", fmt.Sprintf("fd98:1::%d/64", i+2), "dev", in, "nodad")
		ip(t, "-n", n, "link", "set", in, "up")
		ip(t, "-n", n, "route", "add", "default", "via", "10.98.1.1")
		ip(t, "-n", n, "-6", "route", "add", "default", "via", "fd98:1::1")
	}
	return ns
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// serve listens on the wildcard address of ns (both families) on TCP and
// UDP port, answering "hi" to every connection and datagram.
func serve(t *testing.T, ns string, port int) {
	t.Helper()
	netnstest.In(t, ns, func() {
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
		if err != nil {
			t.Error(err)
			return
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Write([]byte("hi"))
				c.Close()
			}
		}()
		u, err := net.ListenPacket("udp", fmt.Sprintf(":%d", port))
		if err != nil {
			t.Error(err)
			return
		}
		t.Cleanup(func() { u.Close() })
		go func() {
			buf := make([]byte, 64)
			for {
				_, from, err := u.ReadFrom(buf)
				if err != nil {
					return
				}
				u.WriteTo([]byte("hi"), from)
			}
		}()
	})
}

// reach tells whether a "hi" comes back from addr over network (tcp or
// udp), dialled from ns; the error says why not.
func reach(t *testing.T, ns, network, addr string) (err error) {
	t.Helper()
	netnstest.In(t, ns, func() {
		var c net.Conn
		if c, err = net.DialTimeout(network, addr, 2*time.Second); err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if network == "udp" {
			if _, err = c.Write([]byte("x")); err != nil {
				return
			}
		}
		buf := make([]byte, 2)
		_, err = c.Read(buf)
	})
	return err
}

// pings tells whether an ICMP echo to addr, sent from ns, is answered
// (a raw socket: the tests run as root).
func pings(t *testing.T, ns, addr string) (err error) {
	t.Helper()
	netnstest.In(t, ns, func() {
		a := netip.MustParseAddr(addr)
		network, laddr, proto := "ip4:icmp", "0.0.0.0", 1
		var typ icmp.Type = ipv4.ICMPTypeEcho
		if a.Is6() {
			network, laddr, proto, typ = "ip6:ipv6-icmp", "::", 58, ipv6.ICMPTypeEchoRequest
		}
		var c *icmp.PacketConn
		if c, err = icmp.ListenPacket(network, laddr); err != nil {
			return
		}
		defer c.Close()
		msg, _ := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: 7, Seq: 1, Data: []byte("seal")}}).Marshal(nil)
		// Three tries: a router drops the first packet to a neighbour it
		// has not resolved yet.
		for range 3 {
			if _, err = c.WriteTo(msg, &net.IPAddr{IP: a.AsSlice()}); err != nil {
				return
			}
			c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			buf := make([]byte, 1500)
			for {
				var n int
				if n, _, err = c.ReadFrom(buf); err != nil {
					break
				}
				if m, perr := icmp.ParseMessage(proto, buf[:n]); perr == nil && (m.Type == ipv4.ICMPTypeEchoReply || m.Type == ipv6.ICMPTypeEchoReply) {
					return
				}
			}
		}
	})
	return err
}

// broadcasts tells whether a datagram sent from ns to the broadcast
// address addr:port (SO_BROADCAST set) brings an answer.
func broadcasts(t *testing.T, ns, addr string, port int) (err error) {
	t.Helper()
	netnstest.In(t, ns, func() {
		lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1) })
		}}
		var c net.PacketConn
		if c, err = lc.ListenPacket(context.Background(), "udp4", ":0"); err != nil {
			return
		}
		defer c.Close()
		if _, err = c.WriteTo([]byte("x"), &net.UDPAddr{IP: net.ParseIP(addr), Port: port}); err != nil {
			return
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		_, _, err = c.ReadFrom(make([]byte, 16))
	})
	return err
}

// reachSoon is reach tried three times, for what must work: the host's
// first packets to a neighbour on the LAN wait for neighbour discovery,
// which on a loaded machine outlasts a dial's two seconds now and then.
func reachSoon(t *testing.T, ns, network, addr string) (err error) {
	t.Helper()
	for range 3 {
		if err = reach(t, ns, network, addr); err == nil {
			return nil
		}
	}
	return err
}

// helper builds the helper binary once per test.
func helper(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "isolate")
	cmd := exec.Command("go", "build", "-o", bin, "socketlab/helpers/isolate/cmd")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func runIn(t *testing.T, ns, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("isolate %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestSeal: a sealed node reaches the lab's other nodes over both
// families, TCP and UDP, and its own loopback; not the host's wildcard
// services through the gateway, nor the LAN, and a TCP connect there fails
// at once; the host still reaches the node by its address. Without the
// seal, as on an egress network, both work again.
func TestSeal(t *testing.T) {
	ns := newLab(t)
	bin := helper(t)
	const port = 18080
	for _, n := range []string{ns.host, ns.peer, ns.node, ns.lan} {
		serve(t, n, port)
	}
	at := func(a string) string { return net.JoinHostPort(a, fmt.Sprint(port)) }
	lab := []string{"10.98.1.3", "fd98:1::3", "127.0.0.1", "::1"}
	outside := []string{"10.98.1.1", "fd98:1::1", "192.0.2.1", "2001:db8::1"}

	// Before the seal, everything answers: the rig works.
	for _, a := range append(lab, outside...) {
		for _, network := range []string{"tcp", "udp"} {
			if err := reachSoon(t, ns.node, network, at(a)); err != nil {
				t.Fatalf("before the seal, %s %s from the node: %v: the rig does not work", network, a, err)
			}
		}
	}

	// (after TCP: its retries have the neighbours resolved)
	for _, a := range append(lab[:2], outside...) {
		if err := pings(t, ns.node, a); err != nil {
			t.Fatalf("before the seal, an ICMP echo to %s: %v: the rig does not work", a, err)
		}
	}
	if err := broadcasts(t, ns.node, "10.98.1.255", port); err != nil {
		t.Fatalf("before the seal, a datagram to the subnet's broadcast address: %v: the rig does not work", err)
	}

	out := runIn(t, ns.node, bin, "--seal", "--lab", "10.98.1.0/24", "--lab", "fd98:1::/64",
		"--gateway", "10.98.1.1", "--gateway", "fd98:1::1", "fd98:1::/64")
	if !strings.Contains(out, "sealed: the node sends only to [10.98.1.0/24 fd98:1::/64]") {
		t.Errorf("the helper says %q", out)
	}
	for _, a := range lab {
		for _, network := range []string{"tcp", "udp"} {
			if err := reach(t, ns.node, network, at(a)); err != nil {
				t.Errorf("sealed: %s to %s (the lab) failed: %v", network, a, err)
			}
		}
	}
	for _, a := range outside {
		start := time.Now()
		err := reach(t, ns.node, "tcp", at(a))
		// IPv4's connect fails at once; IPv6's ignores the first ICMP error
		// while connect holds the socket, and fails on the SYN sent again
		// a second later. A dropped SYN would time out (2 s).
		if took := time.Since(start); err == nil || took > 1500*time.Millisecond {
			t.Errorf("sealed: tcp to %s (outside the lab): %v after %v, want a refusal within 1.5 s", a, err, took.Round(time.Millisecond))
		} else if !errors.Is(err, syscall.EHOSTUNREACH) && !errors.Is(err, syscall.EACCES) {
			t.Errorf("sealed: tcp to %s: %v, want no route to host (IPv4) or permission denied (IPv6)", a, err)
		}
		if err := reach(t, ns.node, "udp", at(a)); err == nil {
			t.Errorf("sealed: udp to %s (outside the lab) answered", a)
		}
		if err := pings(t, ns.node, a); err == nil {
			t.Errorf("sealed: an ICMP echo to %s (outside the lab) was answered", a)
		}
	}
	if err := broadcasts(t, ns.node, "10.98.1.255", port); err == nil {
		t.Errorf("sealed: a datagram to the subnet's broadcast address was answered (by the host's wildcard service)")
	}
	for _, a := range lab[:2] {
		if err := pings(t, ns.node, a); err != nil {
			t.Errorf("sealed: an ICMP echo to %s (the lab): %v", a, err)
		}
	}
	// The host reaches the node by its address, and the node's replies go
	// back (conntrack: established).
	for _, a := range []string{"10.98.1.2", "fd98:1::2"} {
		for _, network := range []string{"tcp", "udp"} {
			if err := reach(t, ns.host, network, at(a)); err != nil {
				t.Errorf("sealed: the host to the node's %s over %s: %v", a, network, err)
			}
		}
	}
	// The input filter: IPv6 from outside the node's networks stays out;
	// with --no-input (an engine that isolates IPv6 itself) it comes in.
	if err := reach(t, ns.lan, "tcp", at("fd98:1::2")); err == nil {
		t.Errorf("sealed: a new connection from the LAN's 2001:db8::1 to the node's IPv6 address got in")
	}
	runIn(t, ns.node, bin, "--no-input", "--seal", "--lab", "10.98.1.0/24", "--lab", "fd98:1::/64")
	if err := reach(t, ns.lan, "tcp", at("fd98:1::2")); err != nil {
		t.Errorf("--no-input: a connection from the LAN to the node's IPv6 address: %v", err)
	}

	// Name service at the gateway (as Podman's): port 53 only.
	serve(t, ns.host, 53)
	runIn(t, ns.node, bin, "--seal", "--lab", "10.98.1.0/24", "--gateway", "10.98.1.1", "--dns", "10.98.1.1")
	if err := reach(t, ns.node, "udp", "10.98.1.1:53"); err != nil {
		t.Errorf("sealed with --dns: udp to the gateway's port 53: %v", err)
	}
	if err := reach(t, ns.node, "tcp", at("10.98.1.1")); err == nil {
		t.Errorf("sealed with --dns: tcp to the gateway's port %d answered", port)
	}

	// With --ipv4 (rootless Podman, which masquerades between its networks
	// as the gateway), nothing but name-service answers comes in from a
	// gateway: the host's connection to the node is dropped.
	runIn(t, ns.node, bin, "--ipv4", "--gateway", "10.98.1.1", "10.98.1.0/24", "fd98:1::/64")
	if err := reach(t, ns.host, "tcp", at("10.98.1.2")); err == nil {
		t.Errorf("--ipv4 --gateway: a connection from the gateway got in")
	}
	if err := reach(t, ns.peer, "tcp", at("10.98.1.2")); err != nil {
		t.Errorf("--ipv4 --gateway: a connection from the network's peer: %v", err)
	}

	// No --seal: the seal goes, as when the node joins an egress network;
	// the input filter lets the replies from outside in.
	runIn(t, ns.node, bin, "fd98:1::/64")
	for _, a := range outside {
		if err := reachSoon(t, ns.node, "tcp", at(a)); err != nil {
			t.Errorf("unsealed: tcp to %s: %v", a, err)
		}
	}
}
