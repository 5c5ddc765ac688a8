package main

import (
	"strings"
	"testing"

	"socketlab/labctl/lab"
)

// TestWriteHints: after up, each service a client node shares a network
// with gets its client's command and what it shows; chat's needs a
// terminal (exec -i); a service on a network no client reaches gets none.
func TestWriteHints(t *testing.T) {
	t.Setenv(labEnv, "")
	on := func(name, image string, nets ...string) lab.NodeStatus {
		n := lab.NodeStatus{Name: name, Image: image}
		for _, net := range nets {
			n.Addresses = append(n.Addresses, lab.Address{Network: net})
		}
		return n
	}
	st := &lab.Status{Lab: "default", Nodes: []lab.NodeStatus{
		on("client", "socketlab/client:latest", "front"),
		on("chat", "socketlab/chat:latest", "front"),
		on("web", "socketlab/web:dev", "front"),
		on("welcome", "socketlab/welcome:latest", "back"),
		on("app", "python:3", "front"),
	}}
	var b strings.Builder
	writeHints(&b, st, nil)
	out := b.String()
	for _, tc := range []struct {
		name, want string
		present    bool
	}{
		{"chat needs a terminal", prog + " exec -i client -- sock chat -6 chat --nick ada", true},
		{"chat's comment", "IRC in #lab; type, /quit to leave", true},
		{"web's client is browse", prog + " exec client -- sock browse -6 http://web/", true},
		{"web's comment", "A and AAAA answers, then the raw HTTP", true},
		{"no client reaches welcome", "sock welcome", false},
		{"an image that is no service", "app", false},
	} {
		if strings.Contains(out, tc.want) != tc.present {
			t.Errorf("%s: %q in the hints is %v, want %v:\n%s", tc.name, tc.want, !tc.present, tc.present, out)
		}
	}
}
