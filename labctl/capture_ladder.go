package main

import (
	"fmt"
	"io"
	"net/netip"
	"sync"
	"time"

	"socketlab/labctl/capture"
	"socketlab/labctl/ladder"
)

// liveLadder is capture --ladder: packets go into a ladder as they come,
// and each TCP connection is drawn once it has closed and settled; the
// rest when the capture ends.
type liveLadder struct {
	w io.Writer

	mu      sync.Mutex
	b       *ladder.Builder
	printed map[*ladder.Conversation]bool
	n       int
	stop    chan struct{}
	done    sync.WaitGroup
}

func newLiveLadder(w io.Writer, names map[netip.Addr]string) *liveLadder {
	l := &liveLadder{w: w, b: ladder.NewBuilder(ladder.Options{Names: names}),
		printed: map[*ladder.Conversation]bool{}, stop: make(chan struct{})}
	l.done.Add(1)
	go func() {
		defer l.done.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case now := <-t.C:
				l.mu.Lock()
				l.b.Advance(now.Add(-capture.DefaultWindow))
				l.print(l.b.Ended())
				l.mu.Unlock()
			}
		}
	}()
	return l
}

func (l *liveLadder) add(p capture.Packet) {
	if p.Marker {
		return
	}
	l.mu.Lock()
	l.b.Add(ladder.FromCapture(p))
	l.mu.Unlock()
}

// print draws cs, each once; l.mu is held.
func (l *liveLadder) print(cs []*ladder.Conversation) {
	for _, c := range cs {
		if l.printed[c] {
			continue
		}
		l.printed[c] = true
		if l.n > 0 {
			fmt.Fprintln(l.w)
		}
		l.n++
		_ = ladder.WriteText(l.w, &ladder.Ladder{Conversations: []*ladder.Conversation{c}})
	}
}

// finish draws what was not drawn yet, with the stretches in which the
// kernel dropped packets (gaps) marked.
func (l *liveLadder) finish(gaps []capture.Gap) {
	close(l.stop)
	l.done.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, g := range gaps {
		l.b.AddGap(ladder.Gap{Where: g.Where.String(), From: g.From, To: g.To, Dropped: g.Dropped})
	}
	lad := l.b.Finish()
	var rest []*ladder.Conversation
	for _, c := range lad.Conversations {
		if !l.printed[c] {
			rest = append(rest, c)
		}
	}
	if len(rest) == 0 && l.n == 0 {
		fmt.Fprintf(l.w, "no TCP or UDP conversation in %d frames\n", lad.Frames)
	}
	l.print(rest)
}
