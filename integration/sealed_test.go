package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"socketlab/internal/images"
	"socketlab/internal/labtest"
	"socketlab/internal/labtest/need"
	"socketlab/internal/netnstest"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// The LAN the sealed tests stand up: a network namespace behind a veth on
// this machine, with addresses outside every lab, routed by the host as a
// LAN would be.
var (
	lanHost4 = netip.MustParsePrefix("198.18.77.254/24") // the host's side
	lanHost6 = netip.MustParsePrefix("2001:db8:5ea1::254/64")
	lanAddr4 = netip.MustParseAddr("198.18.77.1") // the LAN's machine
	lanAddr6 = netip.MustParseAddr("2001:db8:5ea1::1")
)

// echoOn serves an echo on TCP and UDP port of every address of the
// network namespace the calling thread is in, until the test ends; port 0
// picks one, returned.
func echoOn(t *testing.T, port int) int {
	t.Helper()
	l, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	port = l.Addr().(*net.TCPAddr).Port
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	u, err := net.ListenPacket("udp", fmt.Sprintf(":%d", port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := u.ReadFrom(buf)
			if err != nil {
				return
			}
			u.WriteTo(buf[:n], from)
		}
	}()
	return port
}

// lan makes the LAN namespace and its veth (named sea*, after this
// process) and serves an echo on port in it.
func lan(t *testing.T, port int) {
	t.Helper()
	id := fmt.Sprint(os.Getpid() % 100000)
	ns, out, in := "sealan"+id, "sealan"+id+"h", "sealan"+id+"n"
	ip := func(args ...string) {
		t.Helper()
		if b, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, b)
		}
	}
	ip("netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	ip("link", "add", out, "type", "veth", "peer", "name", in, "netns", ns)
	t.Cleanup(func() { exec.Command("ip", "link", "del", out).Run() })
	ip("addr", "add", lanHost4.String(), "dev", out)
	ip("addr", "add", lanHost6.String(), "dev", out, "nodad")
	ip("link", "set", out, "up")
	ip("-n", ns, "addr", "add", netip.PrefixFrom(lanAddr4, 24).String(), "dev", in)
	ip("-n", ns, "addr", "add", netip.PrefixFrom(lanAddr6, 64).String(), "dev", in, "nodad")
	ip("-n", ns, "link", "set", in, "up")
	ip("-n", ns, "link", "set", "lo", "up")
	ip("-n", ns, "route", "add", "default", "via", lanHost4.Addr().String())
	ip("-n", ns, "-6", "route", "add", "default", "via", lanHost6.Addr().String())
	netnstest.In(t, ns, func() { echoOn(t, port) })
}

// gateways are the gateway addresses of the lab's networks: the first
// address of each subnet, as the engine gives a bridge.
func gateways(t *testing.T, st *lab.Status) []string {
	var gws []string
	for _, n := range st.Networks {
		for _, s := range []string{n.IPv4, n.IPv6} {
			if p, err := netip.ParsePrefix(s); err == nil {
				gws = append(gws, p.Masked().Addr().Next().String())
			}
		}
	}
	if len(gws) != 4 {
		t.Fatalf("the lab's networks %+v: want two dual-stack networks", st.Networks)
	}
	return gws
}

// TestSealed: a sealed lab's node reaches its lab and nothing else: not a
// service the host listens to on its wildcard address, through any gateway
// of the lab's networks, nor a machine on the LAN, over IPv4 and IPv6, TCP
// and UDP; while the host still reaches the node by its address and its
// published port. With egress: true on the node's network, both answer.
func TestSealed(t *testing.T) {
	labtest.NeedImages(t, "echo", scenario.ClientImage, images.Isolate)
	need.Root(t, "make the network namespace that stands in for the LAN")
	if info, err := labtest.Engine().Info(context.Background()); err != nil {
		t.Fatal(err)
	} else if info.Rootless {
		t.Skip("a rootless engine's bridges and gateways are in a namespace of its own, out of this test's reach, and nothing reaches its nodes by address: " +
			"the seal there is the same filter, which helpers/isolate's TestSeal tests in network namespaces")
	}
	port := echoOn(t, 0) // the host's service, on every address of the host
	lan(t, port)
	hostPort := freePort(t)

	for _, c := range []struct {
		name   string
		egress bool
		opts   []lab.UpOption
	}{
		{"sealed", false, nil},
		{"sealed by the helper", false, []lab.UpOption{lab.WithHelpersOnly()}},
		{"egress", true, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			sc := &scenario.Scenario{
				Name:     "seal",
				Networks: []*scenario.Network{{Name: "front", Egress: c.egress}, {Name: "back"}},
				Nodes: []*scenario.Node{
					{Name: "echo", Image: "echo", Networks: attach("front"), Publish: []scenario.Publish{{HostPort: uint16(hostPort), NodePort: 7}}},
					{Name: "client", Image: scenario.ClientImage, Networks: attach("front", "back")},
				},
			}
			l := labtest.Up(t, sc, c.opts...)
			st := status(t, l)
			// reach tells whether an echo comes back from target over
			// fam (-4, -6) and TCP, or UDP.
			reach := func(fam, target string, udp bool) (bool, string) {
				argv := []string{"sock", "echo", fam, "--timeout", "2s", "--json"}
				if udp {
					argv = append(argv, "--udp")
				}
				p, _ := run(t, l, "client", append(argv, target, "sealed?")...)
				return p.OK, p.Error
			}
			type aim struct{ what, addr string }
			outside := []aim{{"the LAN", lanAddr4.String()}, {"the LAN", lanAddr6.String()}}
			for _, gw := range gateways(t, st) {
				outside = append(outside, aim{"the host's wildcard service through a gateway", gw})
			}
			for _, a := range outside {
				fam := "-4"
				if strings.Contains(a.addr, ":") {
					fam = "-6"
				}
				target := net.JoinHostPort(a.addr, fmt.Sprint(port))
				for _, udp := range []bool{false, true} {
					proto := map[bool]string{false: "TCP", true: "UDP"}[udp]
					ok, why := reach(fam, target, udp)
					switch {
					case c.egress && !ok:
						t.Errorf("egress: %s (%s) over %s did not answer: %s", a.what, target, proto, why)
					case !c.egress && ok:
						t.Errorf("sealed: %s (%s) answered over %s: the lab is open", a.what, target, proto)
					}
				}
			}
			// Inside the lab, and from the host in, all stays as it was.
			for _, fam := range []string{"-4", "-6"} {
				if ok, why := reach(fam, "echo", false); !ok {
					t.Errorf("%s to a node of the lab: %s", fam, why)
				}
			}
			for _, fam := range []string{"IPv4", "IPv6"} {
				addr := net.JoinHostPort(address(t, node(t, st, "echo"), "front", fam), "7")
				if err := echoBack(addr); err != nil {
					t.Errorf("the host to the node's %s address %s: %v", fam, addr, err)
				}
			}
			if err := echoBack(fmt.Sprintf("127.0.0.1:%d", hostPort)); err != nil {
				t.Errorf("the node's published port 127.0.0.1:%d: %v", hostPort, err)
			}
		})
	}
}

// echoBack tells whether a line sent to addr over TCP comes back.
func echoBack(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte("in\n")); err != nil {
		return err
	}
	buf := make([]byte, 3)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != "in\n" {
		return fmt.Errorf("echoed %q", buf)
	}
	return nil
}

// freePort is a TCP port free on the host's loopback right now.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
