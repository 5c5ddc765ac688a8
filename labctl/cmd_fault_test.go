package main

import (
	"strings"
	"testing"

	"socketlab/helpers/impair/shape"
)

// TestFaultUsage: a fault is checked before the engine is asked anything,
// so a bad one is exit status 2 with the reason, and nothing is started.
func TestFaultUsage(t *testing.T) {
	tests := []usageCase{
		{"no node", []string{"fault", "--match", "udp", "--drop"}, []string{"name the NODE[:NETWORK] whose packets to pick"}},
		{"no match", []string{"fault", "echo", "--drop"}, []string{"say which packets with --match EXPR"}},
		{"no action", []string{"fault", "echo", "--match", "udp"}, []string{"give one action of --drop, --delay D", "(got 0: )"}},
		{"two actions", []string{"fault", "echo", "--match", "udp", "--drop", "--reorder"}, []string{"(got 2: --drop --reorder)"}},
		{"bad filter", []string{"fault", "echo", "--match", "tcp and synack", "--drop"}, []string{`--match "tcp and synack": column 9: unknown word "synack"`, "syn, ack, fin, rst, psh or data"}},
		{"nth and first", []string{"fault", "echo", "--match", "udp", "--drop", "--nth", "2", "--first", "3"}, []string{"nth, first and every exclude each other"}},
		{"count without every", []string{"fault", "echo", "--match", "udp", "--drop", "--count", "3"}, []string{"--count", "count limits every"}},
		{"delay without unit", []string{"fault", "echo", "--match", "udp", "--delay", "300"}, []string{`--delay "300": a duration needs a unit`, "300ms"}},
		{"duplicate on ingress", []string{"fault", "echo", "--match", "udp", "--duplicate", "--ingress"}, []string{"duplicate works on what the node sends only"}},
		{"clear with a fault", []string{"fault", "echo", "--clear", "--drop"}, []string{"--clear takes no --drop"}},
		{"no node name", []string{"fault", ":front", "--match", "udp", "--drop"}, []string{"names no node"}},
	}
	usageErrors(t, tests)
}

// TestWriteFaultRow: doctor's faults row follows the probe.
func TestWriteFaultRow(t *testing.T) {
	tests := []struct {
		name string
		p    *shape.Probe
		want string
	}{
		{"delay line", &shape.Probe{NFQueue: true, NetdevEgress: true}, "faults\tdelay line\tlabctl fault picks single packets"},
		{"no egress hook", &shape.Probe{NFQueue: true}, "--duplicate needs the nftables egress hook"},
		{"no queue", &shape.Probe{NetdevEgress: true}, "faults\tnone\tthe kernel lacks nfnetlink_queue"},
		{"probe failed", nil, "faults\tunknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			writeFaultRow(&b, tt.p)
			if !strings.Contains(b.String(), tt.want) {
				t.Errorf("row %q lacks %q", b.String(), tt.want)
			}
		})
	}
}

// usageCase is a command line that must exit 2 with want in its stderr.
type usageCase struct {
	name string
	args []string
	want []string
}

// usageErrors runs each case, expecting exit status 2 and its words.
func usageErrors(t *testing.T, tests []usageCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := labctl(t, tt.args...)
			if code != 2 {
				t.Errorf("exit status %d, want 2 (stderr %q)", code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
		})
	}
}
