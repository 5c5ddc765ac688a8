package scenario

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"socketlab/helpers/impair/shape"
)

// FaultRule is a fault aimed at single packets, as a fault step writes it:
// {match: "tcp and syn and ack", drop: true, nth: 1}. Its keys are labctl
// fault's flags: match, one action (drop, delay, duplicate, corrupt,
// reorder), which packets (nth, first, every with count) and ingress.
type FaultRule struct {
	// Match picks the packets: a capture filter such as "tcp and syn and
	// ack" (a SYN-ACK), "udp and data", "tcp and fin and src port 9999".
	Match string `yaml:"match,omitempty"`
	// Drop loses the packet, silently, as on a wire.
	Drop bool `yaml:"drop,omitempty"`
	// Delay holds the packet this long (the others pass it), e.g. 300ms.
	Delay Duration `yaml:"delay,omitempty"`
	// Duplicate sends the packet twice (what the node sends only).
	Duplicate bool `yaml:"duplicate,omitempty"`
	// Corrupt flips one bit after the IP header: the receiver's checksum
	// catches it.
	Corrupt bool `yaml:"corrupt,omitempty"`
	// Reorder holds the packet until the next packet match picks has gone.
	Reorder bool `yaml:"reorder,omitempty"`
	// Nth picks the Nth matching packet from the step on, once (1 when nth,
	// first and every are left out).
	Nth int64 `yaml:"nth,omitempty"`
	// First picks the first K matching packets.
	First int64 `yaml:"first,omitempty"`
	// Every picks every Nth matching packet; count bounds how many times.
	Every int64 `yaml:"every,omitempty"`
	// Count is how many times every acts at most.
	Count int64 `yaml:"count,omitempty"`
	// Ingress acts on what the node receives instead of what it sends.
	Ingress bool `yaml:"ingress,omitempty"`
}

// FaultStep puts a fault on what the step's node sends (or, with
// Fault.Ingress, receives) on Network, or on every network of the node
// when Network is "", after any faults already there. A heal step clears it.
type FaultStep struct {
	Network string
	// Fault is validated: its filter is parsed.
	Fault shape.Fault
}

func decodeFault(s *stepDecoder) StepKind {
	s.noMeaning("fault", true, false, false)
	k := FaultStep{Network: s.k.Network}
	r := s.k.Fault
	if r == nil {
		if !s.d.src.isBad(s.path + ".fault") {
			s.errorf("", `add fault: with the packets and what happens to them, e.g. fault: {match: "tcp and syn and ack", drop: true}`, "a fault step needs fault")
		}
		return k
	}
	f := shape.Fault{Match: r.Match, Delay: time.Duration(r.Delay), Nth: int(r.Nth), First: int(r.First),
		Every: int(r.Every), Count: int(r.Count), Ingress: r.Ingress}
	var actions []string
	for _, a := range []struct {
		set bool
		act shape.Action
	}{{r.Drop, shape.ActionDrop}, {r.Delay != 0, shape.ActionDelay}, {r.Duplicate, shape.ActionDuplicate}, {r.Corrupt, shape.ActionCorrupt}, {r.Reorder, shape.ActionReorder}} {
		if a.set {
			f.Action = a.act
			actions = append(actions, string(a.act))
		}
	}
	if len(actions) > 1 {
		s.errorf("fault", "keep one of them; for two faults, write two fault steps", "fault has %d actions (%s): one fault does one thing", len(actions), strings.Join(actions, ", "))
		return k
	}
	if err := f.Validate(); err != nil {
		var fes shape.Errors
		if !errors.As(err, &fes) {
			s.errorf("fault", "", "%v", err)
			return k
		}
		for _, fe := range fes {
			key := "fault"
			switch fe.Field {
			case "action":
				fe.Hint = "add one of drop: true, delay: 300ms, duplicate: true, corrupt: true, reorder: true"
			case "":
			default:
				if s.d.src.written(s.path + ".fault." + fe.Field) {
					key += "." + fe.Field
				}
			}
			msg := fe.Reason
			if fe.Value != "" {
				msg = fmt.Sprintf("%s %q: %s", fe.Field, fe.Value, fe.Reason)
			}
			s.errorf(key, fe.Hint, "%s", msg)
		}
		return k
	}
	k.Fault = f
	return k
}

// Key is "fault".
func (FaultStep) Key() string { return "fault" }

// Describe is `fault NODE:NETWORK (drop nth 1 of "tcp and syn and ack")`.
func (k FaultStep) Describe(st *Step) string {
	return fmt.Sprintf("%s %s (%s)", k.Key(), linkName(st.Node, k.Network), k.Fault)
}

// Explain says which packet and what happens to it.
func (k FaultStep) Explain(st *Step) string {
	f := k.Fault
	dir := "sends"
	if f.Ingress {
		dir = "receives"
	}
	var which string
	switch {
	case f.First > 0:
		which = fmt.Sprintf("the first %d packets", f.First)
	case f.Every > 0 && f.Count > 0:
		which = fmt.Sprintf("every %s packet (%d times)", ordinal(f.Every), f.Count)
	case f.Every > 0:
		which = fmt.Sprintf("every %s packet", ordinal(f.Every))
	default:
		which = fmt.Sprintf("the %s packet", ordinal(max(f.Nth, 1)))
	}
	what := map[shape.Action]string{
		shape.ActionDrop: "is lost", shape.ActionDelay: "is held " + f.Delay.String() + " while the others pass",
		shape.ActionDuplicate: "goes twice", shape.ActionCorrupt: "has one bit flipped",
		shape.ActionReorder: "is held until the next matching packet has gone",
	}[f.Action]
	return fmt.Sprintf("%s matching %q that %s %s on %s from now on %s", which, f.Match, st.Node, dir, orEvery(k.Network), what)
}

// ordinal is "1st", "2nd", "3rd", "4th"...
func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return fmt.Sprintf("%d%s", n, suffix)
}

// Cost is a helper's start.
func (FaultStep) Cost(*Step) time.Duration { return time.Second }

// Act puts the fault in force.
func (k FaultStep) Act(ctx context.Context, l Controls, st *Step) error {
	_, err := k.ActReport(ctx, l, st)
	return err
}

// ActReport puts the fault in force and says what is in force on the
// node's links.
func (k FaultStep) ActReport(ctx context.Context, l Controls, st *Step) (string, error) {
	lines, err := l.Fault(ctx, st.Node, k.Network, k.Fault)
	return strings.Join(lines, "\n"), err
}

func (k FaultStep) keys(sk *stepKeys) {
	f := k.Fault
	r := &FaultRule{Match: f.Match, Nth: int64(f.Nth), First: int64(f.First), Every: int64(f.Every),
		Count: int64(f.Count), Ingress: f.Ingress}
	switch f.Action {
	case shape.ActionDrop:
		r.Drop = true
	case shape.ActionDelay:
		r.Delay = Duration(f.Delay)
	case shape.ActionDuplicate:
		r.Duplicate = true
	case shape.ActionCorrupt:
		r.Corrupt = true
	case shape.ActionReorder:
		r.Reorder = true
	}
	sk.Action, sk.Network, sk.Fault = k.Key(), k.Network, r
}

// validate checks the node, which must run, and the network, which it
// must be on at this step.
func (k FaultStep) validate(v *validator, path string, _ int, st *Step) {
	v.linkOf(path, st, k.Key(), k.Network)
}
