package service

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// logQueueSize is how many bytes of log lines may wait for a slow log
// destination before lines are dropped: about 4000 connection lines.
var logQueueSize = 1 << 20

// logQueue is the io.Writer behind every server's logger. Write never
// blocks on the destination: lines wait in a bounded buffer that one
// goroutine writes out, so a log nobody reads (a stalled pipe, a full disk,
// a paused terminal) costs log lines, never service. A line that does not
// fit is dropped and counted; the count goes out as a line of its own
// ("log lines dropped") as soon as the destination takes lines again.
type logQueue struct {
	w    io.Writer
	note *slog.Logger // writes the drop counts; used by the writer goroutine only
	max  int

	mu      sync.Mutex
	wake    *sync.Cond
	pending []byte // whole lines, in order, not yet handed to w
	spare   []byte // the buffer the writer goroutine last wrote out
	dropped int64  // lines dropped since the last count went out
	closed  bool
	done    chan struct{}
}

func newLogQueue(w io.Writer, max int, service string) *logQueue {
	q := &logQueue{w: w, max: max, done: make(chan struct{})}
	q.note = slog.New(slog.NewJSONHandler(w, nil)).With("service", service)
	q.wake = sync.NewCond(&q.mu)
	go q.run()
	return q
}

// Write queues one log line (a slog handler writes each record in one
// call); it drops the line when the queue is full or closed.
func (q *logQueue) Write(p []byte) (int, error) {
	q.mu.Lock()
	if q.closed || len(q.pending)+len(p) > q.max {
		q.dropped++
	} else {
		q.pending = append(q.pending, p...)
	}
	q.mu.Unlock()
	q.wake.Signal()
	return len(p), nil
}

func (q *logQueue) run() {
	defer close(q.done)
	q.mu.Lock()
	for {
		for len(q.pending) == 0 && q.dropped == 0 && !q.closed {
			q.wake.Wait()
		}
		if len(q.pending) == 0 && q.dropped == 0 {
			q.mu.Unlock()
			return // closed and drained
		}
		// Double buffering: servers append to the other buffer while this
		// one is written, and neither is reallocated in steady state.
		out, dropped := q.pending, q.dropped
		q.pending, q.spare, q.dropped = q.spare[:0], nil, 0
		q.mu.Unlock()
		if len(out) > 0 {
			_, _ = q.w.Write(out)
		}
		if dropped > 0 {
			q.note.LogAttrs(context.Background(), slog.LevelWarn, "log lines dropped",
				slog.Int64("dropped", dropped),
				slog.String("why", "the log destination did not keep up; lines were dropped so that serving never waits for it"))
		}
		q.mu.Lock()
		if cap(out) <= q.max+q.max/4 {
			q.spare = out[:0]
		}
	}
}

// Close writes out what is queued, waiting at most wait for a slow
// destination, and drops whatever is logged afterwards.
func (q *logQueue) Close(wait time.Duration) {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wake.Signal()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-q.done:
	case <-t.C:
	}
}
