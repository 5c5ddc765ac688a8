package shaper

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"socketlab/helpers/impair/shape"
)

func TestNetemAttrs(t *testing.T) {
	s := shape.Settings{Delay: 50 * time.Millisecond, Jitter: 10 * time.Millisecond, Loss: 20,
		Duplicate: 1, Reorder: 25, Corrupt: 0.5, Rate: 8_000_000}
	got := netemAttrs(s)
	want := struct {
		lat, jit, limit uint32
		loss, dup, re   float32
		cor             float32
		rate            uint64
	}{50000, 10000, netemLimit, 20, 1, 25, 0.5, 1_000_000}
	if got.Latency != want.lat || got.Jitter != want.jit || got.Limit != want.limit || got.Loss != want.loss ||
		got.Duplicate != want.dup || got.ReorderProb != want.re || got.CorruptProb != want.cor || got.Rate64 != want.rate {
		t.Errorf("netemAttrs = %+v, want %+v", got, want)
	}
	q := netemQdisc(s, 7)
	if q.Attrs().LinkIndex != 7 || q.Attrs().Parent != 0xffffffff || q.Attrs().Handle != 0x51ab0000 {
		t.Errorf("netem qdisc attrs %+v: want root of ifindex 7 with handle 51ab:", q.Attrs())
	}
	// netlink's NewNetem scales percentages to the kernel's u32 fractions.
	if want := 0.2 * float64(^uint32(0)); math.Abs(float64(q.Loss)-want) > want*1e-6 {
		t.Errorf("netem loss %d, want 20%% of 2^32", q.Loss)
	}
	if q.Gap == 0 {
		t.Error("netem with reorder needs a gap (tc sets 1)")
	}
}

func TestTbf(t *testing.T) {
	for _, c := range []struct {
		rate  shape.Rate
		burst uint32
	}{{1_000_000, 3092}, {100_000_000, 50000}} {
		q := tbfQdisc(c.rate, 3)
		if q.Rate != uint64(c.rate)/8 || tbfBurst(c.rate) != c.burst {
			t.Errorf("rate %s: tbf %+v burst %d, want %d bytes/s, burst %d", c.rate, q, tbfBurst(c.rate), uint64(c.rate)/8, c.burst)
		}
		if want := c.burst + uint32(float64(c.rate)/8*0.05); q.Limit != want {
			t.Errorf("rate %s: limit %d, want %d (burst + 50ms)", c.rate, q.Limit, want)
		}
	}
}

func TestQueueInfoIsWhatIptablesSends(t *testing.T) {
	// iptables -j NFQUEUE --queue-num 3 --queue-bypass: xt_NFQ_info_v3 in host order.
	want := make([]byte, 8)
	binary.NativeEndian.PutUint16(want[0:], 3)
	binary.NativeEndian.PutUint16(want[2:], 1)
	binary.NativeEndian.PutUint16(want[4:], 1)
	if got := queueInfo(3); !bytes.Equal(got, want) {
		t.Errorf("queueInfo(3) = % x, want % x", got, want)
	}
	r := queueRule(5, 3)
	tg, ok := r[len(r)-1].(*expr.Target)
	if !ok || tg.Name != "NFQUEUE" || tg.Rev != 3 {
		t.Errorf("queue rule ends with %#v, want the NFQUEUE target rev 3", r[len(r)-1])
	}
}

func TestMessagesOwnTheirTables(t *testing.T) {
	s := shape.Settings{Loss: 30, Duplicate: 5, Delay: time.Millisecond}
	msgs, err := plan{table: "socketlab_impair_eth0", dev: "eth0", ifindex: 2, egress: egressRules(s, 2), queue: queueRule(2, 2)}.messages()
	if err != nil {
		t.Fatal(err)
	}
	var tables, rules int
	for _, m := range msgs {
		switch m.Header.Type {
		case newTable:
			tables++
			ad, _ := netlink.NewAttributeDecoder(m.Data[4:])
			var flags uint32
			for ad.Next() {
				if ad.Type() == unix.NFTA_TABLE_FLAGS {
					flags = binary.BigEndian.Uint32(ad.Bytes())
				}
			}
			if flags != tableFlagOwner {
				t.Errorf("table (family %d) flags %#x, want OWNER", m.Data[0], flags)
			}
		case netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWRULE):
			rules++
		}
	}
	if tables != 2 || rules != 4 {
		t.Errorf("%d tables and %d rules, want 2 (netdev, inet) and 4 (copies pass, loss, duplicate, queue)", tables, rules)
	}
	// 30% is 300000 of a million, compared in network order.
	loss := egressRules(shape.Settings{Loss: 30}, 2)[0]
	if c := loss[2].(*expr.Cmp); c.Op != expr.CmpOpLt || binary.BigEndian.Uint32(c.Data) != 300000 {
		t.Errorf("loss comparison %+v, want < 300000", c)
	}
}

// recorder is a verdicter that notes when each packet was released.
type recorder struct {
	mu      sync.Mutex
	at      map[uint32]time.Time
	order   []uint32
	mod     map[uint32][]byte
	batch   int
	last    uint32          // highest id released by acceptUpTo
	dropped map[uint32]bool // lost in the line
	marks   map[uint32]uint32
}

func newRecorder() *recorder {
	return &recorder{at: map[uint32]time.Time{}, mod: map[uint32][]byte{}, dropped: map[uint32]bool{}, marks: map[uint32]uint32{}}
}
func (r *recorder) note(id uint32) { r.at[id] = time.Now(); r.order = append(r.order, id) }
func (r *recorder) accept(id uint32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.note(id)
	return nil
}
func (r *recorder) acceptUpTo(id uint32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batch++
	for i := r.last + 1; i <= id; i++ {
		if !r.dropped[i] { // no longer in the kernel's queue
			r.note(i)
		}
	}
	r.last = id
	return nil
}
func (r *recorder) acceptMarked(id uint32, mark uint32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.note(id)
	r.marks[id] = mark
	return nil
}
func (r *recorder) drop(id uint32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropped[id] = true
	return nil
}
func (r *recorder) acceptModified(id uint32, pkt []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.note(id)
	r.mod[id] = pkt
	return nil
}

func runLine(t *testing.T, s shape.Settings, n int, pkt []byte) (*recorder, map[uint32]time.Time) {
	t.Helper()
	rec := newRecorder()
	l := newDelayLine(s, rec)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.run(ctx) }()
	added := map[uint32]time.Time{}
	for i := 1; i <= n; i++ {
		added[uint32(i)] = time.Now()
		l.Add(uint32(i), pkt)
		time.Sleep(200 * time.Microsecond)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		rec.mu.Lock()
		k := len(rec.at)
		rec.mu.Unlock()
		if k == n {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	return rec, added
}

func TestDelayLineHoldsEachPacket(t *testing.T) {
	rec, added := runLine(t, shape.Settings{Delay: 20 * time.Millisecond}, 50, nil)
	if len(rec.at) != 50 {
		t.Fatalf("%d of 50 packets released", len(rec.at))
	}
	for id, at := range rec.at {
		if d := at.Sub(added[id]); d < 20*time.Millisecond || d > 200*time.Millisecond {
			t.Errorf("packet %d held %v, want 20ms (and not far more)", id, d)
		}
	}
	if !slices.IsSorted(rec.order) {
		t.Error("constant delay released packets out of order")
	}
}

// TestDelayLineBatchesDuePackets: packets due together in arrival order
// leave with one verdict (the kernel's batch verdict), not one each.
func TestDelayLineBatchesDuePackets(t *testing.T) {
	rec := newRecorder()
	l := newDelayLine(shape.Settings{Delay: 20 * time.Millisecond}, rec)
	var mu sync.Mutex
	clock := time.Unix(1000, 0)
	l.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.run(ctx) }()
	for i := uint32(1); i <= 50; i++ {
		l.Add(i, nil)
	}
	mu.Lock()
	clock = clock.Add(20 * time.Millisecond)
	mu.Unlock()
	l.wake <- struct{}{}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		rec.mu.Lock()
		n := len(rec.at)
		rec.mu.Unlock()
		if n == 50 {
			break
		}
	}
	cancel()
	<-done
	if len(rec.at) != 50 || rec.batch != 1 || !slices.IsSorted(rec.order) {
		t.Errorf("%d packets released in %d batch verdicts (order %v), want 50 in 1, in order", len(rec.at), rec.batch, rec.order)
	}
}

func TestDelayLineJitterReorders(t *testing.T) {
	rec, added := runLine(t, shape.Settings{Delay: 20 * time.Millisecond, Jitter: 10 * time.Millisecond}, 100, nil)
	for id, at := range rec.at {
		if d := at.Sub(added[id]); d < 10*time.Millisecond {
			t.Errorf("packet %d held %v, want at least delay-jitter 10ms", id, d)
		}
	}
	if slices.IsSorted(rec.order) {
		t.Error("jitter of 10ms on packets 0.2ms apart left them in order")
	}
}

func TestDelayLineReorderSkipsTheDelay(t *testing.T) {
	rec, added := runLine(t, shape.Settings{Delay: 30 * time.Millisecond, Reorder: 50}, 200, nil)
	var fast int
	for id, at := range rec.at {
		if at.Sub(added[id]) < 10*time.Millisecond {
			fast++
		}
	}
	if fast < 60 || fast > 140 {
		t.Errorf("%d of 200 packets skipped the delay at reorder 50%%, want about 100", fast)
	}
}

func TestCorruptFlipsOneBitAfterTheIPHeader(t *testing.T) {
	pkt := make([]byte, 60)
	pkt[0] = 0x45 // IPv4, 20-byte header
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		c := corrupt(pkt, rnd)
		var flipped int
		for i := range c {
			if x := c[i] ^ pkt[i]; x != 0 {
				if i < 20 {
					t.Fatalf("flipped a bit in the IP header at byte %d", i)
				}
				for ; x != 0; x &= x - 1 {
					flipped++
				}
			}
		}
		if flipped != 1 {
			t.Fatalf("%d bits flipped, want 1", flipped)
		}
	}
	if corrupt(pkt[:20], rnd) != nil {
		t.Error("a packet with nothing after its header was corrupted")
	}
	rec, _ := runLine(t, shape.Settings{Corrupt: 100}, 10, pkt)
	if len(rec.mod) != 10 {
		t.Errorf("%d of 10 packets released altered at corrupt 100%%", len(rec.mod))
	}
}

func TestCommand(t *testing.T) {
	got := Command(map[string]shape.Settings{
		"eth1": {Rate: 1_000_000},
		"eth0": {Delay: 50 * time.Millisecond, Loss: 20},
	})
	want := []string{"apply", "eth0", "--delay", "50ms", "--loss", "20%", "eth1", "--rate", "1mbit"}
	if !slices.Equal(got, want) {
		t.Errorf("Command = %q, want %q", got, want)
	}
	_, ts, err := parseApply(got[1:])
	if err != nil || len(ts) != 2 || ts[0].s != (shape.Settings{Delay: 50 * time.Millisecond, Loss: 20}) || ts[1].s.Rate != 1_000_000 {
		t.Errorf("parseApply(Command) = %+v, %v", ts, err)
	}
}

// TestDelayLineLoses: loss drops its share of packets in the line (a drop
// verdict), the others are released, none both, even when releases go in
// batches that span dropped ids.
func TestDelayLineLoses(t *testing.T) {
	for _, s := range []shape.Settings{{Loss: 30}, {Loss: 30, Delay: time.Millisecond}} {
		t.Run(s.String(), func(t *testing.T) {
			const n = 10000
			rec := newRecorder()
			l := newDelayLine(s, rec)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); l.run(ctx) }()
			for i := 1; i <= n; i++ {
				l.Add(uint32(i), nil)
			}
			time.Sleep(50 * time.Millisecond)
			cancel()
			<-done
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if got := len(rec.dropped); got < 2700 || got > 3300 {
				t.Errorf("%d of %d dropped, want about 3000", got, n)
			}
			for id := range rec.dropped {
				if _, ok := rec.at[id]; ok {
					t.Fatalf("packet %d was dropped and released", id)
				}
			}
			if len(rec.at)+len(rec.dropped) != n {
				t.Errorf("released %d + dropped %d, want %d", len(rec.at), len(rec.dropped), n)
			}
			if st := l.stats(); st.Dropped != uint64(len(rec.dropped)) || st.Released != uint64(len(rec.at)) {
				t.Errorf("stats %+v, want %d dropped and %d released", st, len(rec.dropped), len(rec.at))
			}
		})
	}
}
