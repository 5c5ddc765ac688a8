package lab

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"testing"

	"socketlab/labctl/scenario"
)

// TestLabNames: a bad lab name is refused before the backend is asked
// anything (a nil backend would panic).
func TestLabNames(t *testing.T) {
	e, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "Default", "-x", "x-", "a_b", "a.b", "a b", "0123456789012345678901234567890123456789012345678"} {
		if err := e.Down(context.Background(), bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Down(%q) = %v, want ErrInvalid", bad, err)
		}
		if _, err := e.Open(context.Background(), bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	for _, ok := range []string{"default", "a", "it-echo-3f2a", "lab2"} {
		if err := scenario.CheckLabName(ok); err != nil {
			t.Errorf("CheckLabName(%q) = %v", ok, err)
		}
	}
}

func TestNodeSpec(t *testing.T) {
	node := func(env map[string]string, args ...string) *scenario.Node {
		return &scenario.Node{Name: "n", Image: "echo", Env: env, Args: args,
			Networks: []*scenario.Attachment{{Network: "front"}}}
	}
	a := nodeSpec(node(map[string]string{"A": "1", "B": "2", "C": "3"}))
	for range 10 { // map order must not matter
		if b := nodeSpec(node(map[string]string{"C": "3", "B": "2", "A": "1"})); a != b {
			t.Fatalf("same node, different specs %s %s", a, b)
		}
	}
	if b := nodeSpec(node(map[string]string{"A": "1", "B": "2", "C": "4"})); a == b {
		t.Error("different env, same spec")
	}
	if b := nodeSpec(node(map[string]string{"A": "1", "B": "2", "C": "3"}, "--port", "8")); a == b {
		t.Error("different args, same spec")
	}
	n1 := &scenario.Network{Name: "front"}
	n2 := &scenario.Network{Name: "front", Stack: scenario.Dual}
	if networkSpec(n1) != networkSpec(n2) {
		t.Error("default stack and dual differ")
	}
	if networkSpec(n1) == networkSpec(&scenario.Network{Name: "front", IPv4: netip.MustParsePrefix("10.1.0.0/24")}) {
		t.Error("a fixed subnet does not change the spec")
	}
}

func TestAttachLabel(t *testing.T) {
	// The attachment label is read back by Connect: a bad address in it is
	// an error there, and the label is written as before the typed model.
	var a attachment
	if err := json.Unmarshal([]byte(`{"ipv4":"10.1.0.300"}`), &a); err == nil {
		t.Errorf("bad address in a label: %+v", a)
	}
	att := attachmentOf(&scenario.Attachment{Network: "front", IPv6: netip.MustParseAddr("fd00:1::5")}, "n")
	if got := attachLabel(att); got != `{"ipv6":"fd00:1::5","aliases":["n"]}` {
		t.Errorf("attachLabel = %s", got)
	}
}
