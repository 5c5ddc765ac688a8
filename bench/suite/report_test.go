package suite

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

func TestGoalCheck(t *testing.T) {
	tests := []struct {
		name string
		m    Metric
		want string // "pass", "miss" or "none"
	}{
		{"ratio met", with(rowStream, []float64{6}, refIperf, []float64{10}), "pass"},
		{"ratio missed", with(rowStream, []float64{4}, refIperf, []float64{10}), "miss"},
		{"at most, met", with(rowRTT50, []float64{25, 40, 20}, refCopy, []float64{20}), "pass"},
		{"at most, missed", with(rowRTT99, []float64{120}, refCopy, []float64{20}), "miss"},
		{"at least, missed", with(rowUDPEcho, []float64{150e3}, refUDP, []float64{120e3}), "miss"},
		{"ratio goal, no reference", with(rowStream, []float64{6}, noRef, nil), "none"},
		{"no goal", with(rowLookupConn, []float64{6}, refFloor, []float64{8}), "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.m.Goal.check(&tt.m)
			got := "none"
			if tt.m.Pass != nil {
				got = map[bool]string{true: "pass", false: "miss"}[*tt.m.Pass]
			}
			if got != tt.want {
				t.Errorf("%s: %s; want %s", tt.m.ID, got, tt.want)
			}
		})
	}
}

func TestNumber(t *testing.T) {
	tests := []struct {
		v    float64
		unit string
		want string
	}{
		{1.79e6, "deliveries/s", "1.79M"},
		{300e3, "replies/s", "300k"},
		{88812, "ops/s", "88.8k"},
		{512, "req/s", "512"},
		{9.7312, "Gbit/s", "9.73"},
		{25.04, "µs", "25.0"},
		{363.4, "µs", "363"},
	}
	for _, tt := range tests {
		if got := number(tt.v, tt.unit); got != tt.want {
			t.Errorf("number(%v, %q) = %q; want %q", tt.v, tt.unit, got, tt.want)
		}
	}
}

func report() *Report {
	pass := with(rowStream, []float64{9, 10, 11}, refIperf, []float64{18, 19, 20})
	pass.Goal.check(&pass)
	miss := with(rowUDPEcho, []float64{150e3}, refUDP, []float64{120e3})
	miss.Goal.check(&miss)
	skipped := rowMemChat
	skipped.Skipped = "connection 401 of 10000: refused"
	return &Report{Commit: "abc", Runs: 3, Duration: "2s", CPUs: 2, Metrics: []Metric{pass, miss, skipped},
		Quiet: []Quiet{{Group: "udp", Others: 12}, {Group: "all", Others: 5}}}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	report().WriteTable(&b)
	out := b.String()
	for _, want := range []string{
		"| echo TCP stream, 1 conn, 128 KiB writes | 10.0 Gbit/s (9.00–11.0) | iperf3: 19.0 Gbit/s (18.0–20.0) | 0.53× | ≥ 0.5× | pass |",
		"| echo UDP 64 B, server on 1 core | 150k replies/s (150k–150k) | naive UDP echo: 120k replies/s (120k–120k) | 1.25× | ≥ 300k replies/s | **MISS** |",
		"| chat RSS per idle conn, 10k conns | — | — | — | ≤ 16 KiB | not measured |",
		"- chat/idle-rss not measured: connection 401 of 10000: refused",
		"other processes used 5% of one CPU on average during the run (most: 12% during udp)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteBenchfmt(t *testing.T) {
	var b bytes.Buffer
	report().WriteBenchfmt(&b)
	line := regexp.MustCompile(`^Benchmark[A-Z]\S* 1 [0-9.e+]+ \S+$`)
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if strings.HasPrefix(l, "Benchmark") {
			n++
			if !line.MatchString(l) {
				t.Errorf("not a benchmark line: %q", l)
			}
		}
	}
	if n != 3+3+1+1 { // every run of ours and of the reference
		t.Errorf("%d benchmark lines; want 8:\n%s", n, b.String())
	}
}

func TestCompare(t *testing.T) {
	old := &Report{Commit: "old", Metrics: []Metric{
		with(rowPingPong, []float64{70e3, 72e3, 74e3}, noRef, nil),
		with(rowRTT50, []float64{30, 31, 32}, noRef, nil),
		with(rowMemEcho, []float64{8, 9, 10}, noRef, nil),
		with(rowMemChat, []float64{8.00, 8.01, 8.02}, noRef, nil),
	}}
	cur := &Report{Commit: "new", Metrics: []Metric{
		with(rowPingPong, []float64{80e3, 82e3, 84e3}, noRef, nil), // higher is better: better
		with(rowRTT50, []float64{40, 41, 42}, noRef, nil),          // lower is better: worse
		with(rowMemEcho, []float64{8.5, 9.5, 10.5}, noRef, nil),    // ranges overlap: ~
		with(rowMemChat, []float64{8.03, 8.04, 8.05}, noRef, nil),  // apart, but by 0.4%: ~
	}}
	var b bytes.Buffer
	Compare(&b, old, cur)
	out := b.String()
	for _, want := range []string{"| +13.9% | better |", "| +32.3% | worse |", "| +5.6% | ~ |", "| +0.4% | ~ |"} {
		if !strings.Contains(out, want) {
			t.Errorf("comparison lacks %q:\n%s", want, out)
		}
	}
}

func TestSummaryIsMedianOfRuns(t *testing.T) {
	m := with(rowLookupKeep, []float64{5, 1, 3}, refFloor, []float64{2, 4})
	if m.Ours.Median != 3 || m.Ref.Median != 3 || m.Ratio != 1 {
		t.Errorf("ours %+v, ref %+v, ratio %v", m.Ours, m.Ref.Summary, m.Ratio)
	}
	// Rounds run back to back: the ratio is the median of each round's.
	m = with(rowLookupKeep, []float64{2, 4, 6}, refFloor, []float64{1, 4, 3})
	if m.Ratio != 2 {
		t.Errorf("paired ratio of 2/1, 4/4, 6/3 = %v; want 2", m.Ratio)
	}
}
