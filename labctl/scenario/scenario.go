// Package scenario defines the socketlab scenario format: a lab's networks,
// its nodes (containers) and the steps that check it. These Go types are the
// single definition: YAML is decoded into them strictly and the JSON Schema is
// generated from them.
package scenario

import "time"

// Scenario is one lab: what to create, and what must then hold on the wire.
type Scenario struct {
	// Name names the lab; Docker resources carry it in their labels.
	Name string `yaml:"name"`
	// Description tells a learner what the lab shows and what to watch.
	Description string `yaml:"description,omitempty"`
	// Networks are the lab's Docker networks, in file order. In YAML, a
	// mapping from network name to its settings.
	Networks []*Network `yaml:"networks"`
	// Nodes are the lab's containers, in file order. In YAML, a mapping from
	// node name to its settings.
	Nodes []*Node `yaml:"nodes"`
	// Steps run in order by `labctl test`.
	Steps []*Step `yaml:"steps,omitempty"`

	// File is the path the scenario was read from ("" when built in code).
	File string `yaml:"-"`
}

// Stack is the address families a network carries.
type Stack string

// The stacks a network may have; dual is the default.
const (
	Dual     Stack = "dual"
	IPv4Only Stack = "ipv4"
	IPv6Only Stack = "ipv6"
)

// Network is a Docker bridge network of the lab.
type Network struct {
	// Name is the network's name in the scenario (the YAML key).
	Name string `yaml:"-"`
	// Stack is dual (default), ipv4 or ipv6.
	Stack Stack `yaml:"stack,omitempty"`
	// IPv4 is the IPv4 subnet in CIDR form; empty: the engine picks one.
	IPv4 string `yaml:"ipv4,omitempty"`
	// IPv6 is the IPv6 subnet in CIDR form; empty: the engine picks a ULA /64.
	IPv6 string `yaml:"ipv6,omitempty"`
	// Internal networks have no route out of the lab.
	Internal bool `yaml:"internal,omitempty"`

	// Line is where the network is defined in the file (0 when built in code).
	Line int `yaml:"-"`
}

// Node is a container of the lab.
type Node struct {
	// Name is the node's name (the YAML key); it is also its hostname and its
	// DNS name on every network it joins.
	Name string `yaml:"-"`
	// Image is a service (welcome, echo, chat, responder, lookup, web) or
	// client; it runs the image socketlab/<image>.
	Image string `yaml:"image"`
	// Networks the node joins, the first one at creation.
	Networks []*Attachment `yaml:"networks"`
	// Env is extra environment for the container.
	Env map[string]string `yaml:"env,omitempty"`
	// Args are the container's arguments (the server's flags).
	Args []string `yaml:"args,omitempty"`
	// Memory limits the container's memory, e.g. 64m; empty: no limit.
	Memory string `yaml:"memory,omitempty"`
	// Pids limits the number of processes and threads; 0: no limit.
	Pids int64 `yaml:"pids,omitempty"`

	// Line is where the node is defined in the file (0 when built in code).
	Line int `yaml:"-"`
}

// Attachment joins a node to a network. In YAML, either a network name or a
// mapping with name and optional fixed addresses and aliases.
type Attachment struct {
	// Network is the name of a network of the scenario.
	Network string `yaml:"name"`
	// IPv4 is a fixed IPv4 address inside the network's subnet.
	IPv4 string `yaml:"ipv4,omitempty"`
	// IPv6 is a fixed IPv6 address inside the network's subnet.
	IPv6 string `yaml:"ipv6,omitempty"`
	// Aliases are extra DNS names for the node on this network.
	Aliases []string `yaml:"aliases,omitempty"`
}

// Step is one thing `labctl test` does: either run a client inside a node
// against a target and check what came back (Run), or act on a node (Action).
type Step struct {
	// Name says what the step shows; it names the step in reports.
	Name string `yaml:"name,omitempty"`
	// Node is where the client runs (for Run), or the node acted on.
	Node string `yaml:"node"`

	// Run is the client to run: a sub-command of sock (welcome, echo,
	// responder, browse, chat, lookup).
	Run string `yaml:"run,omitempty"`
	// Target is host[:port]: a node name, an alias or an address.
	Target string `yaml:"target,omitempty"`
	// Family is ipv4, ipv6, both (the step runs once per family) or empty
	// (the client's default: each address in resolver order).
	Family string `yaml:"family,omitempty"`
	// Args are further arguments for the client, after the target.
	Args []string `yaml:"args,omitempty"`
	// Expect is what must hold; empty means the client must succeed.
	Expect *Expect `yaml:"expect,omitempty"`

	// Action acts on Node instead of running a client: stop, kill, start,
	// disconnect or connect (the last two with Network), or sleep (For).
	Action string `yaml:"action,omitempty"`
	// Network is the network a disconnect or connect action concerns.
	Network string `yaml:"network,omitempty"`
	// For is how long a sleep action waits.
	For Duration `yaml:"for,omitempty"`

	// Timeout bounds the step; default 10s.
	Timeout Duration `yaml:"timeout,omitempty"`

	// Line is where the step is defined in the file (0 when built in code).
	Line int `yaml:"-"`
}

// Expect is what a client step must show.
type Expect struct {
	// Contains is text the output must contain.
	Contains string `yaml:"contains,omitempty"`
	// Equals is the whole output, exactly (trailing newline ignored).
	Equals *string `yaml:"equals,omitempty"`
	// Matches is a regular expression (RE2) the output must match.
	Matches string `yaml:"matches,omitempty"`
	// Family is the family the client must have used: IPv4 or IPv6.
	Family string `yaml:"family,omitempty"`
	// Within bounds the client's total time.
	Within Duration `yaml:"within,omitempty"`
	// Fail says the client must fail, and how: refused, timeout,
	// unreachable, resolve, reset, protocol, or any.
	Fail string `yaml:"fail,omitempty"`
}

// Duration is a time.Duration written as in Go ("500ms", "2s").
type Duration time.Duration
