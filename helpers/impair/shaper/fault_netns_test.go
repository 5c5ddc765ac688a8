package shaper

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"socketlab/helpers/impair/shape"
)

// numbered sends n datagrams "1".."n" from p.A to p.B, one every gap, and
// returns the numbers in the order they arrived.
func numbered(t *testing.T, p *pair, fam, n int, gap time.Duration) []int {
	t.Helper()
	rc := open(t, p.B, func() (*net.UDPConn, error) {
		return net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.AddrB[fam], 0)))
	})
	defer rc.Close()
	sc := open(t, p.A, func() (*net.UDPConn, error) { return net.DialUDP("udp", nil, rc.LocalAddr().(*net.UDPAddr)) })
	defer sc.Close()
	got := make(chan []int)
	go func() {
		var seen []int
		buf := make([]byte, 64)
		for {
			_ = rc.SetReadDeadline(time.Now().Add(time.Second))
			k, err := rc.Read(buf)
			if err != nil {
				got <- seen
				return
			}
			var i int
			fmt.Sscan(string(buf[:k]), &i)
			seen = append(seen, i)
		}
	}()
	for i := 1; i <= n; i++ {
		if _, err := sc.Write([]byte(fmt.Sprint(i))); err != nil {
			t.Errorf("send %d: %v", i, err)
		}
		time.Sleep(gap)
	}
	return <-got
}

// faultCtl runs impair fault OP IFACE ARGS in ns and returns its one event.
func faultCtl(t *testing.T, ns, op, dev string, args ...string) shape.Event {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns, helper(t), "fault", op, dev}, args...)...).Output()
	var ev shape.Event
	if jerr := json.Unmarshal(out, &ev); jerr != nil || err != nil {
		t.Fatalf("impair fault %s: %v %v: %s", op, err, jerr, out)
	}
	return ev
}

func seq(from, to int, skip ...int) []int {
	var s []int
	for i := from; i <= to; i++ {
		if !slices.Contains(skip, i) {
			s = append(s, i)
		}
	}
	return s
}

// TestFaultHelperDropsTheThird: on the wire of a veth pair, the helper
// drops exactly datagram 3 of 10 and nothing after it has fired; faults
// added through its socket count from then on; list reports what fired;
// SIGKILL leaves the link whole.
func TestFaultHelperDropsTheThird(t *testing.T) {
	needRoot(t)
	p := newPairPrefix(t, "flt-")
	rtts(t, p, 4, 1)
	rtts(t, p, 6, 1)
	h := start(t, p.A, 1, "fault", "serve", p.Dev, "--match", "udp and data and ip", "--drop", "--nth", "3")
	if got := numbered(t, p, 4, 10, 5*time.Millisecond); !slices.Equal(got, seq(1, 10, 3)) {
		t.Errorf("IPv4 with the fault: arrived %v, want 1..10 without 3", got)
	}
	if got := numbered(t, p, 4, 10, 5*time.Millisecond); !slices.Equal(got, seq(1, 10)) {
		t.Errorf("IPv4 after it fired: arrived %v, want 1..10", got)
	}
	ev := faultCtl(t, p.A, "add", p.Dev, "--match", "udp and data and ip6", "--delay", "100ms", "--nth", "2")
	if ev.Event != shape.EventFaults || len(ev.Faults) != 2 {
		t.Fatalf("add: %+v, want two faults", ev)
	}
	if got := numbered(t, p, 6, 5, 20*time.Millisecond); !slices.Equal(got, []int{1, 3, 4, 5, 2}) && !slices.Equal(got, []int{1, 3, 4, 2, 5}) {
		t.Errorf("IPv6 with datagram 2 delayed 100ms: arrived %v, want 2 after 4", got)
	}
	ev = faultCtl(t, p.A, "list", p.Dev)
	if len(ev.Faults) != 2 || ev.Faults[0].Fired != 1 || ev.Faults[0].Matched != 20 || ev.Faults[1].Fired != 1 || ev.Faults[1].Matched != 5 {
		t.Errorf("list: %+v, want the drop fired 1 of 20 and the delay 1 of 5", ev.Faults)
	}
	h.kill()
	time.Sleep(200 * time.Millisecond)
	out, _ := exec.Command("ip", "netns", "exec", p.A, "nft", "list", "tables").CombinedOutput()
	if strings.Contains(string(out), "socketlab_fault") {
		t.Errorf("after SIGKILL the tables remain: %s", out)
	}
	for _, fam := range []int{4, 6} {
		if got := numbered(t, p, fam, 10, time.Millisecond); len(got) != 10 {
			t.Errorf("IPv%d after SIGKILL: %d of 10 arrived", fam, len(got))
		}
	}
}

// TestFaultHelperIngress drops the second datagram A receives, and only
// what it receives.
func TestFaultHelperIngress(t *testing.T) {
	needRoot(t)
	p := newPairPrefix(t, "flt-")
	rtts(t, p, 4, 1)
	h := start(t, p.B, 1, "fault", "serve", "imp"+strings.TrimPrefix(strings.TrimSuffix(p.Dev, "a"), "imp")+"b",
		"--match", "udp and data", "--drop", "--nth", "2", "--ingress")
	if got := numbered(t, p, 4, 5, 5*time.Millisecond); !slices.Equal(got, seq(1, 5, 2)) {
		t.Errorf("with the ingress fault on the receiver: arrived %v, want 1..5 without 2", got)
	}
	evs := h.stop(t)
	if len(evs) != 1 || evs[0].Event != shape.EventCleared || evs[0].Faults[0].Fired != 1 {
		t.Errorf("stop: %+v, want cleared with the fault fired once", evs)
	}
}
