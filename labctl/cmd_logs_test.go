package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestHealthFilter: the healthcheck's own lines are left out, whatever the
// writes' boundaries; every other line passes unchanged, JSON or not.
func TestHealthFilter(t *testing.T) {
	in := `{"time":"t","level":"INFO","msg":"listening","service":"echo","network":"tcp","addr":"[::]:7"}
{"msg":"conn","peer":"127.0.72.67:40000","local":"127.0.0.1:7","bytes_in":0,"reason":"peer closed","healthcheck":true}
{"msg":"conn","peer":"[fd00::3]:5000","local":"[fd00::2]:7","bytes_in":6,"reason":"peer closed"}
{"msg":"datagram","peer":"127.0.72.67:40001","reason":"echoed","healthcheck":true}
not json, says "healthcheck": true
{"msg":"request","path":"/healthcheck","healthcheck":false}
last line without newline`
	want := `{"time":"t","level":"INFO","msg":"listening","service":"echo","network":"tcp","addr":"[::]:7"}
{"msg":"conn","peer":"[fd00::3]:5000","local":"[fd00::2]:7","bytes_in":6,"reason":"peer closed"}
not json, says "healthcheck": true
{"msg":"request","path":"/healthcheck","healthcheck":false}
last line without newline`
	for _, size := range []int{1, 7, 100, len(in)} {
		var out bytes.Buffer
		f := &healthFilter{w: &out}
		for p := in; p != ""; {
			n := min(size, len(p))
			if k, err := f.Write([]byte(p[:n])); k != n || err != nil {
				t.Fatalf("Write = %d, %v", k, err)
			}
			p = p[n:]
		}
		f.Flush()
		if out.String() != want {
			t.Errorf("writes of %d bytes:\n%s\nwant\n%s", size, out.String(), want)
		}
	}
}

func TestLabFlagNeeded(t *testing.T) {
	cases := []struct {
		lab    string
		others []string
		env    string
		want   bool
	}{
		{"default", nil, "", false},
		{"default", []string{"ci-1234"}, "", true},
		{"mine", nil, "", true},
		{"mine", []string{"default"}, "mine", false},
		{"default", nil, "mine", true},
	}
	for _, c := range cases {
		if got := labFlagNeeded(c.lab, c.others, c.env); got != c.want {
			t.Errorf("labFlagNeeded(%q, %q, env %q) = %v, want %v", c.lab, c.others, c.env, got, c.want)
		}
	}
}

// TestLabFromEnvironment: with SOCKETLAB_LAB set and no --lab, a command acts
// on that lab (here: one that is not up, so the error names it and says where
// the name came from); --lab still wins.
func TestLabFromEnvironment(t *testing.T) {
	t.Setenv(labEnv, "learner-nosuchlab")
	name, err := pickLab(t.Context(), "")
	if err != nil || name != "learner-nosuchlab" {
		t.Fatalf("pickLab = %q, %v", name, err)
	}
	if name, _ := pickLab(t.Context(), "other"); name != "other" {
		t.Errorf("--lab other gave %q", name)
	}
	for _, cmd := range [][]string{{"logs", "echo"}, {"exec", "client", "--", "sock", "--help"}} {
		code, _, stderr := labctl(t, cmd...)
		if code == 0 || !strings.Contains(stderr, "SOCKETLAB_LAB=learner-nosuchlab") {
			t.Errorf("%v: exit %d, stderr %q", cmd, code, stderr)
		}
	}
	_, stdout, _ := labctl(t, "logs", "--help")
	if !strings.Contains(stdout, "$SOCKETLAB_LAB") {
		t.Errorf("logs --help does not mention $SOCKETLAB_LAB:\n%s", stdout)
	}
}
