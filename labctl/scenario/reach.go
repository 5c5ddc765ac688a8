package scenario

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// target checks a run step's target and, unless the step expects a
// failure, that the client can reach it at this point of the steps.
func (v *validator) target(path string, r *RunStep, from *Node) {
	tp := path + ".target"
	if r.Target == "" {
		if !v.bad(tp) {
			hint := "add target: with a node name, an alias or an address"
			if v.nodes[r.Client] != nil {
				hint = fmt.Sprintf("add target: %s", r.Client)
			}
			v.errorf(path, hint, "the step has no target")
		}
		return
	}
	host, port, problem, hint := splitTarget(r.Target, r.Client)
	if problem != "" {
		v.errorf(tp, hint, "%s", problem)
		return
	}
	if port != "" {
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			v.errorf(tp, "a port is a number from 1 to 65535", "port %q is not valid", port)
			return
		}
	}
	if a, err := netip.ParseAddr(host); err == nil {
		fam := ipv4
		if !a.Unmap().Is4() {
			fam = ipv6
		}
		switch r.Family {
		case FamilyBoth:
			v.errorf(tp, "name a node instead, or leave family out", "family both runs the step over IPv4 and IPv6, but %s is an %s address", host, fam.name)
		case FamilyIPv4, FamilyIPv6:
			if string(r.Family) != fam.key {
				v.errorf(tp, "name a node instead, or change family", "%s is an %s address, but the step's family is %s", host, fam.name, r.Family)
			}
		}
		return
	}
	name := strings.ToLower(host)
	if name == "localhost" {
		return
	}
	if !v.hostNames()[name] {
		h := didYouMean(host, sortedKeys(v.hostNames()))
		if h == "" {
			h = "name a node, an alias or an address"
			if na := nonASCII(host); na != "" {
				h = na + ": " + h
			}
		}
		v.errorf(tp, h, "node %q is not defined", host)
		return
	}
	if from == nil || r.Expect != nil && r.Expect.Fail != "" || v.state[from.Name].broken {
		return
	}
	v.reachable(tp, r, from, name)
}

// hostNames are the names a target may use: the nodes' names and aliases.
func (v *validator) hostNames() map[string]bool {
	if v.hosts == nil {
		v.hosts = map[string]bool{}
		for _, name := range v.names {
			v.hosts[name] = true
		}
		for _, ni := range v.nets {
			for al := range ni.aliases {
				v.hosts[al] = true
			}
		}
	}
	return v.hosts
}

// reachable reports a name the step's node cannot reach: not on a shared
// network, stopped, or only over the other family.
func (v *validator) reachable(path string, r *RunStep, from *Node, name string) {
	const expectFail = "or expect a failure, e.g. expect: {fail: any}"
	fromState := v.state[from.Name]
	shared := map[string]bool{} // networks on which name resolves for from
	var stopped []string
	for _, o := range v.owners(name) {
		ns := v.state[o.node]
		if !ns.nets[o.network] || o.alias && !ns.aliasNets[o.network] {
			continue
		}
		if ns.stoppedBy >= 0 {
			stopped = append(stopped, fmt.Sprintf("node %q was stopped by steps[%d]", o.node, ns.stoppedBy))
			continue
		}
		if fromState.nets[o.network] {
			shared[o.network] = true
		}
	}
	if len(shared) == 0 {
		if len(stopped) > 0 {
			slices.Sort(stopped)
			stopped = slices.Compact(stopped)
			v.errorf(path, "start it again, "+expectFail, "%s", strings.Join(stopped, "; "))
			return
		}
		v.errorf(path, "join them to a common network, "+expectFail, "node %q shares no network with %q", from.Name, name)
		return
	}
	var fams []*family
	switch r.Family {
	case FamilyIPv4:
		fams = append(fams, ipv4)
	case FamilyIPv6:
		fams = append(fams, ipv6)
	case FamilyBoth:
		fams = append(fams, ipv4, ipv6)
	}
	for _, f := range fams {
		ok := false
		for netName := range shared {
			if f.carriedBy(v.nets[netName].n.Stack) {
				ok = true
			}
		}
		if !ok {
			v.errorf(path, "change family, "+expectFail, "no network shared by %q and %q carries %s", from.Name, name, f.name)
		}
	}
}

// owner is a node a name may resolve to, on one network: by the node's name
// on the networks it is on at this step, or by an alias on the network
// declaring it.
type owner struct {
	node, network string
	alias         bool
}

// owners lists the nodes and networks name may resolve to at this step.
func (v *validator) owners(name string) []owner {
	if v.owned == nil {
		v.owned = map[string][]owner{}
		for _, nodeName := range v.names {
			for _, a := range v.nodes[nodeName].Networks {
				if a == nil || v.nets[a.Network] == nil {
					continue
				}
				for _, al := range a.Aliases {
					v.owned[al] = append(v.owned[al], owner{nodeName, a.Network, true})
				}
			}
		}
	}
	out := v.owned[name]
	if ns := v.state[name]; ns != nil {
		for netName := range ns.nets {
			out = append(out[:len(out):len(out)], owner{name, netName, false})
		}
	}
	return out
}

// splitTarget splits a step's target into host and port (port may be "").
// problem and hint say what is wrong with it, if anything.
func splitTarget(t, client string) (host, port, problem, hint string) {
	if client == "browse" && !strings.Contains(t, "://") && strings.Contains(t, "/") {
		t = "http://" + t // browse takes web/whoami for http://web/whoami
	}
	if strings.Contains(t, "://") {
		if client != "browse" {
			return "", "", fmt.Sprintf("target %q is a URL, which only browse takes", t), "write host or host:port"
		}
		u, err := url.Parse(t)
		if err != nil || u.Hostname() == "" {
			return "", "", fmt.Sprintf("target %q is not a valid URL", t), "e.g. http://web/"
		}
		if u.Scheme != "http" {
			return "", "", fmt.Sprintf("target %q is not an http URL", t), "browse speaks plain HTTP: http://web/"
		}
		return u.Hostname(), u.Port(), "", ""
	}
	if _, err := netip.ParseAddr(t); err == nil {
		return t, "", "", ""
	}
	if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
		return t[1 : len(t)-1], "", badBracket(t[1 : len(t)-1]), "brackets hold an IPv6 address"
	}
	if strings.Contains(t, ":") {
		h, p, err := net.SplitHostPort(t)
		if err != nil {
			return "", "", fmt.Sprintf("target %q is not host or host:port", t), "write an IPv6 address with a port as [fd00::5]:7"
		}
		if strings.HasPrefix(t, "[") {
			if problem := badBracket(h); problem != "" {
				return "", "", problem, "brackets hold an IPv6 address"
			}
		}
		return h, p, "", ""
	}
	if t != strings.TrimSpace(t) || strings.ContainsAny(t, " \t/") {
		return "", "", fmt.Sprintf("target %q is not host or host:port", t), "e.g. welcome or welcome:9999"
	}
	return t, "", "", ""
}

func badBracket(h string) string {
	if a, err := netip.ParseAddr(h); err != nil || !a.Is6() {
		return fmt.Sprintf("%q in brackets is not an IPv6 address", h)
	}
	return ""
}
