package shaper

import (
	"fmt"
	"testing"

	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"socketlab/helpers/impair/shape"
)

// nullVerdicter gives every packet back at no cost, so that a benchmark
// measures the delay line's own work per packet.
type nullVerdicter struct{}

func (nullVerdicter) accept(uint32) error                 { return nil }
func (nullVerdicter) acceptUpTo(uint32) error             { return nil }
func (nullVerdicter) acceptModified(uint32, []byte) error { return nil }
func (nullVerdicter) acceptMarked(uint32, uint32) error   { return nil }
func (nullVerdicter) drop(uint32) error                   { return nil }

// benchFaults are n faults that see every datagram of the benchmark and
// pick none of it after the first: each matches the datagram (its filter
// is evaluated whole), counts it and lets it pass, the costliest way for a
// fault to do nothing.
func benchFaults(b *testing.B, n int) []shape.Fault {
	b.Helper()
	var args []string
	for i := range n {
		args = append(args, "--match", fmt.Sprintf("udp and data and not port %d", 1000+i), "--drop", "--nth", "1000000000")
	}
	fs, _, err := shape.ParseFaults(args)
	if err != nil {
		b.Fatal(err)
	}
	return fs
}

// BenchmarkFaultRules is the user-space decision per packet of a delay
// line with 0, 1 and 16 fault rules (no kernel round trip: see
// BenchmarkFaultLinePackets for that). ns/op is wall time per packet;
// cpu-ns/pkt the process's CPU time per packet (what a busy machine does
// not inflate), cpu-pkt/s its inverse, and cpu-ns/rule what each rule adds
// over none.
func BenchmarkFaultRules(b *testing.B) {
	pkt := udpPacket(b, "10.1.0.2:40000", "10.1.0.3:7", "0123456789abcdef0123456789abcdef")
	var none float64
	for _, n := range []int{0, 1, 16} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			l := newDelayLine(shape.Settings{}, nullVerdicter{})
			if n > 0 {
				l.AddFaults(benchFaults(b, n))
			}
			// At least 200000 packets, so that -benchtime 1x (make
			// bench-impair) measures something.
			count := max(b.N, 200000)
			b.ReportAllocs()
			c0 := cpuTime(b)
			b.ResetTimer()
			for i := range count {
				l.AddMeta(uint32(i), pkt, meta{})
			}
			b.StopTimer()
			per := float64(cpuTime(b)-c0) / float64(count)
			b.ReportMetric(per, "cpu-ns/pkt")
			b.ReportMetric(1e9/per, "cpu-pkt/s")
			if n == 0 {
				none = per
			} else if none > 0 {
				b.ReportMetric((per-none)/float64(n), "cpu-ns/rule")
			}
		})
	}
}

// cpuTime is the CPU time this process has used (user and system), in ns.
func cpuTime(b *testing.B) int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkFaultLinePackets floods 64-byte UDP datagrams through the fault
// delay line (in this process, on a veth pair, the kernel's NFQUEUE round
// trip included) with 0, 1 and 16 fault rules that see every datagram and
// pick none, and reports the packets per second it took from the kernel
// and gave back. Root only; it measures once, whatever b.N: -benchtime 1x.
func BenchmarkFaultLinePackets(b *testing.B) {
	needRoot(b)
	for _, n := range []int{0, 1, 16} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			p := newPairPrefix(b, "flt-")
			rtts(b, p, 4, 1)
			fs := serveBench(b, p, n)
			r := flood(b, p, func() *shape.Stats { return fs.line.stats() })
			in(b, p.A, func() { _ = fs.Close() })
			queued, released, arrived := r.queued, r.released, r.arrived
			b.ReportMetric(queued, "queued-pkt/s")
			b.ReportMetric(released, "released-pkt/s")
			b.ReportMetric(arrived, "arrived-pkt/s")
			b.Logf("%d fault rules: %.0f packets/s queued, %.0f released, %.0f arrived", n, queued, released, arrived)
		})
	}
}

// BenchmarkFaultLineLatency is the round trip of a datagram across a veth
// pair without the fault delay line, then through it (what A sends) with
// 0, 1 and 16 fault rules that pick nothing: p50-added-us is what the line
// adds to the median round trip. Root only; -benchtime 1x.
func BenchmarkFaultLineLatency(b *testing.B) {
	needRoot(b)
	p := newPairPrefix(b, "flt-")
	rtts(b, p, 4, 20)
	base := median(rtts(b, p, 4, 500))
	b.Logf("without the line: p50 round trip %v", base)
	for _, n := range []int{0, 1, 16} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			fs := serveBench(b, p, n)
			rtts(b, p, 4, 20)
			m := median(rtts(b, p, 4, 500))
			in(b, p.A, func() { _ = fs.Close() })
			b.ReportMetric(float64(m-base)/1e3, "p50-added-us")
			b.Logf("%d fault rules: p50 round trip %v (%v more than without the line)", n, m, m-base)
		})
	}
}

// serveBench starts the fault line on p.A's interface with n benchFaults.
func serveBench(b *testing.B, p *pair, n int) *FaultServer {
	b.Helper()
	var fs *FaultServer
	in(b, p.A, func() {
		l, err := vnl.LinkByName(p.Dev)
		if err == nil {
			fs, err = ServeFaults(l, benchFaults(b, n))
		}
		if err != nil {
			b.Error(err)
		}
	})
	if b.Failed() {
		b.FailNow()
	}
	return fs
}
