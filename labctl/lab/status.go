package lab

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Status is a lab as the engine holds it now.
type Status struct {
	Lab      string          `json:"lab"`
	File     string          `json:"file,omitempty"`
	Networks []NetworkStatus `json:"networks"`
	Nodes    []NodeStatus    `json:"nodes"`
}

// NetworkStatus is one network of a lab.
type NetworkStatus struct {
	Name     string `json:"name"`   // as in the scenario
	Docker   string `json:"docker"` // the Docker network's name
	Stack    string `json:"stack"`  // dual, ipv4 or ipv6
	IPv4     string `json:"ipv4,omitempty"`
	IPv6     string `json:"ipv6,omitempty"`
	Internal bool   `json:"internal,omitempty"`
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
	// ExitCode is set when the node has exited.
	ExitCode  int       `json:"exit_code,omitempty"`
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
	Network string   `json:"network"`
	IPv4    string   `json:"ipv4,omitempty"`
	IPv6    string   `json:"ipv6,omitempty"`
	Aliases []string `json:"aliases,omitempty"`
}

// Status reads the lab's networks and nodes, in scenario order.
func (l *Lab) Status(ctx context.Context) (*Status, error) {
	ctrs, nets, err := l.e.resources(ctx, LabelLab+"="+l.name)
	if err != nil {
		return nil, err
	}
	st := &Status{Lab: l.name, Networks: []NetworkStatus{}, Nodes: make([]NodeStatus, len(ctrs))}
	byDocker := map[string]string{} // Docker network name -> scenario name
	var order []string              // scenario network names, in file order
	for _, n := range nets {
		ns := NetworkStatus{
			Name: n.Labels[LabelNetwork], Docker: n.Name, Stack: n.Labels[LabelStack], Internal: n.Internal,
		}
		for _, c := range n.IPAM.Config {
			if c.Subnet.Addr().Is4() {
				ns.IPv4 = c.Subnet.String()
			} else {
				ns.IPv6 = c.Subnet.String()
			}
		}
		if ns.Stack == "ipv6" && ns.IPv4 != "" {
			ns.Note = "this Docker engine gives every network IPv4; IPv4 between its nodes is blocked"
		}
		byDocker[n.Name] = ns.Name
		order = append(order, ns.Name)
		st.Networks = append(st.Networks, ns)
		if st.File == "" {
			st.File = n.Labels[LabelFile]
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ctrs))
	for i, c := range ctrs {
		wg.Go(func() {
			ins, err := l.e.cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
			if err != nil {
				errs[i] = engineErr("inspect "+c.Labels[LabelNode], err)
				return
			}
			st.Nodes[i] = nodeStatus(c, ins.Container, byDocker, order)
		})
	}
	wg.Wait()
	if err := joinErrs(errs); err != nil {
		return nil, err
	}
	return st, nil
}

func nodeStatus(c container.Summary, ins container.InspectResponse, byDocker map[string]string, order []string) NodeStatus {
	ns := NodeStatus{
		Name:      c.Labels[LabelNode],
		Container: strings.TrimPrefix(ins.Name, "/"),
		Image:     c.Image,
		Health:    "none",
		Addresses: []Address{},
	}
	if s := ins.State; s != nil {
		ns.State = string(s.Status)
		if s.Health != nil {
			ns.Health = string(s.Health.Status)
		}
		if !s.Running && s.Status != container.StateCreated {
			ns.ExitCode = s.ExitCode
		}
	}
	if ins.Config != nil {
		ns.Security.User = ins.Config.User
	}
	if h := ins.HostConfig; h != nil {
		ns.Security.ReadOnlyRoot = h.ReadonlyRootfs
		ns.Security.CapDrop = h.CapDrop
		ns.Security.CapAdd = h.CapAdd
		ns.Security.SecurityOpt = h.SecurityOpt
		ns.Security.Privileged = h.Privileged
		ns.Security.Memory = h.Memory
		if h.PidsLimit != nil {
			ns.Security.Pids = *h.PidsLimit
		}
	}
	if ins.NetworkSettings == nil {
		return ns
	}
	for dn, ep := range ins.NetworkSettings.Networks {
		a := Address{Network: byDocker[dn], Aliases: slices.DeleteFunc(slices.Clone(ep.Aliases), func(s string) bool {
			return s == ns.Name || strings.HasPrefix(ins.ID, s) // Docker adds the short ID
		})}
		if a.Network == "" {
			a.Network = dn // joined outside the lab
		}
		if ep.IPAddress.IsValid() {
			a.IPv4 = ep.IPAddress.String()
		}
		if ep.GlobalIPv6Address.IsValid() {
			a.IPv6 = ep.GlobalIPv6Address.String()
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
