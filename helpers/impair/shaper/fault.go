package shaper

import (
	"cmp"
	"container/heap"
	"slices"
	"sync/atomic"

	"socketlab/helpers/impair/shape"
	"socketlab/internal/packet"
)

// faultRule is one fault in a delay line and what it did.
type faultRule struct {
	f              shape.Fault
	match          *packet.Filter
	matched, fired atomic.Uint64
	held           atomic.Int64 // packets it holds now (delay, reorder)
}

func newFaultRule(f shape.Fault) *faultRule {
	return &faultRule{f: f, match: f.Filter()}
}

// picks counts a packet the rule's filter matched and tells whether the
// rule acts on it: the Nth match, the first K, or every Nth (at most
// Count times). Add calls it from one goroutine.
func (r *faultRule) picks() bool {
	n := r.matched.Add(1)
	var yes bool
	switch f := r.f; {
	case f.First > 0:
		yes = n <= uint64(f.First)
	case f.Every > 0:
		yes = n%uint64(f.Every) == 0 && (f.Count == 0 || r.fired.Load() < uint64(f.Count))
	default:
		yes = n == uint64(max(f.Nth, 1))
	}
	if yes {
		r.fired.Add(1)
	}
	return yes
}

func (r *faultRule) state() shape.FaultState {
	return shape.FaultState{Fault: r.f, Summary: r.f.String(),
		Matched: r.matched.Load(), Fired: r.fired.Load(), Held: int(r.held.Load())}
}

// faultDupMark is the mark bit a packet picked for duplication leaves the
// delay line with: the fault's netdev egress rule sees it, clears it and
// sends a copy (see faultDupRule).
const faultDupMark = 1 << 29

// AddFaults appends faults (validated) to the rules of the line; a packet
// meets them after the ones already there.
func (l *delayLine) AddFaults(fs []shape.Fault) {
	l.faultMu.Lock()
	defer l.faultMu.Unlock()
	var rules []*faultRule
	if old := l.faults.Load(); old != nil {
		rules = slices.Clone(*old)
	}
	for _, f := range fs {
		rules = append(rules, newFaultRule(f))
	}
	l.faults.Store(&rules)
}

// Faults is each fault rule of the line and what it did so far.
func (l *delayLine) Faults() []shape.FaultState {
	rs := l.faults.Load()
	if rs == nil {
		return nil
	}
	out := make([]shape.FaultState, len(*rs))
	for i, r := range *rs {
		out[i] = r.state()
	}
	return out
}

// fault runs packet id through rules, in order: the first rule whose filter
// matches and that picks the packet acts on it, and the rules after it do
// not see it. It tells whether a rule took the packet (false: it goes on to
// the line's impairment). A packet that a reorder rule's filter matches
// releases, after itself, what that rule holds: "held until the next
// matching packet has gone".
func (l *delayLine) fault(id uint32, pkt []byte, m meta, rules []*faultRule) bool {
	if len(rules) == 0 {
		return false
	}
	d := packet.DecodeIP(pkt)
	var picked *faultRule
	var after []*faultRule
	for _, r := range rules {
		if r.f.Ingress != m.ingress || !r.match.Match(&d) {
			continue
		}
		if r.f.Action == shape.ActionReorder && r.held.Load() > 0 {
			after = append(after, r)
		}
		if r.picks() {
			picked = r
			break
		}
	}
	if picked == nil {
		if len(after) == 0 {
			return false
		}
		l.impair(id, pkt)
		l.releaseHeld(after)
		return true
	}
	var err error
	switch picked.f.Action {
	case shape.ActionDrop:
		if err = l.v.drop(id); err == nil {
			l.dropped.Add(1)
		} else {
			l.errors.Add(1)
		}
	case shape.ActionDelay:
		l.hold(held{id: id, at: l.now().Add(picked.f.Delay), rule: picked})
	case shape.ActionReorder:
		l.hold(held{id: id, at: l.now().Add(shape.MaxReorderHold), rule: picked})
		after = slices.DeleteFunc(after, func(r *faultRule) bool { return r == picked })
	case shape.ActionDuplicate:
		l.count(1, l.v.acceptMarked(id, m.mark|faultDupMark))
	case shape.ActionCorrupt:
		if c := corrupt(pkt, l.rnd); c != nil {
			if err = l.v.acceptModified(id, c); err == nil {
				l.corrupted.Add(1)
			}
			l.count(1, err)
		} else {
			l.count(1, l.v.accept(id))
		}
	}
	l.releaseHeld(after)
	return true
}

// releaseHeld gives back, in arrival order, every packet the reorder
// rules rs hold.
func (l *delayLine) releaseHeld(rs []*faultRule) {
	if len(rs) == 0 {
		return
	}
	var out []held
	l.mu.Lock()
	for i := 0; i < len(l.h); {
		if slices.Contains(rs, l.h[i].rule) {
			out = append(out, heap.Remove(&l.h, i).(held))
			i = 0 // Remove reorders the heap: look again from the top
			continue
		}
		i++
	}
	l.mu.Unlock()
	slices.SortFunc(out, func(a, b held) int { return cmp.Compare(a.seq, b.seq) })
	l.release(out)
}
