package suite

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"
)

// cpuUse is a snapshot of where the machine's CPU time went, in clock
// ticks: to every process (user, nice, system), to this process and its
// waited-for children (the servers and loads), and to the hypervisor
// (steal). Between two snapshots taken with no child running, the
// difference between all and ours is what other processes used: the
// honest measure of how quiet the machine was.
type cpuUse struct {
	at        time.Time
	all, ours int64
	steal     int64
	ok        bool
}

func sampleCPU() cpuUse {
	u := cpuUse{at: time.Now()}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return u
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return u
	}
	n := func(i int) int64 { v, _ := strconv.ParseInt(f[i], 10, 64); return v }
	u.all, u.steal = n(1)+n(2)+n(3), n(8)
	s, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return u
	}
	g := strings.Fields(string(s[bytes.LastIndexByte(s, ')')+1:]))
	if len(g) < 15 {
		return u
	}
	m := func(i int) int64 { v, _ := strconv.ParseInt(g[i], 10, 64); return v }
	u.ours = m(11) + m(12) + m(13) + m(14) // utime stime cutime cstime
	u.ok = true
	return u
}

// Quiet says how busy the rest of the machine was over a stretch of time.
type Quiet struct {
	Group string `json:"group"`
	// Others is the CPU time other processes used, in percent of one CPU
	// (200 would be both CPUs of a 2-CPU machine, all the time).
	Others float64 `json:"others_pct_of_a_cpu"`
	// Steal is the time the hypervisor gave to other machines, likewise.
	Steal   float64 `json:"steal_pct_of_a_cpu"`
	Seconds float64 `json:"seconds"`
}

func quietBetween(group string, a, b cpuUse) Quiet {
	q := Quiet{Group: group, Seconds: b.at.Sub(a.at).Seconds()}
	if !a.ok || !b.ok || q.Seconds <= 0 {
		return q
	}
	const hz = 100 // USER_HZ
	pct := func(ticks int64) float64 { return 100 * float64(ticks) / hz / q.Seconds }
	q.Others = max(0, pct((b.all-a.all)-(b.ours-a.ours)))
	q.Steal = pct(b.steal - a.steal)
	return q
}
