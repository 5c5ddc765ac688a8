package isolate

import (
	"io"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// TestArgs: a filter goes to the helper's command line and back whole, and
// the command line an older labctl gives (IPv6 prefixes only) still means
// an input filter and no seal.
func TestArgs(t *testing.T) {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	for _, f := range []Filter{
		{Input: []netip.Prefix{p("fd5c:1ab:0:12::/64")}},
		{NoInput: true},
		{Input: []netip.Prefix{p("fd5c:1ab:0:12::/64"), p("fd5c:1ab:0:13::/64")}, Gateways: []netip.Addr{a("10.200.12.1"), a("fd5c:1ab:0:12::1")}, Seal: &Seal{
			Lab: []netip.Prefix{p("10.200.12.0/24"), p("fd5c:1ab:0:12::/64")}, DNS: []netip.Addr{a("10.200.12.1")},
		}},
		{Input4: true, Gateways: []netip.Addr{a("10.200.12.1")}, Input: []netip.Prefix{p("10.200.12.0/24")}},
		{NoInput: true, Seal: &Seal{}},
		{Input: []netip.Prefix{p("10.200.12.0/24"), p("fd5c:1ab:0:12::/64")}, Input4: true},
		{Input4: true, Input: []netip.Prefix{p("fd5c:1ab:0:12::/64")}, Seal: &Seal{Lab: []netip.Prefix{p("10.200.12.0/24")}}},
	} {
		got, clear, err := ParseArgs(f.Args(), io.Discard)
		if err != nil || clear || !reflect.DeepEqual(got, f) {
			t.Errorf("ParseArgs(%q) = %+v, %v, %v; want %+v", f.Args(), got, clear, err, f)
		}
	}
	old, _, err := ParseArgs([]string{"fd5c:1ab:0:12::/64"}, io.Discard)
	if err != nil || old.Seal != nil || old.NoInput || len(old.Input) != 1 {
		t.Errorf("an older labctl's command line: %+v, %v", old, err)
	}
	// The rootless Podman form of the engines' work: --ipv4, then gateways.
	podman, _, err := ParseArgs([]string{"--ipv4", "--gateway", "10.200.12.1", "10.200.12.0/24"}, io.Discard)
	if err != nil || !podman.Input4 || len(podman.Gateways) != 1 || podman.Seal != nil {
		t.Errorf("--ipv4 --gateway: %+v, %v", podman, err)
	}
	if _, clear, err := ParseArgs([]string{"--clear"}, io.Discard); !clear || err != nil {
		t.Errorf("--clear: %v, %v", clear, err)
	}
}

func TestArgsErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"10.0.0.0/88"}, `"10.0.0.0/88": want a prefix`},
		{[]string{"--lab", "10.0.0.0/8"}, "--lab and --dns go with --seal"},
		{[]string{"--seal", "--lab", "x"}, "want a prefix such as"},
		{[]string{"--seal", "--gateway", "10.0.0.0/8"}, "want an address such as"},
		{[]string{"--clear", "--seal"}, "--clear takes nothing else"},
		{[]string{"--no-input", "fd00::/64"}, "--no-input takes no prefixes"},
	} {
		var out strings.Builder
		_, _, err := ParseArgs(c.args, &out)
		if err == nil || !strings.Contains(err.Error()+out.String(), c.want) {
			t.Errorf("ParseArgs(%q): %v, %q; want %q", c.args, err, out.String(), c.want)
		}
	}
}
