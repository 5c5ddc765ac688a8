package scenario

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

func (v *validator) nodeList() {
	if len(v.s.Nodes) == 0 && !v.bad("nodes") {
		v.errorf("nodes", "add nodes: a mapping from node name to its image and networks", "the lab has no nodes")
	}
	if len(v.s.Nodes) > maxNodes {
		v.errorf("nodes", "each node is a container on this machine: split the lab into smaller ones",
			"the lab has %d nodes, more than %d", len(v.s.Nodes), maxNodes)
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
		v.ports(path, n)
		v.limits(path, n)
		v.container(path, n)
		if n.Host != "" {
			v.name(path+".host", "host", n.Host)
		}
	}
	v.publishClashes()
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
		v.imageRef(path, img)
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
		v.impairSettings(ap+".impair", a.Impair)
	}
}

// address checks a node's fixed address on a network.
func (v *validator) address(attPath string, n *Node, ni *netInfo, a netip.Addr, f *family) {
	path := attPath + "." + f.key
	s, given, unparsed := v.raw(path, a)
	if !given {
		return
	}
	if unparsed {
		hint := ""
		if p, perr := netip.ParsePrefix(s); perr == nil {
			hint = fmt.Sprintf("write the address without a prefix length: %s", p.Addr())
		} else if fixed, ok := noLeadingZeros(s); ok {
			if _, err := netip.ParseAddr(fixed); err == nil {
				hint = fmt.Sprintf("leading zeros are not allowed, some tools read them as octal: write %s", fixed)
			}
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

// notEnvKey matches what an environment variable's name may not hold.
var notEnvKey = regexp.MustCompile(`[^A-Za-z0-9_]+`)

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
		if fixed := strings.Trim(notEnvKey.ReplaceAllString(k, "_"), "_"); fixed != "" && envKeyRE.MatchString(fixed) {
			hint += fmt.Sprintf(": try %q", fixed)
		}
		v.errorf(join(nodePath+".env", k), hint, "environment variable name %q is not valid", k)
	}
}

// ports checks the port a service node is told to serve on, by PORT in its
// environment or --port (-p) in its arguments: 0 would have it pick a port
// no step or learner knows, and above 65535 it fails to start.
func (v *validator) ports(nodePath string, n *Node) {
	if p, ok := n.Env["PORT"]; ok && p != "" {
		v.port(join(nodePath+".env", "PORT"), "PORT="+p, p)
	}
	if n.Image == ClientImage {
		return // its arguments are a client's, not a server's
	}
	for i := 0; i < len(n.Args); i++ {
		a := n.Args[i]
		switch flag, val, inline := strings.Cut(a, "="); {
		case flag == "--port" || flag == "-p":
			if inline {
				v.port(fmt.Sprintf("%s.args[%d]", nodePath, i), a, val)
			} else if i+1 < len(n.Args) {
				i++
				v.port(fmt.Sprintf("%s.args[%d]", nodePath, i), a+" "+n.Args[i], n.Args[i])
			}
		case strings.HasPrefix(a, "-p") && !strings.HasPrefix(a, "--"):
			v.port(fmt.Sprintf("%s.args[%d]", nodePath, i), a, a[2:])
		}
	}
}

func (v *validator) port(path, written, p string) {
	n, err := strconv.Atoi(p)
	switch {
	case err != nil:
		v.errorf(path, "a port is a number from 1 to 65535", "%s is not a port number", written)
	case n == 0:
		v.errorf(path, "use a number from 1 to 65535: port 0 has the server pick one that no step or client knows", "%s is not a port a lab can reach", written)
	case n < 0 || n > 65535:
		v.errorf(path, "a port is a number from 1 to 65535", "%s is out of range", written)
	}
}

func (v *validator) limits(nodePath string, n *Node) {
	path := nodePath + ".memory"
	raw, written := rawValue{text: n.Memory.String()}, false
	if v.s.src != nil {
		raw, written = v.s.src.raw[path]
	}
	switch {
	case raw.err != nil:
		v.errorf(path, raw.err.Error(), "memory %q is not a size", raw.text)
	case (written || n.Memory != 0) && n.Memory < minMemory:
		v.errorf(path, "Docker's minimum is 6m", "memory %s is too small", raw.text)
	}
	path = nodePath + ".pids"
	pids := strconv.FormatInt(n.Pids, 10)
	if v.s.src != nil {
		if r, ok := v.s.src.raw[path]; ok {
			pids = r.text // beyond int64
		}
	}
	switch {
	case n.Pids < 0, n.Pids == 0 && v.s.written(path) && !v.bad(path):
		v.errorf(path, "leave pids out for no limit", "pids %s is not a limit", pids)
	case n.Pids > 0 && n.Pids < minPids:
		v.errorf(path, fmt.Sprintf("use %d or more: a Go program runs several threads, and a step's client runs beside the node's own", minPids),
			"pids %s is too low", pids)
	case n.Pids > maxPids:
		v.errorf(path, fmt.Sprintf("use at most %d, the kernel's own limit, or leave pids out for no limit", maxPids),
			"pids %s is too high", pids)
	}
}

// memoryError explains a memory size that does not parse.
type memoryError string

func (e memoryError) Error() string { return string(e) }

// parseBytes parses a size such as 64m: a number of bytes, or of k, m or g
// (powers of 1024). "" is 0. Its error is a hint at the fix.
func parseBytes(s string) (Bytes, error) {
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
	return Bytes(n << shift), nil
}

// CheckHosts tells whether every node's host is one of hosts, the hosts a
// lab can be placed on (none: one Docker engine, where no node may name a
// host). Its error is Errors, each at the node's host: field.
func (s *Scenario) CheckHosts(hosts []string) error {
	var errs Errors
	for _, n := range s.Nodes {
		if n == nil || n.Host == "" || slices.Contains(hosts, n.Host) {
			continue
		}
		path := join("nodes", n.Name) + ".host"
		p := s.where(path)
		e := &Error{File: s.File, Line: p.line, Column: p.column, Path: path}
		if len(hosts) == 0 {
			e.Reason = fmt.Sprintf("node %s is placed on host %q, but the lab runs on one Docker engine", n.Name, n.Host)
			e.Hint = "give the hosts with labctl up --hosts FILE, or leave host out"
		} else {
			e.Reason = fmt.Sprintf("host %q is not in the hosts file", n.Host)
			if e.Hint = didYouMean(n.Host, hosts); e.Hint == "" {
				e.Hint = "one of " + quoteList(hosts)
			}
		}
		errs = append(errs, e)
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}
