package check

import (
	"fmt"
	"time"

	"socketlab/labctl/scenario"
)

// judgeLink adds what a step expects of a degraded link to want, and the
// expectations that failed to bad: a lower bound on the time, a range of
// echoes that came back.
func judgeLink(e *scenario.Expect, c *clientResult, want, bad []string) ([]string, []string) {
	if e.SlowerThan > 0 {
		d := time.Duration(e.SlowerThan)
		want = append(want, "slower than "+d.String())
		if time.Duration(c.Timings.Total*float64(time.Millisecond)) < d {
			bad = append(bad, "slower_than")
		}
	}
	if e.MinReplies > 0 || e.MaxReplies > 0 {
		switch {
		case e.MaxReplies == 0:
			want = append(want, fmt.Sprintf("at least %d replies", e.MinReplies))
		case e.MinReplies == 0:
			want = append(want, fmt.Sprintf("at most %d replies", e.MaxReplies))
		default:
			want = append(want, fmt.Sprintf("%d to %d replies", e.MinReplies, e.MaxReplies))
		}
		replies, _ := c.detail("round_trips")
		n := int64(replies)
		if n < e.MinReplies || e.MaxReplies > 0 && n > e.MaxReplies {
			bad = append(bad, "replies")
		}
	}
	return want, bad
}

// detail is a count among the client's details (sock echo's round_trips,
// sent, lost), and whether it is there.
func (c *clientResult) detail(key string) (int, bool) {
	f, ok := c.Details[key].(float64) // JSON numbers decode as float64
	return int(f), ok
}
