package shaper

import (
	"container/heap"
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"socketlab/helpers/impair/shape"
)

// verdicter gives packets back to the kernel: the NFQUEUE socket, or a
// recorder in tests.
type verdicter interface {
	// accept releases packet id unchanged.
	accept(id uint32) error
	// acceptUpTo releases every packet still queued with an id up to id
	// (one message for many packets).
	acceptUpTo(id uint32) error
	// acceptModified releases packet id with its bytes replaced by pkt.
	acceptModified(id uint32, pkt []byte) error
	// acceptMarked releases packet id with its mark set to mark.
	acceptMarked(id uint32, mark uint32) error
	// drop discards packet id: the sender has handed it over already, so
	// it is lost as on a wire.
	drop(id uint32) error
}

// held is one packet in the delay line.
type held struct {
	id  uint32
	at  time.Time // when it leaves
	seq uint64    // arrival order, so equal times leave in order
	pkt []byte    // the altered packet, nil when it leaves unchanged
	// rule is the fault that holds the packet (delay, reorder), nil for
	// the impairment's delay.
	rule *faultRule
}

type byRelease []held

func (h byRelease) Len() int { return len(h) }
func (h byRelease) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h byRelease) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *byRelease) Push(x any)   { *h = append(*h, x.(held)) }
func (h *byRelease) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// delayLine holds packets until their release time and then gives them
// back to the kernel. Add is called from the queue's receive callback and
// never waits; a single goroutine (run) releases packets when a timer says
// they are due, so a slow release never holds up the receiving.
type delayLine struct {
	s    shape.Settings
	v    verdicter
	now  func() time.Time
	rnd  *rand.Rand // used by Add only (one goroutine)
	fifo bool       // release order is arrival order: verdicts go in batches
	pass bool       // s holds and loses nothing: what no fault picks is accepted at once

	// faults are the fault rules, in order (nil: none); they are set
	// while the line runs, and read by Add.
	faults  atomic.Pointer[[]*faultRule]
	faultMu sync.Mutex // serialises AddFaults

	mu   sync.Mutex
	h    byRelease
	seq  uint64
	wake chan struct{}

	queued, released, corrupted, dropped, errors atomic.Uint64
}

func newDelayLine(s shape.Settings, v verdicter) *delayLine {
	return &delayLine{
		s: s, v: v, now: time.Now,
		rnd:  rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		fifo: s.Jitter == 0 && s.Reorder == 0 && s.Corrupt == 0,
		pass: !needsLine(s),
		wake: make(chan struct{}, 1),
	}
}

// chance is true with probability p.
func (l *delayLine) chance(p shape.Percent) bool {
	return p > 0 && l.rnd.Float64() < p.Fraction()
}

// holdFor is how long the next packet is held: the delay ± a uniform
// jitter, or nothing for a packet picked for reordering.
func (l *delayLine) holdFor() time.Duration {
	if l.chance(l.s.Reorder) {
		return 0
	}
	d := l.s.Delay
	if j := l.s.Jitter; j > 0 {
		d += time.Duration(l.rnd.Int64N(int64(2*j)+1)) - j
	}
	return max(d, 0)
}

// Add takes packet id (its bytes pkt, needed only to corrupt it) into the
// line, or drops it at once when it is picked for loss. A drop here is
// silent to the sender (its send returned when the kernel queued the
// packet), where one at the egress hook or in a qdisc is reported back to
// TCP as local congestion and resent from its queue, never lost on the wire.
// Verdicts go in id order, so a later batch release never covers it.
// Fault rules, when there are any, see the packet first (see fault).
func (l *delayLine) Add(id uint32, pkt []byte) { l.AddMeta(id, pkt, meta{}) }

// meta is what the kernel says of a queued packet besides its bytes.
type meta struct {
	ingress bool   // queued on its way in (prerouting), not out
	mark    uint32 // its mark
}

// AddMeta is Add for a packet whose direction and mark are known.
func (l *delayLine) AddMeta(id uint32, pkt []byte, m meta) {
	l.queued.Add(1)
	if rs := l.faults.Load(); rs != nil && l.fault(id, pkt, m, *rs) {
		return
	}
	l.impair(id, pkt)
}

// impair is what the line's settings do to packet id.
func (l *delayLine) impair(id uint32, pkt []byte) {
	if l.pass {
		l.count(1, l.v.accept(id))
		return
	}
	if l.chance(l.s.Loss) {
		if err := l.v.drop(id); err != nil {
			l.errors.Add(1)
		} else {
			l.dropped.Add(1)
		}
		return
	}
	p := held{id: id, at: l.now().Add(l.holdFor())}
	if l.chance(l.s.Corrupt) {
		if c := corrupt(pkt, l.rnd); c != nil {
			p.pkt = c
		}
	}
	l.hold(p)
}

// hold puts p in the line until p.at.
func (l *delayLine) hold(p held) {
	l.mu.Lock()
	l.seq++
	p.seq = l.seq
	heap.Push(&l.h, p)
	first := l.h[0].seq == p.seq
	l.mu.Unlock()
	if p.rule != nil {
		p.rule.held.Add(1)
	}
	if first {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// run releases packets as they fall due until ctx ends; then it releases
// everything still held at once (the link is being healed).
func (l *delayLine) run(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var due []held
	for {
		l.mu.Lock()
		now := l.now()
		due = due[:0]
		for len(l.h) > 0 && !l.h[0].at.After(now) {
			due = append(due, heap.Pop(&l.h).(held))
		}
		wait := time.Hour
		if len(l.h) > 0 {
			wait = l.h[0].at.Sub(now)
		}
		l.mu.Unlock()
		l.release(due)
		t.Reset(wait)
		select {
		case <-ctx.Done():
			l.drain()
			return
		case <-t.C:
		case <-l.wake:
		}
	}
}

// drain releases every held packet now.
func (l *delayLine) drain() {
	l.mu.Lock()
	var all []held
	for len(l.h) > 0 {
		all = append(all, heap.Pop(&l.h).(held))
	}
	l.mu.Unlock()
	l.release(all)
}

// release gives due packets back, in one batch verdict when every packet
// still held arrived after them (fifo), else one by one.
func (l *delayLine) release(due []held) {
	if len(due) == 0 {
		return
	}
	if l.fifo && l.faults.Load() == nil {
		l.count(len(due), l.v.acceptUpTo(due[len(due)-1].id))
		return
	}
	for _, p := range due {
		if p.rule != nil {
			p.rule.held.Add(-1)
		}
		var err error
		if p.pkt != nil {
			err = l.v.acceptModified(p.id, p.pkt)
			if err == nil {
				l.corrupted.Add(1)
			}
		} else {
			err = l.v.accept(p.id)
		}
		l.count(1, err)
	}
}

func (l *delayLine) count(n int, err error) {
	if err != nil {
		l.errors.Add(uint64(n))
		return
	}
	l.released.Add(uint64(n))
}

// stats is what the line did so far.
func (l *delayLine) stats() *shape.Stats {
	l.mu.Lock()
	n := len(l.h)
	l.mu.Unlock()
	return &shape.Stats{
		Queued: l.queued.Load(), Released: l.released.Load(), Corrupted: l.corrupted.Load(),
		Dropped: l.dropped.Load(), Held: n, Errors: l.errors.Load(),
	}
}

// corrupt returns a copy of the IP packet pkt with one random bit flipped
// after the IP header (so the packet still leaves by the same route and the
// receiver's transport checksum catches it, as on a real link), or nil when
// there is nothing after the header.
func corrupt(pkt []byte, rnd *rand.Rand) []byte {
	if len(pkt) == 0 {
		return nil
	}
	hdr := 40 // IPv6
	if pkt[0]>>4 == 4 {
		hdr = int(pkt[0]&0x0f) * 4
	}
	if len(pkt) <= hdr {
		return nil
	}
	c := append([]byte(nil), pkt...)
	i := hdr + rnd.IntN(len(c)-hdr)
	c[i] ^= 1 << rnd.IntN(8)
	return c
}
