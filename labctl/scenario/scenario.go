// Package scenario defines the socketlab scenario format: a lab's networks,
// its nodes (containers) and the steps that check it. These Go types are the
// single definition: YAML is decoded into them strictly, validated with every
// error reported at once, and the JSON Schema for editors is generated from
// them (the doc comments below become the schema's descriptions).
//
// A scenario file is one YAML document:
//
//	name: my-lab
//	networks:
//	  front: {}                  # dual stack; the engine picks the subnets
//	  back: {stack: ipv4, ipv4: 10.80.2.0/24}
//	nodes:
//	  web: {image: web, networks: [front]}
//	  client:
//	    image: client
//	    networks: [front, {name: back, ipv4: 10.80.2.10, aliases: [probe]}]
//	steps:
//	  - {node: client, run: browse, target: http://web/, family: ipv6}
//
// Decoding rejects unknown keys, duplicate keys and values of the wrong
// kind; a key written without a value counts as left out. A file is UTF-8
// text of at most MaxFileSize bytes; its work is bounded by the values it
// expands to (aliases included), so no file takes long to judge. YAML anchors and
// merge keys (<<: *defaults) work, and top-level keys starting with x- are
// ignored, as a place to define anchors.
//
// Validation is strict, and each rule is a decision of the format:
//   - lab, network and node names are lowercase DNS labels (the lab's at most
//     48 characters, see CheckLabName); nodes are not called localhost;
//   - fixed IPv4 subnets are private (10/8, 172.16/12, 192.168/16) and /30 or
//     larger; fixed IPv6 subnets are unique local (inside fd00::/8) and /64 or
//     larger; subnets are written masked and do not overlap, and do not take
//     in a whole pool of the engine's (DefaultPool4, DefaultPool6) or of
//     Docker's usual ones (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 in
//     /20s, fd00::/8);
//   - a lab has at most 32 networks (each is a bridge on the host) and 100
//     nodes;
//   - a fixed address needs its network's fixed subnet, the right family, a
//     place inside the subnet other than its first address and the gateway
//     (the next one, which Docker takes) or the IPv4 broadcast, and no other
//     node on the network using it;
//   - memory is at least 6m (Docker's minimum) and pids from 16 (a Go
//     server crashes at start below 6 threads; a step's client runs beside it)
//     to 4194304 (the kernel's limit); a service's port (PORT, --port) is
//     from 1 to 65535;
//   - steps run clients only in client nodes; the checks that depend on
//     earlier steps (stopped nodes, connected networks) follow the steps in
//     order, and a step that cannot succeed (its target stopped, on no shared
//     network, or only over the other family) must expect a failure.
//
// The model is typed: subnets and addresses are netip values, memory is
// Bytes, families and failure kinds are typed strings, and each step's
// Kind is a type of its own (RunStep, ExecStep, StopStep...). Each value
// is parsed once, while decoding. A scenario that Parse or Load returns has
// its defaults filled in: every network has a Stack and every step a
// Timeout. Validate only checks (for scenarios built in code); code that
// reads a scenario built in code uses Stack.HasIPv4, Stack.HasIPv6 and
// Step.TimeoutOrDefault, which read a zero value as the default.
package scenario

import (
	"net/netip"
	"strconv"
	"time"

	"socketlab/helpers/impair/shape"
	catalog "socketlab/internal/images"
	"socketlab/internal/packet"
	"socketlab/internal/result"
)

// Scenario is a socketlab lab: its networks, its nodes (containers) and the
// steps that check what happens on the wire.
type Scenario struct {
	// Name names the lab: lowercase letters, digits and dashes, at most 48
	// characters. Every Docker resource of the lab carries it in its labels.
	Name string `yaml:"name"`
	// Description tells a learner what the lab shows and what to watch.
	Description string `yaml:"description,omitempty"`
	// Networks are the lab's networks, a mapping from network name to its
	// settings, in file order.
	Networks []*Network `yaml:"networks"`
	// Nodes are the lab's containers, a mapping from node name to its
	// settings, in file order.
	Nodes []*Node `yaml:"nodes"`
	// Steps are the checks `labctl test` runs, in order, once the lab is up.
	Steps []*Step `yaml:"steps,omitempty"`

	// File is the path the scenario was read from ("" when built in code).
	File string `yaml:"-"`

	// src is what decoding learnt about the file; nil when built in code.
	src *source
	// hostPaths is how ResolveHostPaths last succeeded.
	hostPaths hostPathRule
}

// Stack is the address families a network carries.
type Stack string

// The stacks a network may have; dual is the default.
const (
	Dual     Stack = "dual"
	IPv4Only Stack = "ipv4"
	IPv6Only Stack = "ipv6"
)

// HasIPv4 reports whether a network with this stack carries IPv4 (the empty
// stack is the default, dual).
func (s Stack) HasIPv4() bool { return s != IPv6Only }

// HasIPv6 reports whether a network with this stack carries IPv6 (the empty
// stack is the default, dual).
func (s Stack) HasIPv6() bool { return s != IPv4Only }

// Network is a Docker bridge network of the lab.
type Network struct {
	// Name is the network's name in the scenario (the YAML key).
	Name string `yaml:"-"`
	// Stack is the address families the network carries: dual (the
	// default), ipv4 or ipv6.
	Stack Stack `yaml:"stack,omitempty"`
	// IPv4 is the network's IPv4 subnet, e.g. 10.80.1.0/24: a private range
	// (10/8, 172.16/12, 192.168/16), at most /30. Leave it out and labctl
	// picks a free one; give it to fix node addresses.
	IPv4 netip.Prefix `yaml:"ipv4,omitempty"`
	// IPv6 is the network's IPv6 subnet, e.g. fd00:80:1::/64: a unique local
	// range (inside fd00::/8), /64 or larger. Leave it out and labctl picks a
	// free one; give it to fix node addresses.
	IPv6 netip.Prefix `yaml:"ipv6,omitempty"`
	// Internal cuts the network off from the host's outside world: no
	// gateway, traffic stays between the lab's nodes.
	Internal bool `yaml:"internal,omitempty"`
	// Egress lets the network's nodes out of the lab: to the host, the LAN
	// and beyond, through the network's gateway (NAT). A lab is sealed
	// without it: its nodes reach its own networks only, so a scenario
	// passes or fails the same on any machine, and a program under test
	// cannot reach the host's services. Give it to a network whose nodes
	// must fetch something, e.g. a toolbox installing a package.
	Egress bool `yaml:"egress,omitempty"`

	// Line is where the network is defined in the file (0 when built in code).
	Line int `yaml:"-"`
}

// Node is a container of the lab.
type Node struct {
	// Name is the node's name (the YAML key); it is also its hostname and its
	// DNS name on every network it joins.
	Name string `yaml:"-"`
	// Image is what the node runs: a socketlab image by its short name — a
	// service (welcome, echo, chat, responder, lookup, web), client (every
	// sock client, where run steps go) or toolbox (Debian with python3, the
	// usual network tools and sock) — which runs socketlab/<image>; or any
	// other image reference, e.g. python:3.12-slim. Images are never pulled
	// unless labctl up --pull missing says so.
	Image string `yaml:"image"`
	// Networks are the networks the node joins, each a network name or a
	// mapping with the name, fixed addresses and aliases.
	Networks []*Attachment `yaml:"networks"`
	// Env is extra environment for the container, e.g. PORT: 8080.
	Env map[string]string `yaml:"env,omitempty"`
	// Args are the container's arguments: the server's flags, e.g. [--port, "8080"].
	Args []string `yaml:"args,omitempty"`
	// Memory limits the container's memory, e.g. 64m or 1g (bytes, k, m or
	// g; at least 6m). Leave it out for no limit.
	Memory Bytes `yaml:"memory,omitempty"`
	// Pids limits the processes and threads in the container (at least 16:
	// every Go program needs several threads). Leave it out for no limit.
	Pids int64 `yaml:"pids,omitempty"`
	// Host is the Docker host the node runs on when the lab spans several
	// (labctl up --hosts FILE): one of the hosts file's names. Leave it out
	// and the nodes are spread over the hosts in turn.
	Host string `yaml:"host,omitempty"`

	// Command is the program the container runs, as a list (argv), instead
	// of the image's: [python3, /lab/server.py, "::", "7"]. The node then
	// runs under a small init, so that it stops at once on SIGTERM.
	Command []string `yaml:"command,omitempty"`
	// Entrypoint replaces the image's entrypoint (argv); command (or the
	// image's CMD) follows it as its arguments.
	Entrypoint []string `yaml:"entrypoint,omitempty"`
	// WorkDir is the program's working folder, an absolute path.
	WorkDir string `yaml:"workdir,omitempty"`
	// User runs the program as this user: uid, uid:gid or a name the image
	// knows. Left out, the image's user.
	User string `yaml:"user,omitempty"`
	// Files are copied into the container before it starts, each
	// "HOST:CONTAINER" as Docker writes binds: a file or a folder on the
	// host, relative to the scenario file, and an absolute path in the
	// container. They travel through the engine's API, so they work against
	// a remote engine too; the container sees them read-only with the rest
	// of its root.
	Files []Bind `yaml:"files,omitempty"`
	// Mounts bind-mount host folders or files, each "HOST:CONTAINER",
	// read-only unless written "HOST:CONTAINER:rw". The host path is on the
	// engine's machine, relative to the scenario file.
	Mounts []Bind `yaml:"mounts,omitempty"`
	// ReadOnly false lets the program write to its root file system (every
	// node's root is read-only by default).
	ReadOnly *bool `yaml:"readonly,omitempty"`
	// Tmpfs are absolute paths given a fresh in-memory file system, writable
	// on a read-only root: [/tmp].
	Tmpfs []string `yaml:"tmpfs,omitempty"`
	// CapAdd gives the program capabilities back, from NET_RAW (raw
	// sockets, ping), NET_ADMIN (interfaces, routes, firewall) and
	// NET_BIND_SERVICE (ports below 1024 for a non-root user on engines that
	// do not allow it already). Every other capability stays dropped.
	CapAdd []string `yaml:"cap_add,omitempty"`
	// Publish makes a node's port reachable from the host, on 127.0.0.1
	// only: "8080:80" (host port 8080 to the node's 80), "9999:9999/udp".
	Publish []Publish `yaml:"publish,omitempty"`
	// Ready says when the node is ready (up waits for it): a TCP port that
	// accepts, a UDP port that answers, a line in its log, a command that
	// succeeds, or none. Left out: the image's HEALTHCHECK, if it has one.
	Ready *Ready `yaml:"ready,omitempty"`

	// Line is where the node is defined in the file (0 when built in code).
	Line int `yaml:"-"`
}

// Bind is a host path put into a node (files, mounts), written
// "HOST:CONTAINER" or, for mounts, "HOST:CONTAINER:rw" (":ro" is the
// default).
type Bind struct {
	// Source is the host path as written, relative to the scenario file.
	Source string
	// Target is the absolute path in the container.
	Target string
	// Writable is set by ":rw" (mounts only).
	Writable bool
	// HostPath is Source made absolute, with symbolic links followed; set
	// by ResolveHostPaths.
	HostPath string
}

// Publish is a node's port made reachable on the host's 127.0.0.1, written
// "HOST:NODE" or "HOST:NODE/udp".
type Publish struct {
	HostPort, NodePort uint16
	// UDP is set by /udp; the default is TCP.
	UDP bool
}

// Ready is a node's readiness check: exactly one of tcp, udp, log, exec or
// none, and a timeout.
type Ready struct {
	// TCP is a port on which the node must accept a connection.
	TCP int64 `yaml:"tcp,omitempty"`
	// UDP is a port to which a datagram (send) must bring a reply.
	UDP int64 `yaml:"udp,omitempty"`
	// Send is the datagram a udp check sends; "ping" when left out.
	Send string `yaml:"send,omitempty"`
	// Log is text one line of the node's output must contain.
	Log string `yaml:"log,omitempty"`
	// Exec is a command run in the node (argv) that must exit 0.
	Exec []string `yaml:"exec,omitempty"`
	// None true: the node is ready once it runs, even if its image has a
	// HEALTHCHECK.
	None bool `yaml:"none,omitempty"`
	// Timeout bounds the wait, e.g. 20s; labctl up --timeout (30s) when
	// left out.
	Timeout Duration `yaml:"timeout,omitempty"`
}

// Attachment joins a node to a network. In YAML, either a network name or a
// mapping with the name, fixed addresses and aliases.
type Attachment struct {
	// Network is the name of one of the scenario's networks.
	Network string `yaml:"name"`
	// IPv4 is the node's fixed IPv4 address on the network; the network must
	// give its ipv4 subnet. Leave it out and Docker assigns one.
	IPv4 netip.Addr `yaml:"ipv4,omitempty"`
	// IPv6 is the node's fixed IPv6 address on the network; the network must
	// give its ipv6 subnet. Leave it out and Docker assigns one.
	IPv6 netip.Addr `yaml:"ipv6,omitempty"`
	// Aliases are further DNS names of the node on this network.
	Aliases []string `yaml:"aliases,omitempty"`
	// Impair degrades what the node sends on this network from the moment
	// it is up: {delay: 50ms, jitter: 10ms, loss: 20%, rate: 1mbit}.
	Impair *shape.Settings `yaml:"impair,omitempty"`
}

// Step is one thing `labctl test` does: run a client inside a node against a
// target and check what came back (run), run any command in a node and check
// its output and exit status (exec), or act on a node (action).
type Step struct {
	// Name says what the step shows; reports name the step by it.
	Name string
	// Node is the node the step runs in or acts on ("" for a sleep, or a
	// heal of the whole lab).
	Node string
	// Timeout bounds the step; Parse sets DefaultTimeout when the file
	// gives none.
	Timeout Duration
	// Kind is what the step does: one of the kinds of stepKinds (RunStep,
	// ExecStep, StopStep...), decided once when the file is decoded.
	Kind StepKind
	// Line is where the step is defined in the file (0 when built in code).
	Line int
}

// stepKeys is a step as a scenario file writes it: the keys of every kind
// side by side. Decoding reads a step into it and decides the step's Kind
// from it (stepDecoder); the schema describes a step by it.
type stepKeys struct {
	// Name says what the step shows; reports name the step by it.
	Name string `yaml:"name,omitempty"`
	// Node is the node the client runs in (a client node), or the node an
	// action acts on.
	Node string `yaml:"node,omitempty"`

	// Run is the client to run: welcome, echo, responder, browse, chat or
	// lookup (the sub-commands of sock), in a node whose image has sock
	// (client or toolbox).
	Run string `yaml:"run,omitempty"`
	// Exec is a command to run in the node instead of a client (argv):
	// [python3, /lab/client.py, echo]. Its expect judges its standard
	// output (contains, equals, matches), its standard error (stderr) and
	// its exit status (exit, 0 when left out).
	Exec []string `yaml:"exec,omitempty"`
	// Target is what the client talks to: host or host:port, where host is a
	// node name, an alias or an IP address ([fd00::5]:7 for IPv6 with a
	// port); browse also takes a URL, http://web/.
	Target string `yaml:"target,omitempty"`
	// Family is the address family the client uses: ipv4, ipv6, both (the
	// step runs once per family) or left out (each address in resolver order).
	Family Family `yaml:"family,omitempty"`
	// Args are further arguments for the client, after the target.
	Args []string `yaml:"args,omitempty"`
	// Expect is what the client's run must show; left out, it must succeed.
	Expect *Expect `yaml:"expect,omitempty"`
	// Background starts the client and goes on to the next step at once; its
	// result is judged when it ends, before the lab is torn down. For a client
	// that waits for what a later step causes: a chat user waiting for
	// another's message.
	Background bool `yaml:"background,omitempty"`

	// Action acts on the node instead of running a client: stop, kill,
	// start, disconnect or connect (with network), impair (with impair),
	// fault (with fault) or heal a link, or sleep (with for).
	Action string `yaml:"action,omitempty"`
	// Network is the network a disconnect, connect, impair or heal action
	// concerns; impair and heal without it act on every network of the node.
	Network string `yaml:"network,omitempty"`
	// Impair is how an impair action degrades the node's link:
	// {delay: 100ms, loss: 20%, rate: 1mbit}. heal takes it away.
	Impair *shape.Settings `yaml:"impair,omitempty"`
	// Fault is which packets a fault action picks on the node's link and
	// what happens to them: {match: "tcp and syn and ack", drop: true,
	// nth: 1}. heal takes it away.
	Fault *FaultRule `yaml:"fault,omitempty"`
	// For is how long a sleep action waits, e.g. 500ms.
	For Duration `yaml:"for,omitempty"`

	// Timeout bounds the step, e.g. 5s; 10s when left out.
	Timeout Duration `yaml:"timeout,omitempty"`
}

// Expect is what a client step must show. Fail excludes the other checks.
type Expect struct {
	// Contains is text the client's output must contain.
	Contains string `yaml:"contains,omitempty"`
	// Equals is the client's whole output, exactly (a trailing newline is
	// ignored).
	Equals *string `yaml:"equals,omitempty"`
	// Matches is a regular expression (RE2 syntax) the output must match.
	Matches string `yaml:"matches,omitempty"`
	// Family is the address family the client must have used: IPv4 or IPv6.
	Family AddrFamily `yaml:"family,omitempty"`
	// Within bounds the client's total time, e.g. 200ms.
	Within Duration `yaml:"within,omitempty"`
	// SlowerThan is a lower bound on the client's total time, e.g. 100ms:
	// what a delayed link shows (a packet never arrives before its delay).
	SlowerThan Duration `yaml:"slower_than,omitempty"`
	// MinReplies is the fewest echoes a run of echo --udp --count N --wait D
	// must get back, each lost datagram being counted, not an error.
	MinReplies int64 `yaml:"min_replies,omitempty"`
	// MaxReplies is the most echoes such a run may get back: on a lossy
	// link, fewer than were sent.
	MaxReplies int64 `yaml:"max_replies,omitempty"`
	// Fail says that the client must fail, and how: refused, timeout,
	// unreachable, resolve, reset, protocol, or any.
	Fail result.Kind `yaml:"fail,omitempty"`
	// Stderr is what an exec step's standard error must show.
	Stderr *TextExpect `yaml:"stderr,omitempty"`
	// Exit is the exit status an exec step's command must end with; 0 when
	// left out.
	Exit *int64 `yaml:"exit,omitempty"`
	// Wire is what must have crossed the wire during the step, as the
	// step's node sent and received it (labctl test captures the lab's
	// nodes when a step has wire checks).
	Wire *Wire `yaml:"wire,omitempty"`
}

// TextExpect is what a text (an exec step's standard error) must show.
type TextExpect struct {
	// Contains is text it must contain.
	Contains string `yaml:"contains,omitempty"`
	// Equals is the whole text, exactly (a trailing newline is ignored).
	Equals *string `yaml:"equals,omitempty"`
	// Matches is a regular expression (RE2 syntax) it must match.
	Matches string `yaml:"matches,omitempty"`
}

// Wire is a step's expect.wire: what the step's node must have sent and
// received during the step, judged from a capture of its interfaces.
type Wire struct {
	// Handshake true: every TCP connection had its three-way handshake
	// (SYN, SYN-ACK, ACK); false: not one complete handshake was seen.
	Handshake *bool `yaml:"handshake,omitempty"`
	// Close is how the first TCP connection that ended, ended: fin or rst,
	// and who sent it first: "fin by server", "rst by client".
	Close WireClose `yaml:"close,omitempty"`
	// ICMP is an ICMP or ICMPv6 message that must have been seen, e.g.
	// port-unreachable.
	ICMP string `yaml:"icmp,omitempty"`
	// Retransmissions bounds the TCP segments sent again: a number, or a
	// comparison such as "<= 2" or "> 0".
	Retransmissions *WireCount `yaml:"retransmissions,omitempty"`
	// Datagrams are how many UDP datagrams the node must have sent and
	// received.
	Datagrams *WireDatagrams `yaml:"datagrams,omitempty"`
	// Family is the IP version every TCP and UDP packet used: IPv4 or IPv6.
	Family AddrFamily `yaml:"family,omitempty"`
}

// WireClose is how a TCP connection ended and, when By is set, which side
// sent the first FIN or RST; written "fin", "rst by server".
type WireClose struct {
	How packet.CloseKind
	By  packet.Side
}

// WireCount is a comparison with a number, written "3", "<= 2", "> 0".
type WireCount struct {
	// Op is one of == != < <= > >=.
	Op string
	N  int64
}

// WireDatagrams counts UDP datagrams; a count left out is not checked.
type WireDatagrams struct {
	// Sent is how many datagrams the node sent.
	Sent *int64 `yaml:"sent,omitempty"`
	// Received is how many datagrams the node received.
	Received *int64 `yaml:"received,omitempty"`
}

// Duration is a time.Duration written as in Go: "500ms", "2s", "1m30s".
type Duration time.Duration

// DefaultTimeout bounds a step whose scenario gives no timeout.
const DefaultTimeout = 10 * time.Second

// Bytes is a size in bytes, written in YAML as a number of bytes, k, m or g
// (powers of 1024): 100b, 512k, 64m, 1g.
type Bytes int64

// Family is the address family a step's client uses.
type Family string

// Step families (Step.Family).
const (
	FamilyAny  Family = ""     // each of the target's addresses, in resolver order
	FamilyIPv4 Family = "ipv4" // IPv4 only (sock -4)
	FamilyIPv6 Family = "ipv6" // IPv6 only (sock -6)
	FamilyBoth Family = "both" // the step runs twice, once per family
)

// AddrFamily is the address family a client used (Expect.Family), as sock
// --json reports it: IPv4 or IPv6.
type AddrFamily string

// Address families (Expect.Family).
const (
	AddrIPv4 AddrFamily = "IPv4"
	AddrIPv6 AddrFamily = "IPv6"
)

// ClientImage is the image that carries every client; steps that run a
// client run in a node with this image.
const ClientImage = catalog.Client

// ImagePrefix is prepended to a node's image: the node "echo" runs the image
// socketlab/echo.
const ImagePrefix = catalog.Prefix

// The vocabularies of the format, in the order the schema and hints list them.
var (
	stacks         = []string{string(Dual), string(IPv4Only), string(IPv6Only)}
	images         = catalog.Nodes()
	clients        = catalog.Clients()
	actions        = actionKeys()
	stepFamilies   = names(FamilyIPv4, FamilyIPv6, FamilyBoth)
	expectFamilies = names(AddrIPv4, AddrIPv6)
	failKinds      = names(result.Expectable()...)
)

func names[T ~string](vs ...T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// Images returns the images a node may run: the services and client.
func Images() []string { return append([]string(nil), images...) }

// Network returns the network called name, or nil.
func (s *Scenario) Network(name string) *Network {
	for _, n := range s.Networks {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Node returns the node called name, or nil.
func (s *Scenario) Node(name string) *Node {
	for _, n := range s.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// TimeoutOrDefault is the step's timeout, DefaultTimeout when it has none
// (a step built in code; Parse fills it in).
func (st *Step) TimeoutOrDefault() time.Duration {
	if st.Timeout > 0 {
		return time.Duration(st.Timeout)
	}
	return DefaultTimeout
}

// String formats d as time.Duration does ("1.5s").
func (d Duration) String() string { return time.Duration(d).String() }

// String writes b in the largest unit that holds it whole: 64m, 1g, 512k,
// 100b (0 is "0").
func (b Bytes) String() string {
	if b == 0 {
		return "0"
	}
	for _, u := range []struct {
		shift  uint
		suffix string
	}{{30, "g"}, {20, "m"}, {10, "k"}} {
		if b%(1<<u.shift) == 0 {
			return strconv.FormatInt(int64(b>>u.shift), 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10) + "b"
}
