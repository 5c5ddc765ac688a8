package main

import (
	"strings"
	"testing"

	"socketlab/helpers/impair/shape"
)

// TestImpairUsage: settings are checked before the engine is asked
// anything, so a bad one is exit status 2 with the reason, and nothing is
// started.
func TestImpairUsage(t *testing.T) {
	tests := []usageCase{
		{"no node", []string{"impair", "--loss", "20%"}, []string{"name the NODE[:NETWORK] to impair"}},
		{"no setting", []string{"impair", "client"}, []string{"give at least one of --delay"}},
		{"loss above 100%", []string{"impair", "client", "--loss", "120%"}, []string{`--loss "120%": not between 0% and 100%`}},
		{"duration without unit", []string{"impair", "client", "--delay", "50"}, []string{`--delay "50": a duration needs a unit`, "50ms"}},
		{"byte rate", []string{"impair", "client", "--rate", "1mbps"}, []string{"byte units are ambiguous", "8mbit"}},
		{"jitter above delay", []string{"impair", "client", "--delay", "5ms", "--jitter", "10ms"}, []string{"jitter", "larger than the delay"}},
		{"reorder without delay", []string{"impair", "client", "--reorder", "10%"}, []string{"reorder", "needs a delay"}},
		{"clear with settings", []string{"impair", "client", "--clear", "--loss", "5%"}, []string{"--clear takes no settings"}},
		{"no node name", []string{"impair", ":front", "--loss", "5%"}, []string{"names no node"}},
	}
	usageErrors(t, tests)
}

// TestWriteDoctor: the table says which mechanism the kernel gives and
// what lacks, in words a learner can act on.
func TestWriteDoctor(t *testing.T) {
	tests := []struct {
		name string
		rep  doctorReport
		want []string
	}{
		{"fallback", doctorReport{Impair: &shape.Probe{TBF: true, NetdevEgress: true, NFQueue: true, Mechanism: shape.MechanismFallback},
			Capture: true, CaptureImage: "socketlab/capture:latest"},
			[]string{"impairment      fallback", "this kernel has no netem", "capture         yes", "IPv6 isolation  no", "all built"}},
		{"isolated by labctl", doctorReport{Impair: &shape.Probe{Netem: true, Mechanism: shape.MechanismNetem}, Isolate: true},
			[]string{"impairment      netem", "IPv6 isolation  by labctl", "forward guard   by labctl"}},
		{"rootless podman", doctorReport{Impair: &shape.Probe{Netem: true, Mechanism: shape.MechanismNetem}, Isolate: true,
			Engine: doctorEngine{Product: "Podman", Version: "4.3.1", APIVersion: "1.41", Rootless: true, ImageStore: "containers/storage, vfs"}},
			[]string{"engine          Podman 4.3.1, rootless (API 1.41, images: containers/storage, vfs)", "forward guard   none", "the host cannot reach node addresses"}},
		{"nothing", doctorReport{Impair: &shape.Probe{Missing: []string{"sch_netem", "sch_tbf"}}, CaptureImage: "socketlab/capture:latest",
			IPv6Isolated: true, MissingImages: []string{"capture"}},
			[]string{"impairment      none", "lacks sch_netem, sch_tbf", "capture         no", "run make images", "IPv6 isolation  by the engine", "missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			writeDoctor(&b, tt.rep)
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("doctor table lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}
