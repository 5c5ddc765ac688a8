package lab

import (
	"encoding/json"
	"errors"
	"net/netip"
	"testing"

	"socketlab/labctl/scenario"
)

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"default", "a", "it-echo-3f2a", "lab2"} {
		if err := checkName(ok); err != nil {
			t.Errorf("checkName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Default", "-x", "x-", "a_b", "a.b", "a b", "0123456789012345678901234567890123456789012345678"} {
		if err := checkName(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("checkName(%q) = %v, want ErrInvalid", bad, err)
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

func TestHealthArgv(t *testing.T) {
	tests := []struct {
		test []string
		want []string
	}{
		{[]string{"CMD", "/bin/echo", "healthcheck"}, []string{"/bin/echo", "healthcheck"}},
		{[]string{"CMD-SHELL", "true"}, []string{"/bin/sh", "-c", "true"}},
		{[]string{"NONE"}, nil},
		{nil, nil},
	}
	for _, tt := range tests {
		got := healthArgv(tt.test)
		if len(got) != len(tt.want) || len(got) > 0 && got[len(got)-1] != tt.want[len(tt.want)-1] {
			t.Errorf("healthArgv(%q) = %q, want %q", tt.test, got, tt.want)
		}
	}
}

func TestEndpoint(t *testing.T) {
	es := endpoint(attachment{IPv4: netip.MustParseAddr("10.1.0.5"), IPv6: netip.MustParseAddr("fd00:1::5"), Aliases: []string{"n", "x"}})
	if es.IPAMConfig.IPv4Address.String() != "10.1.0.5" || es.IPAMConfig.IPv6Address.String() != "fd00:1::5" || len(es.Aliases) != 2 {
		t.Errorf("endpoint = %+v %+v", es, es.IPAMConfig)
	}
	if es := endpoint(attachment{Aliases: []string{"n"}}); es.IPAMConfig != nil {
		t.Error("no fixed address, yet an IPAM config")
	}
	// The attachment label is read back by Connect: a bad address in it is
	// an error there, and the label is written as before the typed model.
	var a attachment
	if err := json.Unmarshal([]byte(`{"ipv4":"10.1.0.300"}`), &a); err == nil {
		t.Errorf("bad address in a label: %+v", a)
	}
	if got := attachLabel(&scenario.Attachment{Network: "front", IPv6: netip.MustParseAddr("fd00:1::5")}, "n"); got != `{"ipv6":"fd00:1::5","aliases":["n"]}` {
		t.Errorf("attachLabel = %s", got)
	}
}
