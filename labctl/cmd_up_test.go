package main

import (
	"testing"

	"socketlab/labctl/lab"
)

// TestReadySummary: up's last line says, in words, what each node passed.
func TestReadySummary(t *testing.T) {
	nodes := func(ready ...string) *lab.Status {
		st := &lab.Status{}
		for _, r := range ready {
			st.Nodes = append(st.Nodes, lab.NodeStatus{Ready: r})
		}
		return st
	}
	cases := []struct {
		name string
		st   *lab.Status
		want string
	}{
		{"one check", nodes("tcp 65432"), "1 passed its ready: check"},
		{"mixed", nodes("healthcheck", "healthcheck", "tcp 7", "udp 7", ""),
			"2 passed their image's healthchecks, 2 passed their ready: checks, 1 running (no readiness check)"},
		{"one healthcheck", nodes("healthcheck"), "1 passed its image's healthcheck"},
		{"none", nodes(), "no nodes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := readySummary(c.st); got != c.want {
				t.Errorf("readySummary = %q, want %q", got, c.want)
			}
		})
	}
}
