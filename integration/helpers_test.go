package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"socketlab/internal/result"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// attach joins networks by name, without fixed addresses.
func attach(networks ...string) []*scenario.Attachment {
	var a []*scenario.Attachment
	for _, n := range networks {
		a = append(a, &scenario.Attachment{Network: n})
	}
	return a
}

// pair is a lab of one service and a client on one dual-stack network.
func pair(service string) *scenario.Scenario {
	return &scenario.Scenario{
		Name:     "pair",
		Networks: []*scenario.Network{{Name: "net"}},
		Nodes: []*scenario.Node{
			{Name: service, Image: service, Networks: attach("net"), Memory: 64 << 20, Pids: 64},
			{Name: "client", Image: scenario.ClientImage, Networks: attach("net")},
		},
	}
}

// probe is a client's --json object.
type probe = result.Result

// run execs a client in node with --json and decodes what it printed.
func run(t *testing.T, l *lab.Lab, node string, argv ...string) (probe, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stdout, stderr, code, err := l.Exec(ctx, node, argv)
	if err != nil {
		t.Fatalf("exec %q in %s: %v", argv, node, err)
	}
	var p probe
	if err := json.Unmarshal(stdout, &p); err != nil {
		t.Fatalf("exec %q in %s: exit %d, not one JSON object: %v\nstdout: %s\nstderr: %s", argv, node, code, err, stdout, stderr)
	}
	return p, code
}

func status(t *testing.T, l *lab.Lab) *lab.Status {
	t.Helper()
	st, err := l.Status(context.Background())
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	return st
}

func node(t *testing.T, st *lab.Status, name string) lab.NodeStatus {
	t.Helper()
	for _, n := range st.Nodes {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("status of %s has no node %s", st.Lab, name)
	return lab.NodeStatus{}
}

// address is node's address of family ("IPv4" or "IPv6") on network.
func address(t *testing.T, n lab.NodeStatus, network, family string) string {
	t.Helper()
	for _, a := range n.Addresses {
		if a.Network == network {
			if family == "IPv4" {
				return a.IPv4
			}
			return a.IPv6
		}
	}
	t.Fatalf("node %s is not on network %s: %+v", n.Name, network, n.Addresses)
	return ""
}

// host is the address part of host:port or [host]:port.
func host(hostport string) string {
	if i := strings.LastIndexByte(hostport, ':'); i > 0 {
		hostport = hostport[:i]
	}
	return strings.Trim(hostport, "[]")
}
