package scenario

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// Warnings are what is valid yet cannot work as written; Validate and
// Parse do not fail on them, labctl validate prints them. A lab is sealed:
// a node on no network with egress: true reaches the lab's own networks
// only, never the host (a network's gateway address is the host's) nor
// anything beyond. So a step that expects to reach an address outside the
// lab's subnets, or a gateway, from such a node cannot succeed. Only
// addresses written in the step are judged (node names are the lab's by
// construction), and a step that expects a failure is left alone: it may
// be showing the seal.
func (s *Scenario) Warnings() Errors {
	var ws Errors
	warn := func(path, format string, args ...any) {
		p := s.where(path)
		ws = append(ws, &Error{File: s.File, Line: p.line, Column: p.column, Path: path, Reason: fmt.Sprintf(format, args...),
			Hint: "give one of the node's networks egress: true, or aim at a node of the lab"})
	}
	for i, st := range s.Steps {
		if st == nil {
			continue
		}
		n := s.Node(st.Node)
		if n == nil || s.egress(n) {
			continue
		}
		path := fmt.Sprintf("steps[%d]", i)
		var addrs []string
		switch k := st.Kind.(type) {
		case *RunStep:
			if k.Expect != nil && k.Expect.Fail != "" {
				continue
			}
			if host, _, problem, _ := splitTarget(k.Target, k.Client); problem == "" {
				addrs, path = []string{host}, path+".target"
			}
		case *ExecStep:
			if k.Expect != nil && k.Expect.Exit != nil && *k.Expect.Exit != 0 {
				continue
			}
			for _, arg := range k.Argv {
				addrs = append(addrs, hostOf(arg))
			}
			path += ".exec"
		}
		for _, h := range addrs {
			a, err := netip.ParseAddr(h)
			if err != nil || a.IsLoopback() || a.IsUnspecified() {
				continue
			}
			a = a.Unmap()
			switch in, gw := s.inLab(a); {
			case gw != "":
				warn(path, "%s is %s, an address of the host, and node %s is sealed (none of its networks has egress: true): the step cannot succeed", a, gw, n.Name)
			case !in:
				warn(path, "%s is outside the lab's networks, and node %s is sealed (none of its networks has egress: true): the step cannot succeed", a, n.Name)
			}
		}
	}
	return ws
}

// egress tells whether node n is on a network with egress: true.
func (s *Scenario) egress(n *Node) bool {
	for _, at := range n.Networks {
		if net := s.Network(at.Network); net != nil && net.Egress {
			return true
		}
	}
	return false
}

// inLab tells whether a may be an address of the lab: in a subnet the
// scenario fixes, or, when the engine picks some, in the pool it picks
// from. When a is a gateway there (a subnet's first address; the engine
// cuts its pool into /24s and /64s) gateway says whose.
func (s *Scenario) inLab(a netip.Addr) (in bool, gateway string) {
	gatewayOf := func(p netip.Prefix) bool { return a == p.Masked().Addr().Next() }
	picked := false
	for _, n := range s.Networks {
		for _, p := range []netip.Prefix{n.IPv4, n.IPv6} {
			switch {
			case !p.IsValid():
				picked = true
			case p.Contains(a) && gatewayOf(p):
				return true, "network " + n.Name + "'s gateway"
			case p.Contains(a):
				return true, ""
			}
		}
	}
	if !picked {
		return false, ""
	}
	for _, pool := range []string{DefaultPool4, DefaultPool6} {
		if p := netip.MustParsePrefix(pool); p.Contains(a) {
			block := map[bool]int{true: 24, false: 64}[a.Is4()]
			if gatewayOf(netip.PrefixFrom(a, block)) {
				return true, "the gateway of a network labctl picks"
			}
			return true, ""
		}
	}
	return false, ""
}

// hostOf is the host of a command argument written as an address,
// address:port, [address]:port or a URL; "" for anything else.
func hostOf(arg string) string {
	if strings.Contains(arg, "://") {
		if u, err := url.Parse(arg); err == nil {
			return u.Hostname()
		}
		return ""
	}
	if h, _, err := net.SplitHostPort(arg); err == nil {
		return h
	}
	return arg
}
