package service

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// DefaultDropLogInterval is how often a Datagrams server logs the datagrams
// it answered with nothing, unless DropLogInterval says otherwise.
const DefaultDropLogInterval = 10 * time.Second

// drops sums the datagrams a server answers with nothing, by reason, and
// logs the sums once per interval instead of a line each: a flood of
// datagrams that get no reply (rate limited, from a loop port) must not
// turn into a flood of log.
type drops struct {
	mu     sync.Mutex
	counts map[string]int64
	since  time.Time
	timer  *time.Timer
}

// add counts one datagram dropped for reason (a Handle note such as
// "dropped: rate limited"); the first drop of an interval starts its clock.
func (d *Datagrams) dropped(reason string) {
	if d.Log == nil {
		return
	}
	reason = strings.TrimPrefix(reason, "dropped: ")
	dr := &d.drops
	dr.mu.Lock()
	defer dr.mu.Unlock()
	if dr.counts == nil {
		dr.counts = make(map[string]int64)
	}
	dr.counts[reason]++
	if dr.timer == nil {
		every := d.DropLogInterval
		if every <= 0 {
			every = DefaultDropLogInterval
		}
		dr.since = time.Now()
		dr.timer = time.AfterFunc(every, d.logDrops)
	}
}

// logDrops writes the sums of the interval that ends now, if any.
func (d *Datagrams) logDrops() {
	dr := &d.drops
	dr.mu.Lock()
	counts, since := dr.counts, dr.since
	dr.counts = nil
	if dr.timer != nil {
		dr.timer.Stop()
		dr.timer = nil
	}
	dr.mu.Unlock()
	if len(counts) == 0 || d.Log == nil {
		return
	}
	var total int64
	reasons := make([]any, 0, len(counts))
	for r, n := range counts {
		total += n
		reasons = append(reasons, slog.Int64(r, n))
	}
	d.Log.LogAttrs(context.Background(), slog.LevelInfo, "datagrams dropped",
		slog.Int64("count", total),
		slog.Group("reasons", reasons...),
		slog.Float64("interval_ms", msSince(since)),
	)
}
