package check

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"socketlab/labctl/capture"
	"socketlab/labctl/ladder"
	"socketlab/labctl/scenario"
)

// Recorder is what wire checks and packet lines need of a capture of the
// lab. A Lab that also implements Recorder has each client step marked in
// the capture, its node's packets listed in the step's Result.Packets, and
// its expect.wire judged; without one, a step with expect.wire is an error.
type Recorder interface {
	// Annotate puts a marker with text at time t into the capture.
	Annotate(t time.Time, text string)
	// Packets returns the packets node sent and received from from to to,
	// in time order, once the capture has them all.
	Packets(ctx context.Context, node string, from, to time.Time) []capture.Packet
}

// WireOnly is a recorded lab whose steps list their packets only when they
// check the wire: the others skip the wait for the capture to settle (half
// a second a step), for runs where nobody reads their packets.
type WireOnly struct{ RecordedLab }

// Ladder draws the step's ladders when the wrapped lab can (a Ladderer).
func (w WireOnly) Ladder(ctx context.Context, node string, from, to time.Time) *ladder.Ladder {
	if ld, ok := w.RecordedLab.(Ladderer); ok {
		return ld.Ladder(ctx, node, from, to)
	}
	return nil
}

// RecordedLab is a Lab with a capture: what WireOnly wraps.
type RecordedLab interface {
	Lab
	Recorder
}

// Ladderer is a Recorder that also draws a step's conversations as
// ladders, from what every node of the lab saw, with the stretches in which
// the capture fell behind (tap.Recording is one).
type Ladderer interface {
	Ladder(ctx context.Context, node string, from, to time.Time) *ladder.Ladder
}

// MaxPacketLines bounds Result.Packets; the rest is counted in a last line.
const MaxPacketLines = 200

// wireStep marks res's step in the capture, lists its packets and judges
// its expect.wire. It runs after the step, whose client ran from start to end.
func wireStep(ctx context.Context, l Lab, st *scenario.Step, res *Result, start, end time.Time) {
	rec, ok := l.(Recorder)
	w := st.Wire()
	want := w != nil
	if !ok {
		if want && res.Outcome != Error {
			res.Outcome = Error
			res.Message = "expect.wire needs a capture of the lab: run the scenario with labctl test, which captures when a step checks the wire"
		}
		return
	}
	mark(l, res, start, end)
	if _, only := l.(WireOnly); only && !want {
		return
	}
	pkts := rec.Packets(ctx, st.Node, start, end)
	res.Packets = packetLines(pkts)
	if ld, ok := l.(Ladderer); ok {
		res.Ladder = ld.Ladder(ctx, st.Node, start, end)
	}
	if !want || res.Outcome == Error {
		return
	}
	if msg := incomplete(res.Ladder, st.Node); msg != "" {
		// A packet the capture missed is not the network's: judge nothing.
		res.Outcome = Error
		res.Message = msg
		return
	}
	miss := wireExpect(w).Check(capture.Analyze(pkts))
	if len(miss) == 0 {
		return
	}
	var exp, got []string
	for _, m := range miss {
		exp = append(exp, "wire."+m.Field+" "+m.Want)
		got = append(got, "wire."+m.Field+" "+m.Got)
	}
	res.Outcome = Fail
	res.Expected = joinNonEmpty(res.Expected, strings.Join(exp, ", "))
	res.Got = joinNonEmpty(res.Got, strings.Join(got, ", "))
}

// incomplete says why node's packets of a step are not all in the capture
// (the kernel dropped some at its interfaces), "" when they are.
func incomplete(l *ladder.Ladder, node string) string {
	if l == nil {
		return ""
	}
	var where []string
	var n uint64
	for _, g := range l.Gaps {
		if strings.HasPrefix(g.Where, node+":") {
			n += g.Dropped
			if !slices.Contains(where, g.Where) {
				where = append(where, g.Where)
			}
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("the capture is incomplete: the kernel dropped %d packets at %s during the step (the capture fell behind), so expect.wire is not judged: run the step again on a less busy host", n, strings.Join(where, ", "))
}

func joinNonEmpty(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// mark puts res's step start and end into the capture, when there is one.
func mark(l Lab, res *Result, start, end time.Time) {
	rec, ok := l.(Recorder)
	if !ok {
		return
	}
	label := fmt.Sprintf("step %d", res.Index)
	if res.Family != "" {
		label += " [" + res.Family + "]"
	}
	rec.Annotate(start, label+" start: "+res.Name)
	rec.Annotate(end, label+" end: "+res.Name)
}

// packetLines are the packets as the live view prints them.
func packetLines(pkts []capture.Packet) []string {
	f := &capture.Formatter{}
	lines := []string{}
	for i, p := range pkts {
		if i == MaxPacketLines {
			lines = append(lines, fmt.Sprintf("… %d more packets (the capture file has them all)", len(pkts)-i))
			break
		}
		lines = append(lines, f.Line(p))
	}
	return lines
}

// wireExpect turns a scenario's expect.wire into the capture's terms.
func wireExpect(w *scenario.Wire) capture.Expect {
	e := capture.Expect{
		Handshake: w.Handshake,
		Close:     w.Close.How,
		CloseBy:   w.Close.By,
		ICMP:      w.ICMP,
	}
	if r := w.Retransmissions; r != nil {
		e.Retransmissions = &capture.Count{Op: r.Op, N: int(r.N)}
	}
	if d := w.Datagrams; d != nil {
		if d.Sent != nil {
			n := int(*d.Sent)
			e.DatagramsSent = &n
		}
		if d.Received != nil {
			n := int(*d.Received)
			e.DatagramsReceived = &n
		}
	}
	switch w.Family {
	case scenario.AddrIPv4:
		e.Family = 4
	case scenario.AddrIPv6:
		e.Family = 6
	}
	return e
}
