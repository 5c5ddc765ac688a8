package shaper

import (
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"socketlab/helpers/impair/shape"
)

// families are the address families every measurement runs over.
var families = []struct {
	name string
	fam  int
}{{"IPv4", 4}, {"IPv6", 6}}

func TestLossIsSilentAndHealed(t *testing.T) {
	needRoot(t)
	p := newPair(t)
	// Resolve neighbours (ARP, ND) first: their requests are lost too, and a
	// burst held behind a lost ARP request would measure that instead.
	rtts(t, p, 4, 1)
	rtts(t, p, 6, 1)
	h := start(t, p.A, 1, "apply", p.Dev, "--loss", "30%")
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			r := burst(t, p, f.fam, 1000, 100, time.Millisecond)
			t.Logf("30%% loss: %d of %d datagrams arrived, %d send errors", r.received, r.sent, r.sendErrors)
			if r.sendErrors != 0 {
				t.Errorf("%d sends failed: a lost datagram must not be reported to the sender", r.sendErrors)
			}
			if r.received < 600 || r.received > 800 {
				t.Errorf("%d of 1000 datagrams arrived at 30%% loss, want 600–800", r.received)
			}
		})
	}
	evs := h.stop(t)
	if len(evs) == 0 || evs[len(evs)-1].Event != shape.EventCleared {
		t.Errorf("after SIGTERM the helper printed %+v, want a cleared event last", evs)
	}
	for _, f := range families {
		if r := burst(t, p, f.fam, 1000, 100, time.Millisecond); r.received != 1000 {
			t.Errorf("%s after clear: %d of 1000 datagrams arrived, want all", f.name, r.received)
		}
	}
}

func TestDelay(t *testing.T) {
	needRoot(t)
	p := newPair(t)
	before := median(rtts(t, p, 4, 10))
	h := start(t, p.A, 1, "apply", p.Dev, "--delay", "100ms")
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			d := rtts(t, p, f.fam, 20)
			if len(d) < 18 {
				t.Fatalf("only %d of 20 round trips came back with delay alone", len(d))
			}
			m := median(d)
			t.Logf("delay 100ms: median round trip %v (before: %v)", m, before)
			if m < 90*time.Millisecond {
				t.Errorf("median round trip %v with 100ms delay, want ≥ 90ms", m)
			}
		})
	}
	h.stop(t)
	if m := median(rtts(t, p, 4, 10)); m > 50*time.Millisecond {
		t.Errorf("median round trip %v after clear, want the delay gone (< 50ms)", m)
	}
}

func TestRate(t *testing.T) {
	needRoot(t)
	p := newPair(t)
	h := start(t, p.A, 1, "apply", p.Dev, "--rate", "8mbit")
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			bps := throughput(t, p, f.fam, 2*time.Second)
			t.Logf("rate 8mbit: TCP goodput %.2f Mbit/s", bps/1e6)
			if bps < 4e6 || bps > 12e6 {
				t.Errorf("TCP goodput %.2f Mbit/s at rate 8mbit, want 4–12", bps/1e6)
			}
		})
	}
	h.stop(t)
	if bps := throughput(t, p, 4, time.Second); bps < 40e6 {
		t.Errorf("TCP goodput %.2f Mbit/s after clear, want the limit gone (> 40)", bps/1e6)
	}
}

// TestSIGKILLLeavesTrafficFlowing kills the helper holding delay and loss:
// the kernel deletes its owned tables with its socket, and the queue's
// bypass passes anything queued meanwhile, so the link is whole again.
func TestSIGKILLLeavesTrafficFlowing(t *testing.T) {
	needRoot(t)
	p := newPair(t)
	rtts(t, p, 4, 1)
	h := start(t, p.A, 1, "apply", p.Dev, "--delay", "50ms", "--jitter", "5ms", "--loss", "20%")
	if r := burst(t, p, 4, 200, 100, time.Millisecond); r.received > 190 {
		t.Fatalf("%d of 200 arrived with 20%% loss: the impairment is not in force", r.received)
	}
	h.kill()
	time.Sleep(200 * time.Millisecond) // the kernel releases the tables in a work queue
	for _, f := range families {
		if r := burst(t, p, f.fam, 1000, 100, time.Millisecond); r.received != 1000 {
			t.Errorf("%s after SIGKILL: %d of 1000 datagrams arrived, want all", f.name, r.received)
		}
		if m := median(rtts(t, p, f.fam, 10)); m > 20*time.Millisecond {
			t.Errorf("%s after SIGKILL: median round trip %v, want the delay gone", f.name, m)
		}
	}
}

// TestClearAfterSIGKILL: the TBF qdisc of a rate outlives a killed helper
// (qdiscs have no owner); clear removes it.
func TestClearAfterSIGKILL(t *testing.T) {
	needRoot(t)
	p := newPair(t)
	h := start(t, p.A, 1, "apply", p.Dev, "--rate", "2mbit", "--loss", "10%")
	h.kill()
	if bps := throughput(t, p, 4, time.Second); bps > 4e6 {
		t.Fatalf("goodput %.1f Mbit/s right after SIGKILL: expected the TBF qdisc to stay", bps/1e6)
	}
	out, err := exec.Command("ip", "netns", "exec", p.A, helper(t), "clear", p.Dev).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"event":"cleared"`) {
		t.Fatalf("clear: %v: %s", err, out)
	}
	if bps := throughput(t, p, 4, time.Second); bps < 40e6 {
		t.Errorf("goodput %.1f Mbit/s after clear, want the limit gone (> 40)", bps/1e6)
	}
}

func TestDuplicateAndCorrupt(t *testing.T) {
	needRoot(t)
	p := newPair(t)
	rtts(t, p, 4, 1)
	rtts(t, p, 6, 1)
	h := start(t, p.A, 1, "apply", p.Dev, "--duplicate", "20%")
	r := burst(t, p, 4, 1000, 100, time.Millisecond)
	t.Logf("duplicate 20%%: %d datagrams arrived for 1000 sent", r.received)
	if r.received < 1100 || r.received > 1300 {
		t.Errorf("%d datagrams arrived for 1000 sent at 20%% duplication, want 1100–1300", r.received)
	}
	h.stop(t)
	h = start(t, p.A, 1, "apply", "--stats", "100ms", p.Dev, "--corrupt", "30%")
	r = burst(t, p, 6, 1000, 100, time.Millisecond)
	t.Logf("corrupt 30%%: %d of 1000 datagrams arrived intact", r.received)
	// A flipped bit fails the UDP checksum: the receiver drops the datagram.
	if r.received < 600 || r.received > 800 {
		t.Errorf("%d of 1000 datagrams arrived at 30%% corruption, want 600–800", r.received)
	}
	evs := h.stop(t)
	last := evs[len(evs)-1]
	if last.Stats == nil || last.Stats.Corrupted < 200 {
		t.Errorf("cleared event %+v: want stats with about 300 corrupted", last)
	}
}

func TestReorder(t *testing.T) {
	needRoot(t)
	p := newPair(t)
	h := start(t, p.A, 1, "apply", p.Dev, "--delay", "30ms", "--reorder", "50%")
	d := rtts(t, p, 4, 40)
	h.stop(t)
	var fast int
	for _, x := range d {
		if x < 15*time.Millisecond {
			fast++
		}
	}
	t.Logf("reorder 50%% with 30ms delay: %d of %d round trips skipped the delay", fast, len(d))
	if fast < 8 || fast > 32 {
		t.Errorf("%d of %d round trips skipped the delay at reorder 50%%, want 8–32", fast, len(d))
	}
}

func TestNetem(t *testing.T) {
	needRoot(t)
	p := newPair(t)
	var probe shape.Probe
	in(t, p.A, func() { probe = Probe() })
	if !probe.Netem {
		t.Skip("skipped: this kernel lacks sch_netem (CONFIG_NET_SCH_NETEM is not set), so the netem path cannot run here; its qdisc attributes are unit-tested (TestNetemAttrs), and the fallback is what this kernel gets")
	}
	h := start(t, p.A, 1, "apply", p.Dev, "--delay", "100ms", "--loss", "30%")
	if m := median(rtts(t, p, 4, 20)); m < 90*time.Millisecond {
		t.Errorf("netem: median round trip %v with 100ms delay, want ≥ 90ms", m)
	}
	if r := burst(t, p, 6, 1000, 100, time.Millisecond); r.received < 600 || r.received > 800 || r.sendErrors > 0 {
		t.Errorf("netem: %+v at 30%% loss, want 600–800 received, no send errors", r)
	}
	h.stop(t)
}

func TestBadInput(t *testing.T) {
	needRoot(t)
	p := newPair(t)
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown interface", []string{"apply", "nosuch0", "--delay", "10ms"}, shape.ExitFailed, `no interface "nosuch0"`},
		{"loss over 100", []string{"apply", p.Dev, "--loss", "120%"}, shape.ExitUsage, "not between 0% and 100%"},
		{"nothing", []string{"apply", p.Dev}, shape.ExitUsage, "no setting given"},
		{"unknown flag", []string{"apply", p.Dev, "--latency", "1ms"}, shape.ExitUsage, "flag provided but not defined: -latency"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command("ip", append([]string{"netns", "exec", p.A, helper(t)}, c.args...)...)
			out, _ := cmd.Output()
			var e shape.Event
			_ = json.Unmarshal(out, &e)
			if cmd.ProcessState.ExitCode() != c.code || e.Event != shape.EventError || !strings.Contains(e.Error, c.want) {
				t.Errorf("exit %d, stdout %s; want exit %d and an error event with %q", cmd.ProcessState.ExitCode(), out, c.code, c.want)
			}
			if rs, _ := exec.Command("ip", "netns", "exec", p.A, "nft", "list", "tables").Output(); strings.Contains(string(rs), "socketlab_impair") {
				t.Errorf("tables left behind: %s", rs)
			}
		})
	}
}

// retransSegs is TcpRetransSegs of namespace ns (/proc/net/snmp).
func retransSegs(t testing.TB, ns string) int {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "cat", "/proc/net/snmp").Output()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Tcp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "RetransSegs" && i < len(f) {
				v, _ := strconv.Atoi(f[i])
				return v
			}
		}
	}
	t.Fatalf("no Tcp RetransSegs in %s's /proc/net/snmp", ns)
	return 0
}

// TestLossIsRetransmittedByTCP: what loss drops, TCP must resend, as on a
// real link: the stream still arrives and the sender counts retransmitted
// segments. (A drop at the egress hook is reported back to TCP, which
// queues the segment again and never retransmits it: no loss at all.)
func TestLossIsRetransmittedByTCP(t *testing.T) {
	needRoot(t)
	p := newPair(t)
	rtts(t, p, 4, 1)
	rtts(t, p, 6, 1)
	start(t, p.A, 1, "apply", p.Dev, "--loss", "20%")
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			before := retransSegs(t, p.A)
			bps := throughput(t, p, f.fam, 2*time.Second)
			after := retransSegs(t, p.A)
			t.Logf("20%% loss: %.1f Mbit/s, %d segments retransmitted", bps/1e6, after-before)
			if after-before < 100 {
				t.Errorf("%d segments retransmitted at 20%% loss over 2s, want many", after-before)
			}
			if bps <= 0 {
				t.Error("nothing arrived")
			}
		})
	}
}
