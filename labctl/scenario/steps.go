package scenario

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// stepFlags are the client flags a step sets from its own fields.
var stepFlags = map[string]string{
	"-4": "use family: ipv4 instead", "--ipv4": "use family: ipv4 instead",
	"-6": "use family: ipv6 instead", "--ipv6": "use family: ipv6 instead",
	"-t": "use the step's timeout: instead", "--timeout": "use the step's timeout: instead",
	"--json": "remove it: a step always reads the client's JSON",
}

func (v *validator) steps() {
	names := map[string]int{}
	for i, st := range v.s.Steps {
		path := fmt.Sprintf("steps[%d]", i)
		if st == nil {
			v.errorf(path, "", "the step is nil")
			continue
		}
		if st.Name != "" {
			if j, dup := names[st.Name]; dup {
				v.errorf(path+".name", fmt.Sprintf("steps[%d] has it too; reports tell steps apart by name", j), "step name %q is used twice", st.Name)
			} else {
				names[st.Name] = i
			}
		}
		v.durations(path, st)
		kinds := 0
		for _, set := range []bool{st.Run != "", len(st.Exec) > 0, st.Action != ""} {
			if set {
				kinds++
			}
		}
		switch {
		case kinds > 1:
			v.errorf(path, "split it into steps of their own", "a step has one of run, exec or action, not several")
		case st.Run != "":
			v.runStep(path, st)
		case len(st.Exec) > 0:
			v.execStep(path, st)
		case v.s.written(path + ".exec"):
			v.errorf(path+".exec", "write the command as a list: [python3, /lab/client.py]", "exec is empty")
		case st.Action != "":
			v.actionStep(path, i, st)
		case !v.bad(path+".run") && !v.bad(path+".action") && !v.bad(path+".exec"):
			v.errorf(path, "add run: with a client, exec: with a command, or action: with "+quoteList(actions), "the step has neither run, exec nor action")
		}
	}
}

func (v *validator) durations(path string, st *Step) {
	for _, d := range []struct {
		key string
		val Duration
	}{{"timeout", st.Timeout}, {"for", st.For}} {
		p := path + "." + d.key
		if d.val < 0 || d.val == 0 && v.s.written(p) && !v.bad(p) {
			v.errorf(p, "", "%s %s is not positive", d.key, d.val)
		}
	}
}

// node checks the node a step names; it returns it, or nil.
func (v *validator) node(path string, st *Step, hint string) *Node {
	if st.Node == "" {
		if !v.bad(path + ".node") {
			v.errorf(path, hint, "the step names no node")
		}
		return nil
	}
	n := v.nodes[st.Node]
	if n == nil {
		h := didYouMean(st.Node, v.names)
		if h == "" && len(v.names) > 0 {
			h = "the lab's nodes are " + quoteList(v.names)
		}
		v.errorf(path+".node", h, "node %q is not defined", st.Node)
	}
	return n
}

// only reports the fields of a step that do not go with what it is (what):
// fields maps each field's key to whether it is set.
func (v *validator) only(path, what, hint string, fields map[string]bool) {
	keys := make([]string, 0, len(fields))
	for k, set := range fields {
		if set {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v.errorf(path+"."+k, hint, "%s does not go with %s", k, what)
	}
}

func (v *validator) clientNodes() []string {
	var out []string
	for _, name := range v.names {
		if v.nodes[name].HasSock() {
			out = append(out, name)
		}
	}
	return out
}

func (v *validator) runStep(path string, st *Step) {
	v.only(path, "run", "it belongs to actions: remove it", map[string]bool{"network": st.Network != "", "for": st.For != 0, "impair": st.Impair != nil})
	if !slices.Contains(clients, st.Run) {
		hint := didYouMean(st.Run, clients)
		if st.Run == "web" || st.Run == "http" || st.Run == "curl" {
			hint = `the web client is "browse"`
		}
		if hint == "" {
			hint = "one of " + quoteList(clients)
		}
		v.errorf(path+".run", hint, "client %q is not known", st.Run)
	}
	hint := "add node: with the client node the step runs in"
	if cn := v.clientNodes(); len(cn) > 0 {
		hint = fmt.Sprintf("add node: %s", cn[0])
	}
	n := v.node(path, st, hint)
	if n != nil && !n.HasSock() {
		hint := "run steps in a node with image: client or toolbox, or run the command with exec:"
		if cn := v.clientNodes(); len(cn) > 0 {
			hint = fmt.Sprintf("run it in %s, or run a command of the image with exec:", quoteList(cn))
		}
		v.errorf(path+".node", hint, "node %q runs the %s image, which has no sock clients", st.Node, n.Image)
	}
	if n != nil {
		if by := v.state[n.Name].stoppedBy; by >= 0 {
			v.errorf(path+".node", "start it in an earlier step", "node %q was stopped by steps[%d]", n.Name, by)
		}
	}
	if st.Family != FamilyAny && !slices.Contains(stepFamilies, string(st.Family)) {
		v.oneOf(path+".family", "family", string(st.Family), stepFamilies)
	}
	for j, a := range st.Args {
		if use, ok := stepFlags[a]; ok {
			v.errorf(fmt.Sprintf("%s.args[%d]", path, j), use, "the step sets %s itself", a)
		}
	}
	v.target(path, st, n)
	v.expect(path, st)
	v.wire(path, st)
}

// target checks a run step's target and, unless the step expects a
// failure, that the client can reach it at this point of the steps.
func (v *validator) target(path string, st *Step, from *Node) {
	tp := path + ".target"
	if st.Target == "" {
		if !v.bad(tp) {
			hint := "add target: with a node name, an alias or an address"
			if v.nodes[st.Run] != nil {
				hint = fmt.Sprintf("add target: %s", st.Run)
			}
			v.errorf(path, hint, "the step has no target")
		}
		return
	}
	host, port, problem, hint := splitTarget(st.Target, st.Run)
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
		switch st.Family {
		case FamilyBoth:
			v.errorf(tp, "name a node instead, or leave family out", "family both runs the step over IPv4 and IPv6, but %s is an %s address", host, fam.name)
		case FamilyIPv4, FamilyIPv6:
			if string(st.Family) != fam.key {
				v.errorf(tp, "name a node instead, or change family", "%s is an %s address, but the step's family is %s", host, fam.name, st.Family)
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
	if from == nil || st.Expect != nil && st.Expect.Fail != "" || v.state[from.Name].broken {
		return
	}
	v.reachable(tp, st, from, name)
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
func (v *validator) reachable(path string, st *Step, from *Node, name string) {
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
	switch st.Family {
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

func (v *validator) expect(path string, st *Step) {
	e := st.Expect
	if e == nil {
		return
	}
	ep := path + ".expect"
	v.only(ep, "run", "it judges an exec step's command: remove it", map[string]bool{
		"stderr": e.Stderr != nil, "exit": e.Exit != nil,
	})
	if e.Fail != "" {
		if !slices.Contains(failKinds, string(e.Fail)) {
			v.oneOf(ep+".fail", "failure", string(e.Fail), failKinds)
		}
		v.only(ep, "fail", "a failing client has no output to check: remove one", map[string]bool{
			"contains": e.Contains != "", "equals": e.Equals != nil, "matches": e.Matches != "",
			"family": e.Family != "", "within": e.Within != 0,
			"slower_than": e.SlowerThan != 0, "min_replies": e.MinReplies != 0, "max_replies": e.MaxReplies != 0,
		})
		return
	}
	if e.Matches != "" {
		if _, err := regexp.Compile(e.Matches); err != nil {
			v.errorf(ep+".matches", "the syntax is RE2, as in Go's regexp package",
				"invalid regular expression: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
	}
	if e.Family != "" {
		fp := ep + ".family"
		switch {
		case !slices.Contains(expectFamilies, string(e.Family)):
			v.oneOf(fp, "family", string(e.Family), expectFamilies)
		case st.Family == FamilyBoth:
			v.errorf(fp, "the step runs once per family: split it into two steps", "expect.family cannot go with family: both")
		case st.Family != FamilyAny && !strings.EqualFold(string(st.Family), string(e.Family)):
			v.errorf(fp, fmt.Sprintf("did you mean %q?", familyName(st.Family)),
				"the step runs over %s but expects %s", familyName(st.Family), e.Family)
		}
	}
	if e.Within < 0 || e.Within == 0 && v.s.written(ep+".within") && !v.bad(ep+".within") {
		v.errorf(ep+".within", "", "within %s is not positive", e.Within)
	}
	timeout := st.TimeoutOrDefault()
	v.expectLink(ep, st)
	if time.Duration(e.Within) >= timeout {
		v.errorf(ep+".within", fmt.Sprintf("raise the step's timeout above %s", e.Within),
			"within %s is not shorter than the step's timeout, %s", e.Within, timeout)
	}
}

// familyName is the name of a step family's one family: ipv4 → IPv4.
func familyName(f Family) string {
	switch f {
	case FamilyIPv4:
		return ipv4.name
	case FamilyIPv6:
		return ipv6.name
	}
	return string(f)
}

func (v *validator) actionStep(path string, i int, st *Step) {
	v.only(path, "action", "it belongs to run steps: remove it", map[string]bool{
		"target": st.Target != "", "family": st.Family != "", "args": len(st.Args) > 0, "expect": st.Expect != nil,
		"background": st.Background,
	})
	if !slices.Contains(actions, string(st.Action)) {
		hint := didYouMean(string(st.Action), actions)
		switch st.Action {
		case "restart":
			hint = "stop, then start, in two steps"
		case "wait", "pause":
			hint = `did you mean "sleep"?`
		}
		if hint == "" {
			hint = "one of " + quoteList(actions)
		}
		v.errorf(path+".action", hint, "action %q is not known", st.Action)
		return
	}
	if st.Action == ActionImpair || st.Action == ActionHeal {
		v.impairStep(path, st)
		return
	}
	if st.Action != ActionDisconnect && st.Action != ActionConnect && st.Network != "" {
		v.errorf(path+".network", "remove it", "network has no meaning in a %s step", st.Action)
	}
	if st.Impair != nil {
		v.errorf(path+".impair", "remove it, or make it an impair step", "impair has no meaning in a %s step", st.Action)
	}
	if st.Action != ActionSleep && st.For != 0 {
		v.errorf(path+".for", "remove it, or add a sleep step", "for has no meaning in a %s step", st.Action)
	}
	if st.Action == ActionSleep {
		if st.For == 0 && !v.bad(path+".for") && !v.s.written(path+".for") {
			v.errorf(path, "add for: with how long, e.g. for: 2s", "a sleep step needs for")
		}
		if st.Node != "" {
			v.node(path, st, "")
		}
		return
	}
	n := v.node(path, st, fmt.Sprintf("add node: with the node to %s", st.Action))
	if n == nil {
		return
	}
	ns := v.state[n.Name]
	switch st.Action {
	case ActionStop, ActionKill:
		if ns.stoppedBy >= 0 {
			v.errorf(path+".node", "start it in between", "node %q was already stopped by steps[%d]", n.Name, ns.stoppedBy)
			return
		}
		ns.stoppedBy = i
	case ActionStart:
		if ns.stoppedBy < 0 {
			v.errorf(path+".node", "stop or kill it in an earlier step", "node %q is already running", n.Name)
			return
		}
		ns.stoppedBy = -1
	case ActionDisconnect, ActionConnect:
		v.connectStep(path, st, n, ns)
	}
}

func (v *validator) connectStep(path string, st *Step, n *Node, ns *nodeState) {
	np := path + ".network"
	if st.Network == "" {
		if !v.bad(np) {
			v.errorf(path, fmt.Sprintf("add network: with the network to %s", st.Action), "a %s step needs network", st.Action)
		}
		return
	}
	if v.nets[st.Network] == nil {
		h := didYouMean(st.Network, v.netNames)
		if h == "" && len(v.netNames) > 0 {
			h = "the lab's networks are " + quoteList(v.netNames)
		}
		v.errorf(np, h, "network %q is not defined", st.Network)
		return
	}
	joined := sortedKeys(ns.nets)
	switch {
	case st.Action == ActionDisconnect && !ns.nets[st.Network]:
		hint := fmt.Sprintf("at this step it is on %s", quoteList(joined))
		if len(joined) == 0 {
			hint = "at this step it is on no network"
		}
		v.errorf(np, hint, "node %q is not on network %q", n.Name, st.Network)
	case st.Action == ActionDisconnect:
		delete(ns.nets, st.Network)
		delete(ns.aliasNets, st.Network)
	case ns.nets[st.Network]:
		v.errorf(np, "disconnect it in an earlier step", "node %q is already on network %q", n.Name, st.Network)
	default:
		ns.nets[st.Network] = true
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
