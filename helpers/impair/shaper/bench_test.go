package shaper

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vnl "github.com/vishvananda/netlink"

	"socketlab/helpers/impair/shape"
)

// Accuracy and cost of the fallback on this kernel, configured against
// measured; run with `make bench-impair` (root; not part of make test).
// Each benchmark measures once, whatever b.N is: use -benchtime 1x.

func BenchmarkDelayAccuracy(b *testing.B) {
	needRoot(b)
	for _, d := range []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 200 * time.Millisecond} {
		b.Run(d.String(), func(b *testing.B) {
			p := newPair(b)
			rtts(b, p, 4, 3)
			base := median(rtts(b, p, 4, 20))
			h := start(b, p.A, 1, "apply", p.Dev, "--delay", d.String())
			n := 200
			if d >= 200*time.Millisecond {
				n = 50
			}
			m := median(rtts(b, p, 4, n)) - base
			h.stop(b)
			b.ReportMetric(float64(m)/1e6, "p50-ms")
			b.ReportMetric(float64(m-d)/1e6, "error-ms")
			b.Logf("delay %v: p50 added %v (round trip without: %v) over %d round trips", d, m, base, n)
		})
	}
}

func BenchmarkLossAccuracy(b *testing.B) {
	needRoot(b)
	for _, l := range []shape.Percent{1, 10, 30} {
		b.Run(l.String(), func(b *testing.B) {
			p := newPair(b)
			rtts(b, p, 4, 1)
			h := start(b, p.A, 1, "apply", p.Dev, "--loss", l.String())
			r := burst(b, p, 4, 10000, 100, 500*time.Microsecond)
			h.stop(b)
			lost := 100 * float64(r.sent-r.received) / float64(r.sent)
			b.ReportMetric(lost, "lost-%")
			b.ReportMetric(lost-float64(l), "error-points")
			b.Logf("loss %v: %.2f%% of %d datagrams lost, %d send errors", l, lost, r.sent, r.sendErrors)
		})
	}
}

// txBytes is what dev in ns has sent, Ethernet headers included (what TBF meters).
func txBytes(b *testing.B, ns, dev string) uint64 {
	var n uint64
	in(b, ns, func() {
		l, err := vnl.LinkByName(dev)
		if err != nil {
			b.Error(err)
			return
		}
		n = l.Attrs().Statistics.TxBytes
	})
	return n
}

func BenchmarkRateAccuracy(b *testing.B) {
	needRoot(b)
	for _, r := range []shape.Rate{1e6, 10e6, 100e6} {
		b.Run(r.String(), func(b *testing.B) {
			p := newPair(b)
			h := start(b, p.A, 1, "apply", p.Dev, "--rate", r.String())
			// Warm up for a second (slow start, the bucket's first burst), then measure 3 s.
			done := make(chan float64)
			go func() { done <- throughput(b, p, 4, 5*time.Second) }()
			time.Sleep(time.Second)
			b0, t0 := txBytes(b, p.A, p.Dev), time.Now()
			time.Sleep(3 * time.Second)
			b1, t1 := txBytes(b, p.A, p.Dev), time.Now()
			good := <-done
			h.stop(b)
			wire := float64(b1-b0) * 8 / t1.Sub(t0).Seconds()
			b.ReportMetric(wire/1e6, "wire-Mbit/s")
			b.ReportMetric(100*(wire-float64(r))/float64(r), "error-%")
			b.Logf("rate %v: %.3f Mbit/s on the wire (interface counter), TCP goodput %.3f Mbit/s", r, wire/1e6, good/1e6)
		})
	}
}

// BenchmarkDelayLinePackets floods 64-byte UDP datagrams through a 50 ms
// delay line run in this process, and reports the packets per second it
// took from the kernel and gave back.
func BenchmarkDelayLinePackets(b *testing.B) {
	needRoot(b)
	p := newPair(b)
	rtts(b, p, 4, 1)
	var sh *Shaper
	in(b, p.A, func() {
		var err error
		if sh, err = New(); err != nil {
			b.Error(err)
			return
		}
		l, err := vnl.LinkByName(p.Dev)
		if err == nil {
			_, err = sh.Apply(l, shape.Settings{Delay: 50 * time.Millisecond})
		}
		if err != nil {
			b.Error(err)
		}
	})
	if b.Failed() {
		b.FailNow()
	}
	r := flood(b, p, func() *shape.Stats { return sh.Applied()[0].Stats })
	in(b, p.A, func() { _, _ = sh.Close() })
	queued, released, arrived := r.queued, r.released, r.arrived
	b.ReportMetric(queued, "queued-pps")
	b.ReportMetric(released, "released-pps")
	b.ReportMetric(arrived, "arrived-pps")
	b.Logf("50ms delay line: %.0f packets/s queued, %.0f released, %.0f arrived at the receiver (sent %d, verdict errors %d, held at the end %d)",
		queued, released, arrived, r.sent, r.last.Errors, r.last.Held)
}

// floodResult is what flood measured: packets per second the delay line
// queued and released and the receiver got, what was sent in all, and the
// line's counters at the end.
type floodResult struct {
	queued, released, arrived float64
	sent                      uint64
	last                      *shape.Stats
}

// flood sends 64-byte UDP datagrams from p.A to p.B as fast as two
// sockets can for 3.5 s, and measures the last 3 s with the delay line's
// counters (stats).
func flood(b *testing.B, p *pair, stats func() *shape.Stats) floodResult {
	rc := open(b, p.B, func() (*net.UDPConn, error) {
		return net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.AddrB[4], 0)))
	})
	_ = rc.SetReadBuffer(32 << 20)
	var got atomic.Uint64
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, err := rc.Read(buf); err != nil {
				return
			}
			got.Add(1)
		}
	}()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent atomic.Uint64
	for range 2 {
		c := open(b, p.A, func() (*net.UDPConn, error) { return net.DialUDP("udp", nil, rc.LocalAddr().(*net.UDPAddr)) })
		_ = c.SetWriteBuffer(32 << 20)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			msg := make([]byte, 64)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := c.Write(msg); err == nil {
					sent.Add(1)
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	s0, g0, t0 := stats(), got.Load(), time.Now()
	time.Sleep(3 * time.Second)
	s1, g1, t1 := stats(), got.Load(), time.Now()
	close(stop)
	wg.Wait()
	rc.Close()
	sec := t1.Sub(t0).Seconds()
	return floodResult{
		queued:   float64(s1.Queued-s0.Queued) / sec,
		released: float64(s1.Released-s0.Released) / sec,
		arrived:  float64(g1-g0) / sec,
		sent:     sent.Load(), last: s1,
	}
}
