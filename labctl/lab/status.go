package lab

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"socketlab/labctl/backend"
)

// Status is a lab as the engine holds it now.
type Status struct {
	Lab      string          `json:"lab"`
	File     string          `json:"file,omitempty"`
	Networks []NetworkStatus `json:"networks"`
	Nodes    []NodeStatus    `json:"nodes"`
	// Impairments are the links impaired now (labctl impair, a scenario's
	// impair: or an impair step).
	Impairments []Impairment `json:"impairments,omitempty"`
	// Faults are the faults aimed at single packets in force (labctl
	// fault, a fault step) and how often each fired.
	Faults []FaultLink `json:"faults,omitempty"`
}

// NetworkStatus is one network of a lab.
type NetworkStatus struct {
	Name     string `json:"name"`   // as in the scenario
	Docker   string `json:"docker"` // the Docker network's name
	Stack    string `json:"stack"`  // dual, ipv4 or ipv6
	IPv4     string `json:"ipv4,omitempty"`
	IPv6     string `json:"ipv6,omitempty"`
	Internal bool   `json:"internal,omitempty"`
	// Egress: the network's nodes may leave the lab (egress: true); a lab
	// is sealed without it.
	Egress bool `json:"egress,omitempty"`
	// Note explains a difference between the scenario and what Docker can
	// do (an IPv6-only network on Docker 20.10 still has IPv4 subnet,
	// blocked between nodes).
	Note string `json:"note,omitempty"`
}

// NodeStatus is one node of a lab.
type NodeStatus struct {
	Name      string `json:"name"`
	Container string `json:"container"` // the Docker container's name
	Image     string `json:"image"`
	// State is Docker's: running, exited, created, ...
	State string `json:"state"`
	// Health is Docker's view of the image's healthcheck: healthy,
	// unhealthy, starting (Docker has not run it yet: it first runs one
	// interval after start, while Up runs it at once), or none.
	Health string `json:"health"`
	// Ready is what up checked before it called the node ready:
	// "healthcheck" (the image's), the scenario's check ("tcp 8080",
	// `log "listening on"`), or "" when nothing was checked: the node was
	// only seen running.
	Ready string `json:"ready"`
	// ExitCode is set when the node has exited.
	ExitCode int `json:"exit_code,omitempty"`
	// Host is the host the node runs on, in a lab across several hosts.
	Host      string    `json:"host,omitempty"`
	Addresses []Address `json:"addresses"`
	// Security is how the container is confined.
	Security Security `json:"security"`
}

// Security is how a node's container is confined, as Docker reports it.
type Security struct {
	User         string   `json:"user"` // uid:gid; "" would be root
	ReadOnlyRoot bool     `json:"read_only_root"`
	CapDrop      []string `json:"cap_drop,omitempty"`
	CapAdd       []string `json:"cap_add,omitempty"`
	SecurityOpt  []string `json:"security_opt,omitempty"`
	Privileged   bool     `json:"privileged,omitempty"`
	Memory       int64    `json:"memory,omitempty"` // bytes; 0: no limit
	Pids         int64    `json:"pids,omitempty"`   // 0: no limit
}

// Address is a node's place on one network.
type Address struct {
	Network string `json:"network"`
	// Interface is the node's interface on the network (eth0, eth1...;
	// eth0 is not always the first network listed), "" when the engine
	// cannot tell (a remote engine).
	Interface string   `json:"interface,omitempty"`
	MAC       string   `json:"mac,omitempty"`
	IPv4      string   `json:"ipv4,omitempty"`
	IPv6      string   `json:"ipv6,omitempty"`
	Aliases   []string `json:"aliases,omitempty"`
}

// Status reads the lab's networks and nodes, in scenario order.
func (l *Lab) Status(ctx context.Context) (*Status, error) {
	ctrs, nets, err := l.e.resources(ctx, backend.Selector{LabelLab: l.name})
	if err != nil {
		return nil, err
	}
	impaired := impairmentsOf(ctrs)
	faults := l.faultsOf(ctx, ctrs)
	ctrs = slices.DeleteFunc(ctrs, func(c backend.Container) bool { return isHelper(c.Labels) })
	st := &Status{Lab: l.name, Networks: []NetworkStatus{}, Nodes: make([]NodeStatus, len(ctrs)), Impairments: impaired, Faults: faults}
	byName := map[string]string{} // runtime network name -> scenario name
	var order []string            // scenario network names, in file order
	for _, n := range nets {
		ns := NetworkStatus{
			Name: n.Labels[LabelNetwork], Docker: n.Name, Stack: n.Labels[LabelStack], Internal: n.Internal,
			Egress: n.Labels[LabelEgress] == "true",
		}
		for _, s := range n.Subnets {
			if s.Addr().Is4() {
				ns.IPv4 = s.String()
			} else {
				ns.IPv6 = s.String()
			}
		}
		if ns.Stack == "ipv6" && ns.IPv4 != "" {
			ns.Note = "this Docker engine gives every network IPv4; IPv4 between its nodes is blocked"
		}
		byName[n.Name] = ns.Name
		order = append(order, ns.Name)
		st.Networks = append(st.Networks, ns)
		if st.File == "" {
			st.File = n.Labels[LabelFile]
		}
	}
	errs := parallel(len(ctrs), func(i int) error {
		ins, err := l.e.b.Inspect(ctx, ctrs[i].ID)
		if err != nil {
			return fmt.Errorf("inspect %s: %w", ctrs[i].Labels[LabelNode], err)
		}
		st.Nodes[i] = nodeStatus(ctrs[i], ins, byName, order)
		return nil
	})
	if err := joinErrs(errs); err != nil {
		return nil, err
	}
	return st, nil
}

func nodeStatus(c backend.Container, ins backend.ContainerInfo, byName map[string]string, order []string) NodeStatus {
	ns := NodeStatus{
		Name:      c.Labels[LabelNode],
		Container: ins.Name,
		Image:     c.Image,
		State:     ins.State,
		Health:    ins.Health,
		Ready:     c.Labels[LabelReady],
		ExitCode:  ins.ExitCode,
		Host:      c.Labels[LabelHost],
		Addresses: []Address{},
		Security: Security{
			User: ins.User, ReadOnlyRoot: ins.Security.ReadOnlyRoot,
			CapDrop: ins.Security.CapDrop, CapAdd: ins.Security.CapAdd, SecurityOpt: ins.Security.SecurityOpt,
			Privileged: ins.Security.Privileged, Memory: ins.Security.Memory, Pids: ins.Security.Pids,
		},
	}
	if base := c.Labels[LabelFiles]; base != "" {
		ns.Image = base + " + files" // the image with the node's files in
	}
	if ns.Health == "" {
		ns.Health = "none"
	}
	for _, ep := range ins.Endpoints {
		a := Address{Network: byName[ep.Network], Interface: ep.Interface, MAC: ep.MAC,
			Aliases: slices.DeleteFunc(slices.Clone(ep.Aliases), func(s string) bool { return s == ns.Name })}
		if a.Network == "" {
			a.Network = ep.Network // joined outside the lab
		}
		if ep.IPv4.IsValid() {
			a.IPv4 = ep.IPv4.String()
		}
		if ep.IPv6.IsValid() {
			a.IPv6 = ep.IPv6.String()
		}
		ns.Addresses = append(ns.Addresses, a)
	}
	// In the lab's network order; networks from outside the lab last.
	pos := func(a Address) int {
		if i := slices.Index(order, a.Network); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(ns.Addresses, func(a, b Address) int {
		if d := pos(a) - pos(b); d != 0 {
			return d
		}
		return strings.Compare(a.Network, b.Network)
	})
	return ns
}
