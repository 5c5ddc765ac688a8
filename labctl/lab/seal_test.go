package lab_test

import (
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"socketlab/helpers/isolate"
	"socketlab/internal/images"
	"socketlab/labctl/backend"
	"socketlab/labctl/backend/backendtest"
	"socketlab/labctl/lab"
)

// TestUpSealsEveryNode: up runs the isolation helper in every node with a
// seal to the lab's own subnets (where labctl cannot enter a namespace
// itself, as against a remote engine), and a stale helper image that does
// not know the command line fails up with what to do.
func TestUpSealsEveryNode(t *testing.T) {
	e, f := fakeEngine(t)
	var cmds [][]string
	others := f.HelperFunc
	f.HelperFunc = func(spec backend.HelperSpec) backendtest.HelperRun {
		if spec.Purpose == lab.PurposeIsolate {
			cmds = append(cmds, spec.Cmd)
		}
		return others(spec)
	}
	l := up(t, e)
	st, err := l.Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var subnets []netip.Prefix
	for _, n := range st.Networks {
		for _, s := range []string{n.IPv4, n.IPv6} {
			if p, err := netip.ParsePrefix(s); err == nil {
				subnets = append(subnets, p)
			}
		}
	}
	if len(cmds) != len(st.Nodes) {
		t.Fatalf("the isolation helper ran %d times for %d nodes", len(cmds), len(st.Nodes))
	}
	for _, cmd := range cmds {
		fl, _, err := isolate.ParseArgs(cmd, io.Discard)
		if err != nil {
			t.Fatalf("isolate %q: %v", cmd, err)
		}
		if fl.Seal == nil {
			t.Errorf("isolate %q: no seal", cmd)
			continue
		}
		for _, s := range subnets {
			if !slices.Contains(fl.Seal.Lab, s) {
				t.Errorf("isolate %q: the seal leaves out the lab's subnet %s", cmd, s)
			}
		}
		if len(fl.Seal.Lab) != len(subnets) {
			t.Errorf("isolate %q: the seal lets the node send to %v, want the lab's %v only", cmd, fl.Seal.Lab, subnets)
		}
	}

	e2, f2 := fakeEngine(t)
	others = f2.HelperFunc
	f2.HelperFunc = func(spec backend.HelperSpec) backendtest.HelperRun {
		if spec.Purpose == lab.PurposeIsolate {
			return backendtest.HelperRun{Exit: 2}
		}
		return others(spec)
	}
	_, err = e2.Up(ctx(t), fakeLab(t), lab.WithName("fk"))
	want := "the image " + images.Ref(images.Isolate, "") + " is older than this labctl: rebuild it with make build && scripts/images.sh isolate"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("up with a helper image that does not know --seal: %v\nwant it to say %q", err, want)
	}
}
