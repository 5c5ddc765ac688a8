package capture

import (
	"container/heap"
	"errors"
	"io"
	"sync"
	"time"
)

// DefaultWindow is how long Merger holds a packet so that the packets of
// other streams seen earlier, but delivered later, go before it. The helper
// hands packets over within 25 ms (its ring's block timeout) and flushes
// every 50 ms, so 250 ms keeps a merged capture in time order.
const DefaultWindow = 250 * time.Millisecond

// Merger merges the streams of several capture helpers, live, into time
// order: it writes them to one pcapng (WithOutput), hands each packet to a
// function (WithPacketFunc: the live view, a recorder for wire checks), or
// both. Annotations (step start and end) go into the same order.
type Merger struct {
	out    *Writer
	onPkt  func(Packet)
	window time.Duration
	now    func() time.Time
	limit  int    // 0: no limit
	onFull func() // called once when limit packets were handed over
	handed int

	mu    sync.Mutex
	q     pktHeap
	seq   uint64
	stats []Stats
	gaps  []Gap
	err   error
	wg    sync.WaitGroup
	done  chan struct{}
	tick  sync.WaitGroup
	close sync.Once
}

// MergeOption configures a Merger.
type MergeOption func(*Merger) error

// WithOutput makes the Merger write a merged pcapng to w.
func WithOutput(w io.Writer) MergeOption {
	return func(m *Merger) error {
		out, err := NewWriter(w)
		m.out = out
		return err
	}
}

// WithPacketFunc calls f with every packet and marker, in time order, from
// one goroutine at a time.
func WithPacketFunc(f func(Packet)) MergeOption {
	return func(m *Merger) error { m.onPkt = f; return nil }
}

// WithCount makes the Merger hand over at most n packets (markers not
// counted) and drop the rest; full is called once, in its own goroutine,
// when the n-th went: stop the helpers there.
func WithCount(n int, full func()) MergeOption {
	return func(m *Merger) error {
		if n < 0 {
			return errors.New("capture: a negative packet count")
		}
		m.limit, m.onFull = n, full
		return nil
	}
}

// WithWindow sets the reorder window (default DefaultWindow; 0 writes each
// packet as it arrives).
func WithWindow(d time.Duration) MergeOption {
	return func(m *Merger) error { m.window = d; return nil }
}

// NewMerger returns a Merger; Add streams to it, then Close it.
func NewMerger(opts ...MergeOption) (*Merger, error) {
	m := &Merger{window: DefaultWindow, now: time.Now, done: make(chan struct{})}
	for _, o := range opts {
		if err := o(m); err != nil {
			return nil, err
		}
	}
	m.tick.Add(1)
	go m.ticker()
	return m, nil
}

// Add reads s in the background until its end (the helper exits).
func (m *Merger) Add(s *Stream) {
	s.onStats = m.pushStats
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for {
			p, err := s.Next()
			if err != nil {
				m.mu.Lock()
				if !errors.Is(err, io.EOF) {
					m.err = errors.Join(m.err, err)
				}
				m.stats = append(m.stats, s.Stats()...)
				m.mu.Unlock()
				return
			}
			m.push(p)
		}
	}()
}

// Annotate puts a marker with text at time t among the packets.
func (m *Merger) Annotate(t time.Time, text string) {
	m.push(MarkerPacket(t, text))
}

// pushStats queues a helper's statistics block among the packets: it goes
// into the merged file in time order, and its new drops become a gap.
func (m *Merger) pushStats(st Stats, gap *Gap) {
	at := st.At
	if at.IsZero() {
		at = m.now()
	}
	m.mu.Lock()
	m.seq++
	heap.Push(&m.q, queued{p: Packet{Time: at}, st: &st, gap: gap, seq: m.seq})
	m.mu.Unlock()
}

func (m *Merger) push(p Packet) {
	m.mu.Lock()
	m.seq++
	heap.Push(&m.q, queued{p: p, seq: m.seq})
	m.mu.Unlock()
	if m.window == 0 {
		m.emit(time.Time{}, false)
	}
}

func (m *Merger) ticker() {
	defer m.tick.Done()
	t := time.NewTicker(max(m.window/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-m.done:
			return
		case <-t.C:
			m.emit(m.now().Add(-m.window), false)
		}
	}
}

// emit hands over, in order, every queued packet older than before (all of
// them when all is true), then flushes the output.
func (m *Merger) emit(before time.Time, all bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	wrote := false
	for m.q.Len() > 0 {
		if !all && m.window > 0 && m.q[0].p.Time.After(before) {
			break
		}
		item := heap.Pop(&m.q).(queued)
		if item.st != nil {
			if item.gap != nil {
				m.gaps = append(m.gaps, *item.gap)
			}
			if m.out != nil && m.err == nil {
				m.err = m.out.WriteStats(*item.st, item.p.Time)
				wrote = true
			}
			continue
		}
		p := item.p
		if m.limit > 0 && !p.Marker {
			if m.handed >= m.limit {
				continue
			}
			if m.handed++; m.handed == m.limit && m.onFull != nil {
				go m.onFull()
			}
		}
		if m.out != nil && m.err == nil {
			m.err = m.out.WritePacket(p)
			wrote = true
		}
		if m.onPkt != nil {
			m.onPkt(p)
		}
	}
	if wrote && m.err == nil {
		m.err = m.out.Flush()
	}
}

// Close waits for every stream to end (stop the helpers first), hands over
// what is queued, writes each interface's statistics and flushes. It
// returns the first read or write error.
func (m *Merger) Close() error {
	m.wg.Wait()
	m.close.Do(func() { close(m.done) })
	m.tick.Wait()
	m.emit(time.Time{}, true)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.out != nil && m.err == nil {
		end := m.now()
		for _, st := range m.stats {
			if m.err = m.out.WriteStats(st, end); m.err != nil {
				break
			}
		}
		if m.err == nil {
			m.err = m.out.Flush()
		}
	}
	return m.err
}

// Stats are the helpers' end-of-capture counters, one per interface, once Close returned.
func (m *Merger) Stats() []Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Stats(nil), m.stats...)
}

// Gaps are the stretches in which a helper's kernel dropped packets, as
// the helpers reported them so far (in time order of their reports).
func (m *Merger) Gaps() []Gap {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Gap(nil), m.gaps...)
}

// Dropped is the total of the kernel's drops over every interface, once Close returned.
func (m *Merger) Dropped() uint64 {
	var n uint64
	for _, s := range m.Stats() {
		n += s.Dropped
	}
	return n
}

// queued is a packet or marker, or (st set) an interface's statistics.
type queued struct {
	p   Packet
	st  *Stats
	gap *Gap
	seq uint64
}

type pktHeap []queued

func (h pktHeap) Len() int { return len(h) }
func (h pktHeap) Less(i, j int) bool {
	if !h[i].p.Time.Equal(h[j].p.Time) {
		return h[i].p.Time.Before(h[j].p.Time)
	}
	return h[i].seq < h[j].seq
}
func (h pktHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pktHeap) Push(x any)   { *h = append(*h, x.(queued)) }
func (h *pktHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
