package shape

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"socketlab/internal/packet"
)

// Action is what a fault does to a packet it picks.
type Action string

// Actions of a fault.
const (
	// ActionDrop loses the packet, silently, as on a wire.
	ActionDrop Action = "drop"
	// ActionDelay holds the packet Fault.Delay; the others pass it.
	ActionDelay Action = "delay"
	// ActionDuplicate sends the packet twice.
	ActionDuplicate Action = "duplicate"
	// ActionCorrupt flips one bit after the IP header.
	ActionCorrupt Action = "corrupt"
	// ActionReorder holds the packet until the next packet the fault
	// matches has gone (or MaxReorderHold has passed).
	ActionReorder Action = "reorder"
)

// Actions lists the actions, as labctl's flags and the scenario spell them.
var Actions = []Action{ActionDrop, ActionDelay, ActionDuplicate, ActionCorrupt, ActionReorder}

// MaxReorderHold is how long a reordered packet waits at most for the next
// matching packet, so a fault on the last packet of a burst delays it
// instead of losing it.
const MaxReorderHold = 5 * time.Second

// Fault picks packets of one link by a filter expression and by their
// number among the packets it matches, and acts on them. Which packets:
// Nth (the Nth match from when the fault is installed, once), First (the
// first First matches), or Every (every Every-th match, at most Count
// times; Count 0: no limit). With none given, the first match (Nth 1).
type Fault struct {
	// Match is a filter expression (packet.FilterSyntax).
	Match  string        `json:"match"`
	Action Action        `json:"action"`
	Delay  time.Duration `json:"delay,omitempty"` // ActionDelay only
	Nth    int           `json:"nth,omitempty"`
	First  int           `json:"first,omitempty"`
	Every  int           `json:"every,omitempty"`
	Count  int           `json:"count,omitempty"` // with Every only
	// Ingress puts the fault on what the node receives on the link,
	// instead of what it sends.
	Ingress bool `json:"ingress,omitempty"`

	filter *packet.Filter
}

// Filter is the parsed Match: set by Validate (nil before).
func (f *Fault) Filter() *packet.Filter { return f.filter }

// Which says which matching packets f picks: "nth 3", "first 2", "every
// 5", "every 5, 2 times".
func (f Fault) Which() string {
	switch {
	case f.First > 0:
		return "first " + strconv.Itoa(f.First)
	case f.Every > 0 && f.Count > 0:
		return fmt.Sprintf("every %d, %d times", f.Every, f.Count)
	case f.Every > 0:
		return "every " + strconv.Itoa(f.Every)
	}
	return "nth " + strconv.Itoa(max(f.Nth, 1))
}

// String is f for a person: `drop nth 3 of "udp and data"`, with
// " (ingress)" when it acts on what the node receives.
func (f Fault) String() string {
	a := string(f.Action)
	if f.Action == ActionDelay {
		a += " " + f.Delay.String()
	}
	s := fmt.Sprintf("%s %s of %q", a, f.Which(), f.Match)
	if f.Ingress {
		s += " (ingress)"
	}
	return s
}

// Args is f as the helper's and labctl's flags:
// ["--match", "udp and data", "--drop", "--nth", "3"]; ParseFaults reads
// them back.
func (f Fault) Args() []string {
	a := []string{"--match", f.Match, "--" + string(f.Action)}
	if f.Action == ActionDelay {
		a = append(a, f.Delay.String())
	}
	switch {
	case f.First > 0:
		a = append(a, "--first", strconv.Itoa(f.First))
	case f.Every > 0:
		a = append(a, "--every", strconv.Itoa(f.Every))
		if f.Count > 0 {
			a = append(a, "--count", strconv.Itoa(f.Count))
		}
	case f.Nth > 0:
		a = append(a, "--nth", strconv.Itoa(f.Nth))
	}
	if f.Ingress {
		a = append(a, "--ingress")
	}
	return a
}

// Validate checks f and parses its Match (see Filter). The error is
// Errors, each FieldError naming the flag at fault (match, delay, nth...).
func (f *Fault) Validate() error {
	var errs Errors
	add := func(field, value, reason, hint string) {
		errs = append(errs, &FieldError{Field: field, Value: value, Reason: reason, Hint: hint})
	}
	if strings.TrimSpace(f.Match) == "" {
		add("match", "", "no filter expression", `say which packets, e.g. "tcp and syn and ack" or "udp and data"`)
	} else if flt, err := packet.ParseFilter(f.Match); err != nil {
		var fe *packet.FilterError
		if errors.As(err, &fe) {
			add("match", f.Match, fmt.Sprintf("column %d: %s", fe.Column, fe.Msg), "the words are those of capture --filter")
		} else {
			add("match", f.Match, err.Error(), "")
		}
	} else {
		f.filter = flt
	}
	switch f.Action {
	case ActionDrop, ActionDuplicate, ActionCorrupt, ActionReorder:
		if f.Delay != 0 {
			add("delay", f.Delay.String(), "a delay goes with the delay action only", "remove it, or use the action delay")
		}
	case ActionDelay:
		if f.Delay <= 0 || f.Delay > MaxDelay {
			add("delay", f.Delay.String(), "not between 0 and "+MaxDelay.String(), "write a duration such as 300ms")
		}
	case "":
		add("action", "", "no action", "give one of "+actionList())
	default:
		add("action", string(f.Action), "unknown action", "give one of "+actionList())
	}
	picks := 0
	for _, w := range []struct {
		name string
		n    int
	}{{"nth", f.Nth}, {"first", f.First}, {"every", f.Every}, {"count", f.Count}} {
		if w.n < 0 {
			add(w.name, strconv.Itoa(w.n), "negative", "count packets from 1")
		}
		if w.n != 0 && w.name != "count" {
			picks++
		}
	}
	if picks > 1 {
		add("nth", "", "nth, first and every exclude each other", "give one of them")
	}
	if f.Count != 0 && f.Every == 0 {
		add("count", strconv.Itoa(f.Count), "count limits every", "add every N, or use first K")
	}
	if f.Ingress && f.Action == ActionDuplicate {
		add("ingress", "", "duplicate works on what the node sends only (the copy is made where a packet leaves)", "put the fault on the node that sends the packet, without ingress")
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func actionList() string {
	s := make([]string, len(Actions))
	for i, a := range Actions {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

// ParseFaults reads faults from flags as Args writes them: each --match
// starts a fault, the flags after it (an action, which packets, --ingress)
// belong to it. It stops at the first word that is not such a flag and
// returns the rest. Each fault is validated.
func ParseFaults(args []string) ([]Fault, []string, error) {
	var out []Fault
	var cur *Fault
	i := 0
	value := func(name string) (string, error) {
		if i+1 >= len(args) {
			return "", fmt.Errorf("--%s needs a value", name)
		}
		i++
		return args[i], nil
	}
	number := func(name string) (int, error) {
		v, err := value(name)
		if err != nil {
			return 0, err
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("--%s %q: want a whole number from 1", name, v)
		}
		return n, nil
	}
	for ; i < len(args); i++ {
		name, ok := strings.CutPrefix(args[i], "--")
		if !ok {
			break
		}
		if name == "match" {
			v, err := value(name)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, Fault{Match: v})
			cur = &out[len(out)-1]
			continue
		}
		if cur == nil {
			return nil, nil, fmt.Errorf("--%s comes before any --match: each fault starts with --match EXPR", name)
		}
		var err error
		switch name {
		case "drop", "duplicate", "corrupt", "reorder", "delay":
			if cur.Action != "" {
				return nil, nil, fmt.Errorf("fault %q: two actions, --%s and --%s: give one", cur.Match, cur.Action, name)
			}
			cur.Action = Action(name)
			if name == "delay" {
				var v string
				if v, err = value(name); err == nil {
					cur.Delay, err = ParseDuration(v)
				}
			}
		case "nth":
			cur.Nth, err = number(name)
		case "first":
			cur.First, err = number(name)
		case "every":
			cur.Every, err = number(name)
		case "count":
			cur.Count, err = number(name)
		case "ingress":
			cur.Ingress = true
		default:
			return nil, nil, fmt.Errorf("unknown flag --%s in fault %q", name, cur.Match)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("fault %q: %w", cur.Match, err)
		}
	}
	for j := range out {
		if err := out[j].Validate(); err != nil {
			return nil, nil, fmt.Errorf("fault %q: %w", out[j].Match, err)
		}
	}
	return out, args[i:], nil
}

// FaultState is a fault in force and what it did so far.
type FaultState struct {
	Fault
	// Summary is Fault.String().
	Summary string `json:"summary"`
	// Matched counts the packets the fault's filter matched (in its
	// direction) since it was installed; Fired those it acted on.
	Matched uint64 `json:"matched"`
	Fired   uint64 `json:"fired"`
	// Held counts the packets it holds right now (delay, reorder).
	Held int `json:"held"`
}

// Done tells whether the fault will never fire again (nth or first used up,
// every's count reached).
func (s FaultState) Done() bool {
	switch {
	case s.First > 0:
		return s.Fired >= uint64(s.First)
	case s.Every > 0:
		return s.Count > 0 && s.Fired >= uint64(s.Count)
	}
	return s.Fired >= 1
}
