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

// Validate checks a scenario as Parse does (names, references, ranges,
// address families, duplicates, steps) and, when it passes, fills in the
// defaults: stack dual, step timeout 10s. It returns Errors with every
// problem found, located in the file when s came from Parse or Load.
func (s *Scenario) Validate() error {
	if errs := s.validate(); len(errs) > 0 {
		errs.sort()
		return errs
	}
	s.setDefaults()
	return nil
}

func (s *Scenario) setDefaults() {
	for _, n := range s.Networks {
		if n.Stack == "" {
			n.Stack = Dual
		}
	}
	for _, st := range s.Steps {
		if st.Timeout == 0 {
			st.Timeout = Duration(DefaultTimeout)
		}
	}
}

// Limits of the format.
const (
	maxLabName  = 32
	maxName     = 63 // a DNS label
	minMemory   = 6 << 20
	minPids     = 16
	maxIPv4Bits = 30
	maxIPv6Bits = 64
)

var (
	labelRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	envKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	memoryRE = regexp.MustCompile(`^([0-9]+)([bkmg]?)$`)

	privateIPv4 = []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
	}
	ulaIPv6 = netip.MustParsePrefix("fd00::/8")
)

// validator collects every problem of one scenario.
type validator struct {
	s        *Scenario
	errs     Errors
	nets     map[string]*netInfo
	netNames []string
	nodes    map[string]*Node
	names    []string // node names, in file order
	// state is each node's state as the steps go, for the checks that
	// depend on earlier steps.
	state map[string]*nodeState
	hosts map[string]bool    // see hostNames
	owned map[string][]owner // see owners
}

// netInfo is what validation learnt about a network.
type netInfo struct {
	n *Network
	// v4 and v6 are the fixed subnets when given and valid; v4Bad and v6Bad
	// say one was given but is wrong, so addresses in it are not checked.
	v4, v6       netip.Prefix
	v4Bad, v6Bad bool
	addrs        map[netip.Addr]string // fixed address → node
	members      []string              // nodes that join it
	memberSet    map[string]bool
	aliases      map[string]string // alias → node
}

// nodeState is a node as the steps leave it.
type nodeState struct {
	nets      map[string]bool // networks joined
	aliasNets map[string]bool // networks where its aliases still resolve
	stoppedBy int             // index of the step that stopped it, or -1
	broken    bool            // its networks have errors: skip the checks that follow from them
}

func (s *Scenario) validate() Errors {
	v := &validator{s: s, nets: map[string]*netInfo{}, nodes: map[string]*Node{}, state: map[string]*nodeState{}}
	v.labName()
	v.networks()
	v.nodeList()
	v.steps()
	return v.errs
}

// where is the position of path in the file, or of its closest ancestor.
func (s *Scenario) where(path string) position {
	if s.pos == nil {
		return position{}
	}
	for {
		if p, ok := s.pos[path]; ok {
			return p
		}
		if path == "" {
			return position{}
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			path = ""
		} else {
			path = path[:i]
		}
	}
}

// written reports whether path is written in the file (as opposed to left out).
func (s *Scenario) written(path string) bool {
	_, ok := s.pos[path]
	return ok
}

func (v *validator) errorf(path, hint, format string, args ...any) {
	v.errorAt(path, path, hint, format, args...)
}

// errorAt reports a problem named by path but located at posPath (e.g. an
// attachment's name inside the attachment).
func (v *validator) errorAt(posPath, path, hint, format string, args ...any) {
	p := v.s.where(posPath)
	v.errs = append(v.errs, &Error{File: v.s.File, Line: p.line, Column: p.column, Path: path,
		Reason: fmt.Sprintf(format, args...), Hint: hint})
}

// bad reports whether decoding already reported the value at path.
func (v *validator) bad(path string) bool { return v.s.bad[path] }

// oneOf reports an invalid value of a vocabulary, with a hint.
func (v *validator) oneOf(path, what, value string, allowed []string) {
	hint := didYouMean(value, allowed)
	if hint == "" {
		hint = "one of " + quoteList(allowed)
	}
	v.errorf(path, hint, "%s %q is not known", what, value)
}

// name checks a network's or node's name: a DNS label.
func (v *validator) name(path, what, name string) bool {
	if labelRE.MatchString(name) && len(name) <= maxName {
		return true
	}
	v.errorf(path, labelHint(name, maxName), "%s name %q is not valid", what, name)
	return false
}

func labelHint(name string, max int) string {
	const rule = "lowercase letters, digits and dashes"
	fixed := suggestLabel(name, max)
	switch {
	case fixed == "":
		return fmt.Sprintf("use %s, at most %d characters", rule, max)
	case len(name) > max:
		return fmt.Sprintf("at most %d characters: try %q", max, fixed)
	}
	return fmt.Sprintf("%s only: try %q", rule, fixed)
}

// suggestLabel turns name into a valid label, or "".
func suggestLabel(name string, max int) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	out := b.String()
	if len(out) > max {
		out = strings.TrimRight(out[:max], "-")
	}
	return out
}

func (v *validator) labName() {
	switch name := v.s.Name; {
	case name == "" && !v.bad("name"):
		v.errorf("name", "add name: my-lab at the top", "the lab has no name")
	case name == "":
	case !labelRE.MatchString(name) || len(name) > maxLabName:
		v.errorf("name", labelHint(name, maxLabName), "lab name %q is not valid", name)
	}
}

func (v *validator) networks() {
	for i, n := range v.s.Networks {
		if n == nil {
			v.errorf(fmt.Sprintf("networks[%d]", i), "", "the network is nil")
			continue
		}
		path := join("networks", n.Name)
		if _, dup := v.nets[n.Name]; dup {
			v.errorf(path, "network names must be unique", "network %q is defined twice", n.Name)
			continue
		}
		ni := &netInfo{n: n, addrs: map[netip.Addr]string{}, aliases: map[string]string{}, memberSet: map[string]bool{}}
		v.nets[n.Name] = ni
		v.netNames = append(v.netNames, n.Name)
		v.name(path, "network", n.Name)
		if n.Stack != "" && !slices.Contains(stacks, string(n.Stack)) {
			v.errorf(path+".stack", stackHint(string(n.Stack)), "stack %q is not known", n.Stack)
		}
		ni.v4, ni.v4Bad = v.subnet(path, ni, ipv4)
		ni.v6, ni.v6Bad = v.subnet(path, ni, ipv6)
	}
}

func stackHint(s string) string {
	if h := didYouMean(s, stacks); h != "" {
		return h
	}
	l := strings.ToLower(s)
	switch {
	case strings.Contains(l, "dual") || strings.Contains(l, "both"):
		return `did you mean "dual"?`
	case strings.Contains(l, "6"):
		return `did you mean "ipv6"?`
	case strings.Contains(l, "4"):
		return `did you mean "ipv4"?`
	}
	return "one of " + quoteList(stacks)
}

// family holds what differs between IPv4 and IPv6 in the checks.
type family struct {
	key       string // the YAML key: ipv4, ipv6
	name      string // IPv4, IPv6
	other     string // the other family's key
	is        func(netip.Addr) bool
	maxBits   int
	example   string
	carriedBy func(Stack) bool
}

var (
	ipv4 = &family{key: "ipv4", name: "IPv4", other: "ipv6", is: netip.Addr.Is4, maxBits: maxIPv4Bits,
		example: "10.80.1.0/24", carriedBy: Stack.HasIPv4}
	ipv6 = &family{key: "ipv6", name: "IPv6", other: "ipv4", is: func(a netip.Addr) bool { return a.Is6() && !a.Is4In6() },
		maxBits: maxIPv6Bits, example: "fd00:80:1::/64", carriedBy: Stack.HasIPv6}
)

func (f *family) subnetOf(ni *netInfo) netip.Prefix {
	if f == ipv4 {
		return ni.v4
	}
	return ni.v6
}

func (f *family) badIn(ni *netInfo) bool {
	if f == ipv4 {
		return ni.v4Bad
	}
	return ni.v6Bad
}

func (f *family) given(n *Network) string {
	if f == ipv4 {
		return n.IPv4
	}
	return n.IPv6
}

// subnet checks one of a network's subnets; it returns the subnet if it is
// given and valid, and whether it is given but invalid.
func (v *validator) subnet(netPath string, ni *netInfo, f *family) (netip.Prefix, bool) {
	s := f.given(ni.n)
	path := netPath + "." + f.key
	if s == "" {
		return netip.Prefix{}, false
	}
	if !f.carriedBy(ni.n.Stack) {
		v.errorf(path, fmt.Sprintf("remove %s, or make the network dual", f.key),
			"the network is %s-only but has an %s subnet", f.other, f.name)
		return netip.Prefix{}, true
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		hint := fmt.Sprintf("write a subnet in CIDR form, e.g. %s", f.example)
		if a, aerr := netip.ParseAddr(s); aerr == nil && f.is(a) {
			hint = fmt.Sprintf("add the prefix length: did you mean %q?", defaultPrefix(a).String())
		}
		v.errorf(path, hint, "%q is not a subnet", s)
		return netip.Prefix{}, true
	}
	if !f.is(p.Addr()) {
		v.errorf(path, fmt.Sprintf("put it under %s", otherFamily(f).key), "%s is not an %s subnet", s, f.name)
		return netip.Prefix{}, true
	}
	if m := p.Masked(); m != p {
		v.errorf(path, fmt.Sprintf("did you mean %s?", m), "%s has host bits set", s)
		return netip.Prefix{}, true
	}
	if f == ipv4 && !slices.ContainsFunc(privateIPv4, func(r netip.Prefix) bool { return r.Contains(p.Addr()) && p.Bits() >= r.Bits() }) {
		v.errorf(path, "use a private range: inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16", "%s is not a private IPv4 range", s)
		return netip.Prefix{}, true
	}
	if f == ipv6 && !(ulaIPv6.Contains(p.Addr()) && p.Bits() >= ulaIPv6.Bits()) {
		v.errorf(path, "use a unique local range, inside fd00::/8, e.g. "+f.example, "%s is not a unique local IPv6 range", s)
		return netip.Prefix{}, true
	}
	if p.Bits() > f.maxBits {
		larger := netip.PrefixFrom(p.Addr(), f.maxBits).Masked()
		hint := fmt.Sprintf("a network needs room for its gateway and nodes: use /%d or larger, e.g. %s", f.maxBits, larger)
		if f == ipv6 {
			hint = fmt.Sprintf("IPv6 networks are /64 or larger: use %s", larger)
		}
		v.errorf(path, hint, "%s is too small", s)
		return netip.Prefix{}, true
	}
	for _, name := range v.netNames {
		other := v.nets[name]
		if other == ni {
			continue
		}
		if q := f.subnetOf(other); q.IsValid() && q.Overlaps(p) {
			v.errorf(path, fmt.Sprintf("networks need subnets of their own; %q has %s", name, q), "subnet %s overlaps network %q", s, name)
			return netip.Prefix{}, true
		}
	}
	return p, false
}

func otherFamily(f *family) *family {
	if f == ipv4 {
		return ipv6
	}
	return ipv4
}

// defaultPrefix is the usual subnet around a: its /24 or its /64.
func defaultPrefix(a netip.Addr) netip.Prefix {
	if a.Is4() {
		return netip.PrefixFrom(a, 24).Masked()
	}
	return netip.PrefixFrom(a, 64).Masked()
}

func (v *validator) nodeList() {
	if len(v.s.Nodes) == 0 && !v.bad("nodes") {
		v.errorf("nodes", "add nodes: a mapping from node name to its image and networks", "the lab has no nodes")
	}
	for i, n := range v.s.Nodes {
		if n == nil {
			v.errorf(fmt.Sprintf("nodes[%d]", i), "", "the node is nil")
			continue
		}
		path := join("nodes", n.Name)
		if _, dup := v.nodes[n.Name]; dup {
			v.errorf(path, "node names must be unique", "node %q is defined twice", n.Name)
			continue
		}
		v.nodes[n.Name] = n
		v.names = append(v.names, n.Name)
		st := &nodeState{nets: map[string]bool{}, aliasNets: map[string]bool{}, stoppedBy: -1}
		v.state[n.Name] = st
		if v.name(path, "node", n.Name) && n.Name == "localhost" {
			v.errorf(path, "pick another name", "a node cannot be called localhost")
		}
		v.image(path, n)
		v.attachments(path, n, st)
		v.env(path, n)
		v.limits(path, n)
	}
	v.aliasClashes()
	v.capacity()
}

func (v *validator) image(path string, n *Node) {
	path += ".image"
	switch img := n.Image; {
	case img == "":
		if !v.bad(path) {
			v.errorf(path, "one of "+quoteList(images), "the node has no image")
		}
	case slices.Contains(images, img):
	default:
		base := strings.TrimPrefix(img, ImagePrefix)
		base, _, _ = strings.Cut(base, ":")
		if base != img && slices.Contains(images, base) {
			v.errorf(path, fmt.Sprintf("write just %q: the node runs %s%s", base, ImagePrefix, base), "image %q is not known", img)
			return
		}
		v.oneOf(path, "image", img, images)
	}
}

func (v *validator) attachments(nodePath string, n *Node, st *nodeState) {
	path := nodePath + ".networks"
	if len(n.Networks) == 0 && !v.bad(path) {
		hint := "add networks: [NAME] with one of the lab's networks"
		if len(v.netNames) > 0 {
			hint = fmt.Sprintf("add networks: [%s]", v.netNames[0])
		}
		v.errorf(nodePath, hint, "the node joins no network")
	}
	first := map[string]int{}
	for i, a := range n.Networks {
		ap := fmt.Sprintf("%s[%d]", path, i)
		if a == nil {
			v.errorf(ap, "", "the attachment is nil")
			st.broken = true
			continue
		}
		namePos := ap
		if v.s.written(ap + ".name") {
			namePos = ap + ".name"
		}
		if a.Network == "" {
			st.broken = true
			if !v.bad(ap) && !v.bad(ap+".name") {
				v.errorf(ap, "add name: with one of the lab's networks", "the attachment has no network name")
			}
			continue
		}
		ni := v.nets[a.Network]
		if ni == nil {
			st.broken = true
			hint := didYouMean(a.Network, v.netNames)
			if hint == "" {
				hint = "define it under networks"
				if len(v.netNames) > 0 {
					hint = "the lab's networks are " + quoteList(v.netNames)
				}
			}
			v.errorAt(namePos, ap, hint, "network %q is not defined", a.Network)
			continue
		}
		if j, dup := first[a.Network]; dup {
			v.errorAt(namePos, ap, fmt.Sprintf("it is already %s[%d]", path, j), "the node joins network %q twice", a.Network)
			continue
		}
		first[a.Network] = i
		st.nets[a.Network] = true
		st.aliasNets[a.Network] = true
		ni.members = append(ni.members, n.Name)
		ni.memberSet[n.Name] = true
		v.address(ap, n, ni, a.IPv4, ipv4)
		v.address(ap, n, ni, a.IPv6, ipv6)
		v.aliases(ap, n, ni, a.Aliases)
	}
}

// address checks a node's fixed address on a network.
func (v *validator) address(attPath string, n *Node, ni *netInfo, s string, f *family) {
	if s == "" {
		return
	}
	path := attPath + "." + f.key
	a, err := netip.ParseAddr(s)
	if err != nil {
		hint := ""
		if p, perr := netip.ParsePrefix(s); perr == nil {
			hint = fmt.Sprintf("write the address without a prefix length: %s", p.Addr())
		}
		v.errorf(path, hint, "%q is not an %s address", s, f.name)
		return
	}
	switch {
	case a.Zone() != "":
		v.errorf(path, fmt.Sprintf("write %s", a.WithZone("")), "%s has a zone; fixed addresses take none", s)
		return
	case f == ipv6 && a.Is4In6():
		v.errorf(path, fmt.Sprintf("put %s under ipv4", a.Unmap()), "%s is an IPv4-mapped address", s)
		return
	case !f.is(a):
		v.errorf(path, fmt.Sprintf("put it under %s", otherFamily(f).key), "%s is not an %s address", s, f.name)
		return
	case !f.carriedBy(ni.n.Stack):
		v.errorf(path, fmt.Sprintf("remove %s, or make network %q dual", f.key, ni.n.Name),
			"network %q is %s-only: it has no %s addresses", ni.n.Name, otherFamily(f).key, f.name)
		return
	case f.badIn(ni):
		return // the subnet is wrong, and reported
	}
	subnet := f.subnetOf(ni)
	if !subnet.IsValid() {
		v.errorf(path, fmt.Sprintf("give network %q its %s subnet, e.g. %s: %s", ni.n.Name, f.key, f.key, defaultPrefix(a)),
			"a fixed address needs a fixed subnet")
		return
	}
	first := subnet.Addr()
	gateway := first.Next()
	switch {
	case !subnet.Contains(a):
		hint := fmt.Sprintf("network %q is %s", ni.n.Name, subnet)
		if moved := moveInto(a, subnet); moved != first && moved != gateway && (f == ipv6 || moved != lastAddr(subnet)) {
			hint = fmt.Sprintf("did you mean %s?", moved)
		}
		v.errorf(path, hint, "%s is outside %s", a, subnet)
		return
	case a == first:
		v.errorf(path, fmt.Sprintf("use %s or later", gateway.Next()), "%s is the address of the network %s itself", a, subnet)
		return
	case a == gateway:
		v.errorf(path, fmt.Sprintf("Docker gives it to the gateway: use %s or later", gateway.Next()), "%s is the gateway's address", a)
		return
	case f == ipv4 && a == lastAddr(subnet):
		v.errorf(path, fmt.Sprintf("use %s or earlier", a.Prev()), "%s is the broadcast address of %s", a, subnet)
		return
	}
	if other, dup := ni.addrs[a]; dup {
		v.errorf(path, "every node needs its own address", "%s is already node %q's address on network %q", a, other, ni.n.Name)
		return
	}
	ni.addrs[a] = n.Name
}

// moveInto keeps a's host part and takes its network part from p.
func moveInto(a netip.Addr, p netip.Prefix) netip.Addr {
	ab, pb := a.AsSlice(), p.Addr().AsSlice()
	for i := range ab {
		bits := min(max(p.Bits()-8*i, 0), 8)
		mask := byte(0xff << (8 - bits))
		ab[i] = pb[i]&mask | ab[i]&^mask
	}
	out, _ := netip.AddrFromSlice(ab)
	return out
}

// plural formats n things: "1 node", "2 nodes".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// lastAddr is the last address of an IPv4 prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	u := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | host
	return netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
}

// validDNSName reports whether s is a DNS name of lowercase labels.
func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for l := range strings.SplitSeq(s, ".") {
		if !labelRE.MatchString(l) {
			return false
		}
	}
	return true
}

func (v *validator) aliases(attPath string, n *Node, ni *netInfo, aliases []string) {
	seen := map[string]bool{}
	for i, al := range aliases {
		path := fmt.Sprintf("%s.aliases[%d]", attPath, i)
		switch _, ipErr := netip.ParseAddr(al); {
		case ipErr == nil:
			v.errorf(path, "an alias is a name; fixed addresses go under ipv4 and ipv6", "alias %q is an address", al)
		case !validDNSName(al):
			hint := "lowercase letters, digits and dashes, in labels separated by dots"
			if fixed := suggestLabel(al, maxName); fixed != "" {
				hint += fmt.Sprintf(": try %q", fixed)
			}
			v.errorf(path, hint, "alias %q is not a valid DNS name", al)
		case al == n.Name:
			v.errorf(path, "every node is reachable by its name already: remove it", "alias %q is the node's own name", al)
		case seen[al]:
			v.errorf(path, "remove one", "alias %q is listed twice", al)
		default:
			seen[al] = true
			if _, taken := ni.aliases[al]; !taken {
				ni.aliases[al] = n.Name // other nodes may share it: DNS round robin
			}
		}
	}
}

// aliasClashes reports aliases that are the name of another node on the
// same network: a name must say which node it reaches.
func (v *validator) aliasClashes() {
	for _, n := range v.s.Nodes {
		if n == nil || v.nodes[n.Name] != n {
			continue
		}
		for i, a := range n.Networks {
			ni := v.nets[attachedNet(a)]
			if ni == nil {
				continue
			}
			for j, al := range a.Aliases {
				if al != n.Name && ni.memberSet[al] {
					v.errorf(fmt.Sprintf("nodes.%s.networks[%d].aliases[%d]", n.Name, i, j), "pick another alias",
						"alias %q is the name of node %q, also on network %q", al, al, ni.n.Name)
				}
			}
		}
	}
}

func attachedNet(a *Attachment) string {
	if a == nil {
		return ""
	}
	return a.Network
}

// capacity reports fixed subnets too small for the nodes that join them.
func (v *validator) capacity() {
	for _, name := range v.netNames {
		ni := v.nets[name]
		if !ni.v4.IsValid() {
			continue
		}
		room := 1<<(32-ni.v4.Bits()) - 3 // network, gateway, broadcast
		if len(ni.members) > room {
			v.errorf(join("networks", name)+".ipv4", "use a larger subnet, e.g. "+defaultPrefix(ni.v4.Addr()).String(),
				"%s has room for %s, but %d join network %q", ni.v4, plural(room, "node"), len(ni.members), name)
		}
	}
}

func (v *validator) env(nodePath string, n *Node) {
	keys := make([]string, 0, len(n.Env))
	for k := range n.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if envKeyRE.MatchString(k) {
			continue
		}
		hint := "letters, digits and underscores, not starting with a digit"
		if fixed := strings.Trim(regexp.MustCompile(`[^A-Za-z0-9_]+`).ReplaceAllString(k, "_"), "_"); fixed != "" && envKeyRE.MatchString(fixed) {
			hint += fmt.Sprintf(": try %q", fixed)
		}
		v.errorf(join(nodePath+".env", k), hint, "environment variable name %q is not valid", k)
	}
}

func (v *validator) limits(nodePath string, n *Node) {
	if n.Memory != "" {
		path := nodePath + ".memory"
		b, err := parseMemory(n.Memory)
		switch {
		case err != nil:
			v.errorf(path, err.Error(), "memory %q is not a size", n.Memory)
		case b < minMemory:
			v.errorf(path, "Docker's minimum is 6m", "memory %s is too small", n.Memory)
		}
	}
	path := nodePath + ".pids"
	switch {
	case n.Pids < 0, n.Pids == 0 && v.s.written(path) && !v.bad(path):
		v.errorf(path, "leave pids out for no limit", "pids %d is not a limit", n.Pids)
	case n.Pids > 0 && n.Pids < minPids:
		v.errorf(path, fmt.Sprintf("use %d or more: a Go program runs several threads, and a step's client runs beside the node's own", minPids),
			"pids %d is too low", n.Pids)
	}
}

// memoryError explains a memory size that does not parse.
type memoryError string

func (e memoryError) Error() string { return string(e) }

// parseMemory parses a size such as 64m: a number of bytes, or of k, m or g
// (powers of 1024). "" is 0.
func parseMemory(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	m := memoryRE.FindStringSubmatch(strings.ToLower(s))
	if m == nil {
		fixed := strings.ToLower(strings.ReplaceAll(s, " ", ""))
		fixed = strings.TrimSuffix(strings.TrimSuffix(fixed, "b"), "i")
		if memoryRE.MatchString(fixed) && fixed != s {
			return 0, memoryError(fmt.Sprintf("did you mean %q?", fixed))
		}
		return 0, memoryError("write a number with b, k, m or g, e.g. 64m")
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	shift := map[string]uint{"": 0, "b": 0, "k": 10, "m": 20, "g": 30}[m[2]]
	if err != nil || n > (1<<62)>>shift {
		return 0, memoryError("that is more memory than exists")
	}
	return n << shift, nil
}

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
		switch {
		case st.Run != "" && st.Action != "":
			v.errorf(path, "split it into two steps", "a step has run or action, not both")
		case st.Run != "":
			v.runStep(path, st)
		case st.Action != "":
			v.actionStep(path, i, st)
		case !v.bad(path+".run") && !v.bad(path+".action"):
			v.errorf(path, "add run: with a client, or action: with "+quoteList(actions), "the step has neither run nor action")
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
		if v.nodes[name].Image == ClientImage {
			out = append(out, name)
		}
	}
	return out
}

func (v *validator) runStep(path string, st *Step) {
	v.only(path, "run", "it belongs to actions: remove it", map[string]bool{"network": st.Network != "", "for": st.For != 0})
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
	if n != nil && n.Image != ClientImage && slices.Contains(images, n.Image) {
		hint := "run steps in a node with image: client"
		if cn := v.clientNodes(); len(cn) > 0 {
			hint = fmt.Sprintf("run it in %s", quoteList(cn))
		}
		v.errorf(path+".node", hint, "node %q runs the %s image, which has no clients", st.Node, n.Image)
	}
	if n != nil {
		if by := v.state[n.Name].stoppedBy; by >= 0 {
			v.errorf(path+".node", "start it in an earlier step", "node %q was stopped by steps[%d]", n.Name, by)
		}
	}
	if st.Family != "" && !slices.Contains(stepFamilies, st.Family) {
		v.oneOf(path+".family", "family", st.Family, stepFamilies)
	}
	for j, a := range st.Args {
		if use, ok := stepFlags[a]; ok {
			v.errorf(fmt.Sprintf("%s.args[%d]", path, j), use, "the step sets %s itself", a)
		}
	}
	v.target(path, st, n)
	v.expect(path, st)
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
		case ipv4.key, ipv6.key:
			if st.Family != fam.key {
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
	if e.Fail != "" {
		if !slices.Contains(failKinds, e.Fail) {
			v.oneOf(ep+".fail", "failure", e.Fail, failKinds)
		}
		v.only(ep, "fail", "a failing client has no output to check: remove one", map[string]bool{
			"contains": e.Contains != "", "equals": e.Equals != nil, "matches": e.Matches != "",
			"family": e.Family != "", "within": e.Within != 0,
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
		case !slices.Contains(expectFamilies, e.Family):
			v.oneOf(fp, "family", e.Family, expectFamilies)
		case st.Family == FamilyBoth:
			v.errorf(fp, "the step runs once per family: split it into two steps", "expect.family cannot go with family: both")
		case st.Family != "" && !strings.EqualFold(st.Family, e.Family):
			v.errorf(fp, fmt.Sprintf("did you mean %q?", familyName(st.Family)),
				"the step runs over %s but expects %s", familyName(st.Family), e.Family)
		}
	}
	if e.Within < 0 || e.Within == 0 && v.s.written(ep+".within") && !v.bad(ep+".within") {
		v.errorf(ep+".within", "", "within %s is not positive", e.Within)
	}
	timeout := time.Duration(st.Timeout)
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if time.Duration(e.Within) >= timeout {
		v.errorf(ep+".within", fmt.Sprintf("raise the step's timeout above %s", e.Within),
			"within %s is not shorter than the step's timeout, %s", e.Within, timeout)
	}
}

// familyName is the name of a step family's one family: ipv4 → IPv4.
func familyName(f string) string {
	switch f {
	case FamilyIPv4:
		return ipv4.name
	case FamilyIPv6:
		return ipv6.name
	}
	return f
}

func (v *validator) actionStep(path string, i int, st *Step) {
	v.only(path, "action", "it belongs to run steps: remove it", map[string]bool{
		"target": st.Target != "", "family": st.Family != "", "args": len(st.Args) > 0, "expect": st.Expect != nil,
	})
	if !slices.Contains(actions, st.Action) {
		hint := didYouMean(st.Action, actions)
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
	if st.Action != ActionDisconnect && st.Action != ActionConnect && st.Network != "" {
		v.errorf(path+".network", "remove it", "network has no meaning in a %s step", st.Action)
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
