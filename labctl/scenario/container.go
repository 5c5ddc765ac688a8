package scenario

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/distribution/reference"

	catalog "socketlab/internal/images"
)

// Capabilities is the short list a node's cap_add may take: what socket
// programs need (raw sockets, interface and firewall changes, low ports).
// Everything else (SYS_ADMIN, SYS_PTRACE...) would let a node reach beyond
// its own network namespace.
var Capabilities = []string{"NET_RAW", "NET_ADMIN", "NET_BIND_SERVICE"}

// DefaultSend is the datagram a udp readiness check sends when the
// scenario gives none.
const DefaultSend = "ping"

// parseBind parses "HOST:CONTAINER" or "HOST:CONTAINER:ro|rw".
func parseBind(s string) (Bind, error) {
	parts := strings.Split(s, ":")
	b := Bind{}
	switch len(parts) {
	case 2:
	case 3:
		switch parts[2] {
		case "rw":
			b.Writable = true
		case "ro":
		default:
			return b, &valueError{fmt.Sprintf("%q ends in %q", s, parts[2]), "the only options are :ro (the default) and :rw"}
		}
	default:
		return b, &valueError{fmt.Sprintf("%q is not HOST:CONTAINER", s), `e.g. "./server.py:/lab/server.py"`}
	}
	b.Source, b.Target = parts[0], parts[1]
	switch {
	case b.Source == "":
		return b, &valueError{fmt.Sprintf("%q has no host path", s), `e.g. "./server.py:/lab/server.py"`}
	case !path.IsAbs(b.Target):
		return b, &valueError{fmt.Sprintf("container path %q is not absolute", b.Target), fmt.Sprintf("did you mean %q?", b.Source+":/"+strings.TrimPrefix(b.Target, "./"))}
	case path.Clean(b.Target) == "/":
		return b, &valueError{fmt.Sprintf("%q replaces the container's whole root", s), "give a folder inside it, e.g. /lab"}
	}
	b.Target = path.Clean(b.Target)
	return b, nil
}

// parsePublish parses "HOST:NODE" or "HOST:NODE/udp" (or /tcp).
func parsePublish(s string) (Publish, error) {
	p := Publish{}
	ports, proto, hasProto := strings.Cut(s, "/")
	if hasProto {
		switch strings.ToLower(proto) {
		case "udp":
			p.UDP = true
		case "tcp":
		default:
			return p, &valueError{fmt.Sprintf("protocol %q is not tcp or udp", proto), `e.g. "9999:9999/udp"`}
		}
	}
	parts := strings.Split(ports, ":")
	if len(parts) != 2 {
		hint := `write "HOST_PORT:NODE_PORT", e.g. "8080:80"`
		if len(parts) == 3 {
			hint = "leave the address out: ports are published on 127.0.0.1 only, " + fmt.Sprintf("%q", parts[1]+":"+parts[2])
		}
		return p, &valueError{fmt.Sprintf("%q is not HOST_PORT:NODE_PORT", s), hint}
	}
	var nums [2]uint16
	for i, part := range parts {
		n, err := strconv.ParseUint(part, 10, 16)
		if err != nil || n == 0 {
			return p, &valueError{fmt.Sprintf("port %q is not valid", part), "a port is a number from 1 to 65535"}
		}
		nums[i] = uint16(n)
	}
	p.HostPort, p.NodePort = nums[0], nums[1]
	return p, nil
}

// String writes the binding as a scenario does: "8080:80", "53:53/udp".
func (p Publish) String() string {
	s := fmt.Sprintf("%d:%d", p.HostPort, p.NodePort)
	if p.UDP {
		s += "/udp"
	}
	return s
}

// String writes the bind as a scenario does.
func (b Bind) String() string {
	s := b.Source + ":" + b.Target
	if b.Writable {
		s += ":rw"
	}
	return s
}

// IsValid tells whether the bind holds a path (for validation's messages).
func (b Bind) IsValid() bool { return b.Source != "" }

// IsValid tells whether the binding holds ports.
func (p Publish) IsValid() bool { return p.HostPort != 0 }

// String says what the check waits for: "tcp 8080", `log "listening on"`.
func (r *Ready) String() string {
	switch {
	case r == nil:
		return ""
	case r.TCP != 0:
		return fmt.Sprintf("tcp %d", r.TCP)
	case r.UDP != 0 && r.Send != "":
		return fmt.Sprintf("udp %d, reply to %q", r.UDP, r.Send)
	case r.UDP != 0:
		return fmt.Sprintf("udp %d", r.UDP)
	case r.Log != "":
		return fmt.Sprintf("log %q", r.Log)
	case len(r.Exec) > 0:
		return "exec " + strings.Join(r.Exec, " ")
	}
	return ""
}

// SendOrDefault is the datagram a udp check sends when it sends one (the
// scenario gave send).
func (r *Ready) SendOrDefault() string {
	if r.Send == "" {
		return DefaultSend
	}
	return r.Send
}

// IsShortName tells whether image is one of the socketlab images by its
// short name (echo, client, toolbox...), rather than an image reference.
func IsShortName(image string) bool { return catalog.IsShortName(image) }

// HasSock tells whether the node's image carries the sock client, so that
// run steps can run in it: the client and the toolbox.
func (n *Node) HasSock() bool { return catalog.HasSock(n.Image) }

// userRE matches what Docker takes as a user: a name or uid, and a group.
var userRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$`)

// imageRef checks an image reference that is not a short name.
func (v *validator) imageRef(path, img string) {
	base := strings.TrimPrefix(img, ImagePrefix)
	name, tag, hasTag := strings.Cut(base, ":")
	if (base != img || hasTag) && IsShortName(name) && (tag == "" || tag == catalog.DefaultTag) {
		v.errorf(path, fmt.Sprintf("write just %q: the node runs %s%s", name, ImagePrefix, name), "image %q is not known", img)
		return
	}
	if _, err := reference.ParseNormalizedNamed(img); err != nil {
		hint := "a short name (" + quoteList(images) + ") or an image reference such as python:3.12-slim"
		if close := closest(img, images); close != "" {
			hint = fmt.Sprintf("did you mean %q?", close)
		}
		v.errorf(path, hint, "image %q is not a valid image reference", img)
		return
	}
	if !strings.ContainsAny(img, "/:@") {
		// A plain word that is a typo of a short name is more likely than
		// an image called "ehco".
		if close := closest(img, images); close != "" {
			// An image of that name is still reachable as NAME:latest.
			v.errorf(path, fmt.Sprintf("did you mean %q?", close), "image %q is not known", img)
		}
	}
}

// container checks the settings that shape a node's container: command,
// files, mounts, relaxations of the hardening, published ports, readiness.
func (v *validator) container(np string, n *Node) {
	if len(n.Command) > 0 && len(n.Args) > 0 {
		v.errorf(np+".args", "put the arguments in command", "args does not go with command: command replaces the image's program and its arguments")
	}
	for _, f := range []struct {
		key  string
		argv []string
	}{{"command", n.Command}, {"entrypoint", n.Entrypoint}} {
		p := np + "." + f.key
		if f.argv != nil && len(f.argv) == 0 && v.s.written(p) {
			v.errorf(p, "leave it out for the image's own", "%s is empty", f.key)
		}
		if len(f.argv) > 0 && strings.TrimSpace(f.argv[0]) == "" {
			v.errorf(p+"[0]", "the first item is the program", "the program's name is empty")
		}
		if len(f.argv) == 1 && strings.ContainsAny(f.argv[0], " \t") {
			v.errorf(p, fmt.Sprintf("write a list, one item per argument: [%s]", strings.Join(strings.Fields(f.argv[0]), ", ")),
				"%s is one item with spaces: no shell splits it", f.key)
		}
	}
	if n.WorkDir != "" && !path.IsAbs(n.WorkDir) {
		v.errorf(np+".workdir", fmt.Sprintf("did you mean %q?", "/"+strings.TrimPrefix(n.WorkDir, "./")), "workdir %q is not an absolute path", n.WorkDir)
	}
	if n.User != "" && !userRE.MatchString(n.User) {
		v.errorf(np+".user", "a name or uid, optionally with a group: 10001 or 10001:10001", "user %q is not valid", n.User)
	}
	v.binds(np+".files", n.Files, false)
	v.binds(np+".mounts", n.Mounts, true)
	targets := map[string]string{}
	for i, b := range append(slices.Clone(n.Files), n.Mounts...) {
		if b.Target == "" {
			continue
		}
		p := fmt.Sprintf("%s.files[%d]", np, i)
		if i >= len(n.Files) {
			p = fmt.Sprintf("%s.mounts[%d]", np, i-len(n.Files))
		}
		if first, dup := targets[b.Target]; dup {
			v.errorf(p, "every file goes to its own place", "%s is also the container path of %s", b.Target, first)
			continue
		}
		targets[b.Target] = p
	}
	for i, t := range n.Tmpfs {
		p := fmt.Sprintf("%s.tmpfs[%d]", np, i)
		switch {
		case !path.IsAbs(t):
			v.errorf(p, fmt.Sprintf("did you mean %q?", "/"+strings.TrimPrefix(t, "./")), "tmpfs %q is not an absolute path", t)
		case path.Clean(t) == "/":
			v.errorf(p, "use readonly: false for a writable root", "a tmpfs cannot replace the root")
		}
	}
	for i, c := range n.CapAdd {
		p := fmt.Sprintf("%s.cap_add[%d]", np, i)
		name := strings.ToUpper(strings.TrimPrefix(strings.ToUpper(c), "CAP_"))
		switch {
		case slices.Contains(Capabilities, c):
		case slices.Contains(Capabilities, name):
			v.errorf(p, fmt.Sprintf("write %s", name), "capability %q is written differently", c)
		case name == "ALL" || name == "SYS_ADMIN" || name == "SYS_PTRACE" || name == "SYS_MODULE" || name == "DAC_READ_SEARCH":
			v.errorf(p, "a node may add only "+quoteList(Capabilities), "capability %s would let the node reach beyond its own network namespace", name)
		default:
			hint := didYouMean(name, Capabilities)
			if hint == "" {
				hint = "a node may add only " + quoteList(Capabilities)
			}
			v.errorf(p, hint, "capability %q is not allowed", c)
		}
	}
	hostPorts := map[Publish]int{}
	for i, pb := range n.Publish {
		p := fmt.Sprintf("%s.publish[%d]", np, i)
		if r, ok := v.rawErr(p); ok {
			v.errorf(p, r.hint, "publish: %s", r.reason)
			continue
		}
		key := Publish{HostPort: pb.HostPort, UDP: pb.UDP}
		if j, dup := hostPorts[key]; dup {
			v.errorf(p, "give each its own host port", "host port %d is already %s.publish[%d]", pb.HostPort, np, j)
			continue
		}
		hostPorts[key] = i
	}
	v.ready(np+".ready", n)
}

// rawErr is the parse error of the text value at p, if it had one.
func (v *validator) rawErr(p string) (*valueError, bool) {
	if v.s.src == nil {
		return nil, false
	}
	r, ok := v.s.src.raw[p]
	if !ok || r.err == nil {
		return nil, false
	}
	if be, ok := r.err.(*valueError); ok {
		return be, true
	}
	return &valueError{reason: r.err.Error()}, true
}

func (v *validator) binds(p string, bs []Bind, mounts bool) {
	for i, b := range bs {
		bp := fmt.Sprintf("%s[%d]", p, i)
		if r, ok := v.rawErr(bp); ok {
			v.errorf(bp, r.hint, "%s", r.reason)
			continue
		}
		if !b.IsValid() {
			if !v.bad(bp) {
				v.errorf(bp, `e.g. "./server.py:/lab/server.py"`, "the entry is empty")
			}
			continue
		}
		if b.Writable && !mounts {
			v.errorf(bp, "files are copied in: use mounts for a folder the node writes to the host", "files take no :rw")
		}
		if strings.HasPrefix(b.Source, "~") {
			v.errorf(bp, "write the path relative to the scenario file", "%q starts with ~, which no shell expands here", b.Source)
		}
	}
}

func (v *validator) ready(p string, n *Node) {
	r := n.Ready
	if r == nil {
		return
	}
	var set []string
	if r.TCP != 0 {
		set = append(set, "tcp")
	}
	if r.UDP != 0 {
		set = append(set, "udp")
	}
	if r.Log != "" {
		set = append(set, "log")
	}
	if len(r.Exec) > 0 {
		set = append(set, "exec")
	}
	if r.None {
		set = append(set, "none")
	}
	switch len(set) {
	case 0:
		if !v.bad(p) && !v.bad(p+".tcp") && !v.bad(p+".udp") {
			v.errorf(p, "one of tcp: PORT, udp: PORT, log: TEXT, exec: [COMMAND...] or none: true", "ready says nothing to check")
		}
	case 1:
	default:
		v.errorf(p, "keep one; a readiness check is one thing", "ready has %s", strings.Join(set, " and "))
	}
	for _, port := range []struct {
		key string
		val int64
	}{{"tcp", r.TCP}, {"udp", r.UDP}} {
		if port.val < 0 || port.val > 65535 || port.val == 0 && v.s.written(p+"."+port.key) && !v.bad(p+"."+port.key) {
			v.errorf(p+"."+port.key, "a port is a number from 1 to 65535", "port %d is not valid", port.val)
		}
	}
	if r.Send != "" && r.UDP == 0 {
		v.errorf(p+".send", "send goes with udp: PORT", "send has no meaning without udp")
	}
	if len(r.Exec) > 0 && strings.TrimSpace(r.Exec[0]) == "" {
		v.errorf(p+".exec[0]", "the first item is the program", "the program's name is empty")
	}
	if r.Timeout < 0 || r.Timeout == 0 && v.s.written(p+".timeout") && !v.bad(p+".timeout") {
		v.errorf(p+".timeout", "", "timeout %s is not positive", r.Timeout)
	}
	if r.None && v.s.written(p+".timeout") {
		v.errorf(p+".timeout", "remove it", "none waits for nothing: timeout has no meaning")
	}
}

// publishClashes reports a host port that two nodes publish.
func (v *validator) publishClashes() {
	first := map[Publish]string{}
	for _, n := range v.s.Nodes {
		if n == nil || v.nodes[n.Name] != n {
			continue
		}
		for i, pb := range n.Publish {
			if !pb.IsValid() {
				continue
			}
			key := Publish{HostPort: pb.HostPort, UDP: pb.UDP}
			if other, dup := first[key]; dup && other != n.Name {
				v.errorf(fmt.Sprintf("nodes.%s.publish[%d]", n.Name, i), "give each its own host port",
					"host port %d is also published by node %q", pb.HostPort, other)
				continue
			}
			first[key] = n.Name
		}
	}
}
