package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"socketlab/labctl/backend"
	"socketlab/labctl/scenario"
)

// allocMu serializes subnet allocation within the process; other processes
// are caught by the runtime's overlap check and retried.
var allocMu sync.Mutex

// createNetwork creates a lab network with its subnets, allocating those the
// scenario does not give.
func (u *upper) createNetwork(ctx context.Context, n *netPlan) error {
	allocMu.Lock()
	defer allocMu.Unlock()
	info, err := u.e.b.Info(ctx)
	if err != nil {
		return err
	}
	st := stackOf(n.net)
	want4, want6 := st.HasIPv4(), st.HasIPv6()
	spec := n.spec
	if st == scenario.IPv6Only {
		if info.IPv6OnlyNetworks {
			spec.IPv4Off = true
		} else {
			// An engine that always gives a bridge IPv4: with
			// inter-container traffic off, IPv4 between the nodes is
			// dropped while IPv6 flows.
			want4, spec.Isolated = true, true
		}
	}
	const attempts = 8
	for attempt := 1; ; attempt++ {
		_, all, err := u.e.b.List(ctx, nil)
		if err != nil {
			return err
		}
		var used []netip.Prefix
		for _, s := range all {
			used = append(used, s.Subnets...)
		}
		spec.IPv4, spec.IPv6 = n.net.IPv4, n.net.IPv6
		a4, a6, err := u.pools.pick(want4 && !spec.IPv4.IsValid(), want6 && !spec.IPv6.IsValid(), used)
		if err != nil {
			return fmt.Errorf("network %s: %w", n.net.Name, err)
		}
		if want4 && !spec.IPv4.IsValid() {
			spec.IPv4 = a4
		}
		if want6 && !spec.IPv6.IsValid() {
			spec.IPv6 = a6
		}
		id, err := u.e.b.CreateNetwork(ctx, spec)
		switch {
		case errors.Is(err, backend.ErrOverlap):
			if n.net.IPv4.IsValid() && n.net.IPv6.IsValid() || attempt == attempts {
				return fmt.Errorf("create network %s: subnets %s: %w%s", n.net.Name, describe(spec.IPv4, spec.IPv6), err, overlapping(all, spec.IPv4, spec.IPv6))
			}
			continue // another lab took it meanwhile: pick again
		case errors.Is(err, backend.ErrNameInUse):
			return fmt.Errorf("%w: network %s exists and is not part of lab %s", ErrNameTaken, spec.Name, u.p.name)
		case errors.Is(err, backend.ErrUnsupported):
			return fmt.Errorf("%w: network %s: %w", ErrInvalid, n.net.Name, err)
		case err != nil:
			return fmt.Errorf("create network %s: %w", n.net.Name, err)
		}
		u.netIDs[n.net.Name] = id
		u.ev.emit(KindNetwork, n.net.Name, Created, describe(spec.IPv4, spec.IPv6), nil)
		return nil
	}
}

func describe(ps ...netip.Prefix) string {
	var s []string
	for _, p := range ps {
		if p.IsValid() {
			s = append(s, p.String())
		}
	}
	return strings.Join(s, " ")
}

// overlapping names the networks whose subnets overlap v4 or v6.
func overlapping(all []backend.Network, v4, v6 netip.Prefix) string {
	var who []string
	for _, n := range all {
		for _, s := range n.Subnets {
			if v4.IsValid() && s.Overlaps(v4) || v6.IsValid() && s.Overlaps(v6) {
				who = append(who, fmt.Sprintf("%s (%s)", n.Name, s))
			}
		}
	}
	if len(who) == 0 {
		return ""
	}
	return ": in use by network " + strings.Join(who, ", ")
}
