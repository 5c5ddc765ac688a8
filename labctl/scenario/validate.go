package scenario

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Validate checks a scenario as Parse does (names, references, ranges,
// address families, duplicates, steps), for scenarios built in code. It
// changes nothing: a zero Stack or Timeout stays zero, and reads as the
// default (Stack.HasIPv4, Step.TimeoutOrDefault). It returns Errors with
// every problem found, located in the file when s came from Parse or Load.
func (s *Scenario) Validate() error {
	if errs := s.validate(); len(errs) > 0 {
		errs.sort()
		return errs
	}
	return nil
}

// setDefaults fills in what a scenario leaves out; Parse calls it once the
// scenario is valid.

func (s *Scenario) setDefaults() {
	for _, n := range s.Networks {
		if n.Stack == "" {
			n.Stack = Dual
		}
	}
	for _, st := range s.Steps {
		if st != nil && st.Timeout == 0 {
			st.Timeout = Duration(DefaultTimeout)
		}
	}
}

// Limits of the format.
const (
	// maxLabName leaves room in Docker names (lab-node) and fits every name
	// the tests make: labtest.Name gives at most 40 characters.
	maxLabName  = 48
	maxName     = 63 // a DNS label
	minMemory   = 6 << 20
	minPids     = 16
	maxPids     = 1 << 22 // the kernel's PID_MAX_LIMIT; runc fails above it
	maxNetworks = 32      // each is a bridge on the host
	maxNodes    = 100     // each is a container
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
func (s *Scenario) where(path string) position { return s.src.where(path) }

// where is the position of path in the file, or of its closest ancestor
// (none when src is nil: a scenario built in code).
func (src *source) where(path string) position {
	if src == nil {
		return position{}
	}
	for {
		if p, ok := src.pos[path]; ok {
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

// written reports whether path is written in the file with a value (as
// opposed to left out, or a key with nothing after it).
func (s *Scenario) written(path string) bool { return s.src.written(path) }

func (src *source) written(path string) bool {
	if src == nil {
		return false
	}
	_, ok := src.pos[path]
	return ok && !src.empty[path]
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

// bad reports whether decoding already reported the value at path, or a
// value it is part of (a node written as a string has no image to miss).
func (v *validator) bad(path string) bool { return v.s.src.isBad(path) }

func (src *source) isBad(path string) bool {
	if src == nil {
		return false
	}
	for {
		if src.bad[path] {
			return true
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return false
		}
		path = path[:i]
	}
}

// oneOf reports an invalid value of a vocabulary, with a hint.
func (v *validator) oneOf(path, what, value string, allowed []string) {
	hint := didYouMean(value, allowed)
	if hint == "" {
		hint = "one of " + quoteList(allowed)
		if na := nonASCII(value); na != "" {
			hint = na + ": " + hint
		}
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
	if na := nonASCII(name); na != "" {
		if fixed := suggestLabel(lookalikes.Replace(name), max); fixed != "" {
			return fmt.Sprintf("%s: use ASCII %s; try %q", na, rule, fixed)
		}
		return fmt.Sprintf("%s: use ASCII %s", na, rule)
	}
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
	default:
		var e *Error
		if errors.As(CheckLabName(name), &e) {
			v.errorf("name", e.Hint, "%s", e.Reason)
		}
	}
}

// CheckLabName tells whether name can name a lab: 1 to 48 lowercase
// letters, digits and dashes, starting and ending with a letter or digit
// (the Docker names of the lab's networks and containers start with it).
// Its error is an *Error without a file, e.g.
//
//	lab name "My Lab!" is not valid (lowercase letters, digits and dashes only: try "my-lab")
func CheckLabName(name string) error {
	if labelRE.MatchString(name) && len(name) <= maxLabName {
		return nil
	}
	return &Error{Reason: fmt.Sprintf("lab name %q is not valid", name), Hint: labelHint(name, maxLabName)}
}

func (v *validator) networks() {
	if len(v.s.Networks) > maxNetworks {
		v.errorf("networks", "each network is a bridge on this machine: a lab needs a few; split it into smaller labs",
			"the lab has %d networks, more than %d", len(v.s.Networks), maxNetworks)
	}
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
		if n.Internal && n.Egress {
			v.errorf(path+".egress", "leave out one of them", "internal: true cuts the network off from the outside, egress: true lets it out")
		}
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

func (f *family) given(n *Network) netip.Prefix {
	if f == ipv4 {
		return n.IPv4
	}
	return n.IPv6
}

// raw is the value at path as written: its text, and whether it is given
// (written, or set in code) but did not parse. Messages quote values as
// written; a value set in code is quoted as it formats.
func (v *validator) raw(path string, value interface {
	IsValid() bool
	String() string
}) (text string, given, unparsed bool) {
	if v.s.src != nil {
		if r, ok := v.s.src.raw[path]; ok {
			return r.text, true, r.err != nil
		}
	}
	if !value.IsValid() {
		return "", false, false
	}
	return value.String(), true, false
}

// subnet checks one of a network's subnets; it returns the subnet if it is
// given and valid, and whether it is given but invalid.
func (v *validator) subnet(netPath string, ni *netInfo, f *family) (netip.Prefix, bool) {
	p := f.given(ni.n)
	path := netPath + "." + f.key
	s, given, unparsed := v.raw(path, p)
	if !given {
		return netip.Prefix{}, false
	}
	if !f.carriedBy(ni.n.Stack) {
		v.errorf(path, fmt.Sprintf("remove %s, or make the network dual", f.key),
			"the network is %s-only but has an %s subnet", f.other, f.name)
		return netip.Prefix{}, true
	}
	if unparsed {
		v.errorf(path, subnetHint(s, f), "%q is not a subnet", s)
		return netip.Prefix{}, true
	}
	if p.Addr().Is4In6() {
		hint := "write it as an IPv4 subnet"
		if p.Bits() >= 96 {
			hint = fmt.Sprintf("write it as IPv4: %s", netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked())
		}
		if f == ipv6 {
			hint += ", under ipv4"
		}
		v.errorf(path, hint, "%s is an IPv4-mapped range, not an %s subnet", s, f.name)
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
	if reason := swallows(p); reason != "" {
		v.errorf(path, fmt.Sprintf("a fixed subnet is for one network: use one of the size it needs, e.g. %s", f.example), "%s", reason)
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

// subnetHint says how to write s, which is not a subnet, as one.
func subnetHint(s string, f *family) string {
	if addr, rest, ok := strings.Cut(s, "%"); ok {
		zone, bits, _ := strings.Cut(rest, "/")
		if p, err := netip.ParsePrefix(addr + "/" + bits); err == nil {
			return fmt.Sprintf("a subnet takes no zone %%%s: write %s", zone, p)
		}
		return fmt.Sprintf("a subnet takes no zone %%%s: write it in CIDR form, e.g. %s", zone, f.example)
	}
	if fixed, ok := noLeadingZeros(s); ok {
		if _, err := netip.ParsePrefix(fixed); err == nil {
			return fmt.Sprintf("leading zeros are not allowed, some tools read them as octal: write %s", fixed)
		}
	}
	if a, err := netip.ParseAddr(s); err == nil && f.is(a) {
		return fmt.Sprintf("add the prefix length: did you mean %q?", defaultPrefix(a).String())
	}
	return fmt.Sprintf("write a subnet in CIDR form, e.g. %s", f.example)
}

// noLeadingZeros rewrites an IPv4 address or subnet with leading zeros in
// its numbers (010.001.002.000/24) without them; ok is false when s has none.
func noLeadingZeros(s string) (fixed string, ok bool) {
	addr, bits, hasBits := strings.Cut(s, "/")
	parts := strings.Split(addr, ".")
	if len(parts) != 4 {
		return "", false
	}
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return "", false
		}
		if len(p) > 1 && p[0] == '0' {
			ok = true
		}
		parts[i] = strconv.FormatUint(n, 10)
	}
	fixed = strings.Join(parts, ".")
	if hasBits {
		fixed += "/" + bits
	}
	return fixed, ok
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
