package tap

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sync"
	"time"

	"socketlab/labctl/capture"
	"socketlab/labctl/lab"
	"socketlab/labctl/ladder"
)

// Settle is how long after a moment the capture may still be handing over
// the packets seen before it: the helper's flush interval, the merger's
// reorder window, and room for the engine's stream.
const Settle = capture.DefaultWindow + 250*time.Millisecond

// Recording is a capture of every node of a lab while its steps run. It is
// the lab (for check.Run) and a check.Recorder: steps are marked in the
// capture, list their packets, and have their expect.wire judged. Starting
// a node, or joining it to a network or taking it off one, captures it
// again (Docker gives a restarted container a new network namespace; a
// helper whose interface went away stops).
type Recording struct {
	*lab.Lab
	s *Session

	mu   sync.Mutex
	pkts []capture.Packet
	// names are the nodes' addresses, for ladders' lanes, and to tell
	// the engine's own DNS (with an address that is no node's) apart.
	names map[netip.Addr]string
}

// Record captures every running node of l, or only the nodes named when
// some are, writing pcapng to out (nil: none), until Close.
func Record(ctx context.Context, l *lab.Lab, image string, out io.Writer, nodes ...string) (*Recording, error) {
	st, err := l.Status(ctx)
	if err != nil {
		return nil, err
	}
	targets := All(st)
	if len(nodes) > 0 {
		targets = slices.DeleteFunc(targets, func(t Target) bool { return !slices.Contains(nodes, t.Node) })
	}
	r := &Recording{Lab: l, names: Names(st)}
	r.s, err = Start(ctx, l, targets, Config{Image: image, Output: out, OnPacket: func(p capture.Packet) {
		if !p.Marker {
			r.mu.Lock()
			r.pkts = append(r.pkts, p)
			r.mu.Unlock()
		}
	}})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Annotate marks a moment (a step's start or end) in the capture.
func (r *Recording) Annotate(t time.Time, text string) { r.s.Annotate(t, text) }

// Packets waits until the capture holds every packet up to `to`, then
// returns node's packets from from to to, in time order, less the
// engine's own DNS (see enginedns.go).
func (r *Recording) Packets(ctx context.Context, node string, from, to time.Time) []capture.Packet {
	select {
	case <-time.After(time.Until(to.Add(Settle))):
	case <-ctx.Done():
	}
	r.mu.Lock()
	pkts := withoutEngineDNS(capture.Select(r.pkts, node, from, to), r.names)
	r.mu.Unlock()
	slices.SortStableFunc(pkts, func(a, b capture.Packet) int { return a.Time.Compare(b.Time) })
	return pkts
}

// Ladder draws the conversations of node during a step, from from to to,
// as every captured node saw them (both ends, where both are in the lab, so
// that lost packets show), once the capture has them all (call it after
// Packets). Where the kernel dropped packets at a node's interface then,
// the ladder has the gap and says the capture is incomplete.
func (r *Recording) Ladder(ctx context.Context, node string, from, to time.Time) *ladder.Ladder {
	select {
	case <-time.After(time.Until(to.Add(Settle))):
	case <-ctx.Done():
	}
	r.mu.Lock()
	var pkts []capture.Packet
	for _, p := range r.pkts {
		if !p.Time.Before(from) && !p.Time.After(to) {
			pkts = append(pkts, p)
		}
	}
	names := r.names
	r.mu.Unlock()
	slices.SortStableFunc(pkts, func(a, b capture.Packet) int { return a.Time.Compare(b.Time) })
	var gaps []ladder.Gap
	for _, g := range r.s.Gaps() {
		if g.Overlaps(from, to) {
			gaps = append(gaps, ladder.Gap{Where: g.Where.String(), From: g.From, To: g.To, Dropped: g.Dropped})
		}
	}
	l := ladder.Packets(pkts, gaps, ladder.Options{Names: names})
	// The step's node's conversations only.
	l.Conversations = slices.DeleteFunc(l.Conversations, func(c *ladder.Conversation) bool {
		return c.A.Node != node && c.B.Node != node
	})
	for i, c := range l.Conversations {
		c.ID = i + 1
	}
	return l
}

// Names maps each address of st's nodes to its node.
func Names(st *lab.Status) map[netip.Addr]string {
	names := map[netip.Addr]string{}
	for _, n := range st.Nodes {
		for _, a := range n.Addresses {
			for _, s := range []string{a.IPv4, a.IPv6} {
				if p, err := netip.ParsePrefix(s); err == nil {
					names[p.Addr()] = n.Name
				} else if ad, err := netip.ParseAddr(s); err == nil {
					names[ad] = n.Name
				}
			}
		}
	}
	return names
}

// Count is how many packets were captured so far.
func (r *Recording) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pkts)
}

// Start starts node and captures it again.
func (r *Recording) Start(ctx context.Context, node string) error {
	if err := r.Lab.Start(ctx, node); err != nil {
		return err
	}
	return r.again(ctx, node)
}

// Connect joins node to network and captures it again, the new interface too.
func (r *Recording) Connect(ctx context.Context, node, network string) error {
	if err := r.Lab.Connect(ctx, node, network); err != nil {
		return err
	}
	return r.again(ctx, node)
}

// Disconnect takes node off network and captures its other interfaces again.
func (r *Recording) Disconnect(ctx context.Context, node, network string) error {
	if err := r.Lab.Disconnect(ctx, node, network); err != nil {
		return err
	}
	return r.again(ctx, node)
}

func (r *Recording) again(ctx context.Context, node string) error {
	st, err := r.Lab.Status(ctx)
	if err != nil {
		return fmt.Errorf("capture %s again: %w", node, err)
	}
	r.mu.Lock()
	r.names = Names(st)
	r.mu.Unlock()
	for _, t := range All(st) {
		if t.Node == node {
			if err := r.s.Restart(ctx, node, t); err != nil {
				return fmt.Errorf("capture %s again: %w", node, err)
			}
		}
	}
	return nil
}

// Close stops the capture and removes its helpers (see Session.Close).
func (r *Recording) Close(ctx context.Context) (Result, error) { return r.s.Close(ctx) }
