package shaper

import (
	"time"

	"github.com/vishvananda/netlink"

	"socketlab/helpers/impair/shape"
)

// handleMajor is the major number of the root qdisc the helper installs,
// so that clear removes only a qdisc of its own ("51ab:" in tc's words).
const handleMajor = 0x51ab

// rootAttrs are the attributes of the helper's root qdisc on ifindex.
func rootAttrs(ifindex int) netlink.QdiscAttrs {
	return netlink.QdiscAttrs{
		LinkIndex: ifindex,
		Handle:    netlink.MakeHandle(handleMajor, 0),
		Parent:    netlink.HANDLE_ROOT,
	}
}

// netemLimit is netem's queue length in packets: enough for 200 ms of a
// gigabit link of full-size packets, far above the kernel's default 1000.
const netemLimit = 100_000

// netemAttrs is what the helper asks of netem for s: delay and jitter in
// microseconds, the probabilities in percent, the rate in bytes per second.
func netemAttrs(s shape.Settings) netlink.NetemQdiscAttrs {
	return netlink.NetemQdiscAttrs{
		Latency:     uint32(s.Delay / time.Microsecond),
		Jitter:      uint32(s.Jitter / time.Microsecond),
		Limit:       netemLimit,
		Loss:        float32(s.Loss),
		Duplicate:   float32(s.Duplicate),
		ReorderProb: float32(s.Reorder),
		CorruptProb: float32(s.Corrupt),
		Rate64:      s.Rate.BytesPerSecond(),
	}
}

// netemQdisc is the root netem qdisc for s on ifindex.
func netemQdisc(s shape.Settings, ifindex int) *netlink.Netem {
	return netlink.NewNetem(rootAttrs(ifindex), netemAttrs(s))
}

// tbfBurst is the token bucket's depth: 4 ms of the rate, at least two
// full-size frames (a smaller bucket cannot pass one 1514-byte frame whole
// and TBF would drop it).
func tbfBurst(r shape.Rate) uint32 {
	return max(uint32(r.BytesPerSecond()/250), 2*1514+64)
}

// tbfLatency is how long a packet may wait in TBF's queue before it is
// dropped (tc's "latency"): the queue's byte limit is this much of the
// rate on top of the bucket.
const tbfLatency = 50 * time.Millisecond

// tbfQdisc is the root TBF qdisc limiting ifindex to rate r.
func tbfQdisc(r shape.Rate, ifindex int) *netlink.Tbf {
	rate := r.BytesPerSecond()
	burst := tbfBurst(r)
	return &netlink.Tbf{
		QdiscAttrs: rootAttrs(ifindex),
		Rate:       rate,
		Buffer:     netlink.Xmittime(rate, burst),
		Limit:      burst + uint32(float64(rate)*tbfLatency.Seconds()),
	}
}

// isOurs tells whether q is a root qdisc the helper installed.
func isOurs(q netlink.Qdisc) bool {
	a := q.Attrs()
	major, _ := netlink.MajorMinor(a.Handle)
	return a.Parent == netlink.HANDLE_ROOT && major == handleMajor && (q.Type() == "netem" || q.Type() == "tbf")
}
