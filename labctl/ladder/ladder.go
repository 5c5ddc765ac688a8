// Package ladder draws what passed between two sockets as the textbook
// draws it: two lanes, one per end, and an arrow for each packet, with its
// flags, relative sequence and acknowledgement numbers, payload and time,
// and each end's TCP state as the packets change it.
//
// A Builder takes the frames of any capture in time order — labctl's own
// (one interface per node:network, with directions), or tshark's on the
// lab's bridges (Ethernet or Linux cooked) — and groups them into
// conversations: a TCP connection, a UDP flow, with the ICMP errors that
// answer a flow drawn on it. A packet seen at several places (leaving one
// node, arriving at another) is one arrow; one seen leaving its sender and
// never arriving where its receiver was captured is marked lost, unless the
// capture itself dropped packets there and then: the ladder then says the
// capture is incomplete instead of guessing.
//
// The Builder reads a stream: what it holds is bounded by Options (arrows
// per conversation, conversations) and by the packets of the last few
// seconds, never by the length of the capture.
package ladder

import (
	"container/heap"
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"slices"
	"time"

	"socketlab/internal/packet"
)

// Defaults of Options.
const (
	// DefaultMaxArrows is how many arrows a conversation keeps; later
	// packets are counted, not drawn.
	DefaultMaxArrows = 400
	// DefaultMaxConversations is how many conversations a ladder keeps.
	DefaultMaxConversations = 500
	// DefaultWindow is how long after a packet was first seen another
	// capture point may still see the same packet (it crossed a bridge, a
	// router, a delay line).
	DefaultWindow = 2 * time.Second
	// PreviewBytes is how much of a payload an arrow quotes.
	PreviewBytes = 24
)

// Options tune a Builder; the zero value is usable.
type Options struct {
	// Filter keeps the packets it matches (an ICMP error is kept when the
	// packet it quotes matches); nil keeps all.
	Filter *packet.Filter
	// Names names lanes: the node that has each address. Without a name a
	// lane is its address and port.
	Names map[netip.Addr]string
	// MaxArrows and MaxConversations bound the ladder (0: the defaults).
	MaxArrows, MaxConversations int
	// Window is how long a packet may take from one capture point to
	// another (0: DefaultWindow).
	Window time.Duration
}

// Dir is a frame's direction as its capture point saw it.
type Dir uint8

// Directions: labctl's helper records them; a cooked capture has them for
// the capturing host's own packets.
const (
	DirUnknown Dir = iota
	DirIn
	DirOut
)

// Frame is one captured frame, as a reader hands it to a Builder.
type Frame struct {
	Time time.Time
	// Where is the capture point: "node:network" in labctl's captures, the
	// interface's name otherwise.
	Where string
	Dir   Dir
	Link  packet.Link
	Data  []byte
}

// Gap is a stretch of time in which the kernel dropped packets at a capture
// point before the capture could read them.
type Gap struct {
	Where   string    `json:"where"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Dropped uint64    `json:"dropped"`
}

// Ladder is what a capture showed: its conversations, in order of their
// first packet.
type Ladder struct {
	Conversations []*Conversation `json:"conversations"`
	// MoreConversations counts those left out past Options.MaxConversations.
	MoreConversations int `json:"more_conversations,omitempty"`
	// Frames is how many frames were read; Drawn how many became arrows
	// (a packet seen at two places is one arrow).
	Frames int `json:"frames"`
	Drawn  int `json:"drawn"`
	// Gaps are the capture's own losses: where and when the kernel dropped
	// packets before the capture read them.
	Gaps []Gap `json:"capture_gaps,omitempty"`
	// Start is the time of the first frame.
	Start time.Time `json:"start"`
}

// Endpoint is one end of a conversation: a lane.
type Endpoint struct {
	Addr netip.AddrPort `json:"addr"`
	// Node is the node that has the address, when known.
	Node string `json:"node,omitempty"`
}

// Name is the lane's title: the node, else address:port.
func (e Endpoint) Name() string {
	if e.Node != "" {
		return e.Node
	}
	return e.Addr.String()
}

// Conversation is one TCP connection or UDP flow: A, the left lane, spoke
// first (sent the SYN).
type Conversation struct {
	ID     int      `json:"id"`
	Proto  string   `json:"proto"` // "TCP" or "UDP"
	Family int      `json:"family"`
	A      Endpoint `json:"a"`
	B      Endpoint `json:"b"`
	// Initial are A's and B's states before the first packet ("" for UDP).
	Initial [2]string `json:"initial_states,omitempty"`
	Arrows  []*Arrow  `json:"arrows"`
	// States are each end's TCP state changes, in time order.
	States []StateChange `json:"states,omitempty"`
	// More counts the packets past Options.MaxArrows, drawn as one line.
	More int `json:"more,omitempty"`
	// Bytes are the payload bytes each way (A to B, B to A), first sends only.
	Bytes           [2]int `json:"bytes"`
	Retransmissions int    `json:"retransmissions"`
	Duplicates      int    `json:"duplicates"`
	Lost            int    `json:"lost"`
	// Incomplete says why the capture may miss packets of this
	// conversation: the kernel dropped packets where it was captured while
	// it ran. Nothing is then marked lost.
	Incomplete string `json:"incomplete,omitempty"`
	// Close is how it ended: "fin", "rst" or "" (not seen), By the lane
	// ("a" or "b") that ended it first.
	Close   string    `json:"close,omitempty"`
	CloseBy string    `json:"close_by,omitempty"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
}

// Arrow is one packet between the lanes.
type Arrow struct {
	// From is the lane that sent it: 0 for A, 1 for B.
	From int       `json:"from"`
	Sent time.Time `json:"sent"`
	// Arrived is when the receiver's capture point saw it (zero: not seen there).
	Arrived time.Time `json:"arrived,omitzero"`
	// Kind is "TCP", "UDP" or "ICMP" (an error answering the flow).
	Kind  string `json:"kind"`
	Flags string `json:"flags,omitempty"`
	// Seq and Ack count from each side's first sequence number; Ack is set
	// only with the ACK flag.
	Seq    uint32  `json:"seq"`
	Ack    *uint32 `json:"ack,omitempty"`
	Len    int     `json:"len"`
	Window uint16  `json:"win,omitempty"`
	// Preview quotes the first bytes of the payload.
	Preview string `json:"preview,omitempty"`
	// ICMP names an ICMP error ("port unreachable") and who sent it when
	// that is not the lane's own address (a router).
	ICMP     string `json:"icmp,omitempty"`
	ICMPFrom string `json:"icmp_from,omitempty"`
	// Marks: a resent segment, a copy the network made, a packet that left
	// and never arrived, bytes before this segment that no capture point saw.
	Retransmission bool `json:"retransmission,omitempty"`
	Duplicate      bool `json:"duplicate,omitempty"`
	// DupAck is a bare ACK that repeats the last one: its sender saw a hole.
	DupAck bool   `json:"dup_ack,omitempty"`
	Lost   bool   `json:"lost,omitempty"`
	Unseen string `json:"unseen_before,omitempty"`
	// Seen lists the capture points that saw it, in order.
	Seen []string `json:"seen,omitempty"`
}

// StateChange is one end's TCP state after a packet it sent or received.
type StateChange struct {
	// End is the lane: 0 for A, 1 for B.
	End   int       `json:"end"`
	State string    `json:"state"`
	Time  time.Time `json:"time"`
	// Arrow is the index in Arrows of the packet that changed it (-1 past MaxArrows).
	Arrow int `json:"arrow"`
}

// Builder makes a Ladder from frames in time order (Add), then Finish.
type Builder struct {
	opt   Options
	l     Ladder
	convs map[convKey]*conv
	// recent are the packets of the last Window, by identity: a second
	// capture point seeing one adds to its arrow.
	recent map[ident]*sighting
	order  []*sighting // recent, oldest first
	// homes are the capture points where each address's packets start
	// (seen going out with a sender's initial TTL).
	homes map[netip.Addr]string
	last  map[string]time.Time // latest frame of each capture point
	ends  map[string]time.Time // end of each capture point's capture (statistics)
	lost  []*sighting          // sent, never arrived: judged at Finish against the gaps
	// events are the TCP sends and receipts not yet applied, by time.
	events evHeap
	evSeq  uint64
	now    time.Time
	seed   maphash.Seed
}

// NewBuilder returns a Builder with opt.
func NewBuilder(opt Options) *Builder {
	if opt.MaxArrows <= 0 {
		opt.MaxArrows = DefaultMaxArrows
	}
	if opt.MaxConversations <= 0 {
		opt.MaxConversations = DefaultMaxConversations
	}
	if opt.Window <= 0 {
		opt.Window = DefaultWindow
	}
	return &Builder{opt: opt, convs: map[convKey]*conv{}, recent: map[ident]*sighting{},
		homes: map[netip.Addr]string{}, last: map[string]time.Time{}, ends: map[string]time.Time{},
		seed: maphash.MakeSeed()}
}

// AddGap records that the kernel dropped packets at a capture point (a
// capture's interface statistics).
func (b *Builder) AddGap(g Gap) {
	if g.Dropped > 0 {
		b.l.Gaps = append(b.l.Gaps, g)
	}
}

// CaptureEnd records when the capture at a point ended: a packet sent
// before then and not seen there did not arrive.
func (b *Builder) CaptureEnd(where string, t time.Time) {
	if t.After(b.ends[where]) {
		b.ends[where] = t
	}
}

type convKey struct {
	proto  packet.Proto
	lo, hi netip.AddrPort
}

func keyOf(proto packet.Proto, a, b netip.AddrPort) convKey {
	if b.Compare(a) < 0 {
		a, b = b, a
	}
	return convKey{proto, a, b}
}

// conv is a conversation being built.
type conv struct {
	*Conversation
	key convKey
	tcp *tcpConv // nil for UDP
	// dropped is set past MaxConversations: counted, not kept.
	dropped bool
	// reported is set once Ended returned it.
	reported bool
}

// ident is what makes one packet the same packet at two capture points.
type ident uint64

// sighting is one packet seen at one or more capture points.
type sighting struct {
	id      ident
	c       *conv
	arrow   *Arrow // nil past MaxArrows
	first   time.Time
	src     netip.Addr
	dst     netip.Addr
	points  []string
	origin  string // the point where it left its sender, "" if unseen
	arrived bool   // seen at its receiver's home
	recv    *event // the receipt, pending until the sighting settles
}

func (b *Builder) identity(d packet.Decoded) ident {
	var h maphash.Hash
	h.SetSeed(b.seed)
	var buf [64]byte
	s, dd := d.Src.Addr().As16(), d.Dst.Addr().As16()
	h.Write(s[:])
	h.Write(dd[:])
	binary.BigEndian.PutUint16(buf[0:], d.Src.Port())
	binary.BigEndian.PutUint16(buf[2:], d.Dst.Port())
	buf[4] = byte(d.Proto)
	binary.BigEndian.PutUint16(buf[5:], d.IPID)
	binary.BigEndian.PutUint32(buf[7:], d.TCP.Seq)
	binary.BigEndian.PutUint32(buf[11:], d.TCP.Ack)
	buf[15] = byte(d.TCP.Flags)
	binary.BigEndian.PutUint16(buf[16:], d.TCP.Window)
	binary.BigEndian.PutUint32(buf[18:], d.TCP.TSVal)
	binary.BigEndian.PutUint32(buf[22:], uint32(d.PayloadLen))
	buf[26], buf[27] = d.ICMP.Type, d.ICMP.Code
	h.Write(buf[:28])
	h.Write(d.Payload[:min(len(d.Payload), 32)])
	return ident(h.Sum64())
}

// initialTTL tells whether ttl is one a host sends with (Linux 64, others
// 128 or 255): the packet has crossed no router yet.
func initialTTL(ttl uint8) bool { return ttl == 64 || ttl == 128 || ttl == 255 }

// Add takes the next frame, in time order.
func (b *Builder) Add(f Frame) {
	b.l.Frames++
	if b.l.Start.IsZero() {
		b.l.Start = f.Time
	}
	if f.Time.After(b.now) {
		b.now = f.Time
	}
	b.last[f.Where] = f.Time
	b.expire(false)
	d, info := packet.DecodeLink(f.Link, f.Data)
	if info.Cooked {
		// A capture of "any" sees a bridged packet once per interface it
		// crosses: each interface (SLL2), or each packet type (SLL: to
		// another host on the way in, outgoing on the way out), is a
		// capture point of its own. Which end is where is unknown, so
		// nothing is judged lost.
		if info.IfIndex != 0 {
			f.Where += "#" + itoa(uint64(info.IfIndex))
		} else {
			f.Where += "#type" + itoa(uint64(info.PacketType))
		}
	}
	if !d.Complete {
		return
	}
	flow := d
	switch d.Proto {
	case packet.ProtoTCP, packet.ProtoUDP:
	case packet.ProtoICMPv4, packet.ProtoICMPv6:
		// An error answers the flow it quotes: drawn on that flow.
		q := d.ICMP.Quoted
		if q == nil || (q.Proto != packet.ProtoTCP && q.Proto != packet.ProtoUDP) {
			return
		}
		flow = *q
	default:
		return
	}
	if b.opt.Filter != nil && !b.opt.Filter.Match(&d) && !(flow.Proto != d.Proto && b.opt.Filter.Match(&flow)) {
		return
	}
	if f.Dir == DirOut && initialTTL(d.TTL) {
		b.homes[d.Src.Addr()] = f.Where
	}
	id := b.identity(d)
	// A cooked v1 capture cannot tell its interfaces apart: the same
	// packet again within a moment is the next interface it crossed (a
	// bridge port, the bridge), not a copy.
	blind := info.Cooked && info.IfIndex == 0
	if s := b.recent[id]; s != nil && f.Time.Sub(s.first) <= b.opt.Window &&
		(!slices.Contains(s.points, f.Where) || blind && f.Time.Sub(s.first) < 5*time.Millisecond) {
		b.seenAgain(s, f, d)
		return
	}
	b.newPacket(id, f, d, flow)
}

// seenAgain adds a second capture point to a packet already drawn.
func (b *Builder) seenAgain(s *sighting, f Frame, d packet.Decoded) {
	s.points = append(s.points, f.Where)
	if s.origin == "" && f.Dir == DirOut && initialTTL(d.TTL) {
		s.origin = f.Where
	}
	home := b.homes[s.dst]
	if (home != "" && f.Where == home) || f.Dir == DirIn {
		s.arrived = true
		if e := s.recv; e != nil && e.index >= 0 && f.Time.After(e.t) {
			// It arrived later than it left: its receipt moves in time.
			e.t = f.Time
			heap.Fix(&b.events, e.index)
		}
		if s.arrow != nil {
			s.arrow.Arrived = f.Time
		}
	}
	if s.arrow != nil {
		s.arrow.Seen = append(s.arrow.Seen, f.Where)
	}
}

// newPacket draws a packet seen for the first time (or again at the same
// point: the network duplicated it, or its sender sent it again).
func (b *Builder) newPacket(id ident, f Frame, d, flow packet.Decoded) {
	isErr := flow.Proto != d.Proto
	// The flow's sender is its A or B; an error travels back to the quoted sender.
	src, dst := flow.Src, flow.Dst
	if isErr {
		src, dst = flow.Dst, flow.Src
	}
	c := b.conversation(flow, d, f.Time)
	if c.dropped {
		return
	}
	from := 0
	if src != c.A.Addr {
		from = 1
	}
	if c.End.Before(f.Time) {
		c.End = f.Time
	}
	a := &Arrow{From: from, Sent: f.Time, Seen: []string{f.Where}}
	s := &sighting{id: id, c: c, first: f.Time, src: d.Src.Addr(), dst: d.Dst.Addr(), points: []string{f.Where}}
	if f.Dir == DirOut && initialTTL(d.TTL) {
		s.origin = f.Where
	}
	if prev := b.recent[id]; prev != nil && prev.c == c {
		// The same bytes at the same point: a copy, unless its sender's
		// stack sent it again after a while (a resend with no new timestamp).
		if f.Time.Sub(prev.first) < 50*time.Millisecond {
			a.Duplicate = true
			c.Duplicates++
		}
	}
	switch {
	case isErr:
		a.Kind = "ICMP"
		a.ICMP = icmpName(d)
		if d.Src.Addr() != dst.Addr() && d.Src.Addr() != src.Addr() {
			a.ICMPFrom = d.Src.Addr().String()
		}
		a.Len = d.PayloadLen
	case d.Proto == packet.ProtoTCP:
		a.Kind = "TCP"
		a.Len = d.PayloadLen
		a.Window = d.TCP.Window
		a.Preview = preview(d.Payload, d.PayloadLen)
	default:
		a.Kind = "UDP"
		a.Len = d.PayloadLen
		a.Preview = preview(d.Payload, d.PayloadLen)
		if from == 0 {
			c.Bytes[0] += d.PayloadLen
		} else {
			c.Bytes[1] += d.PayloadLen
		}
	}
	idx := -1
	if len(c.Arrows) < b.opt.MaxArrows {
		idx = len(c.Arrows)
		c.Arrows = append(c.Arrows, a)
		s.arrow = a
		b.l.Drawn++
	} else {
		c.More++
	}
	if c.tcp != nil {
		if isErr {
			s.recv = b.push(event{t: f.Time, c: c, recv: true, end: 1 - from, icmp: true, arrow: idx})
		} else {
			c.tcp.segment(c, a, from, d)
			bits := segBits{flags: d.TCP.Flags, seq: d.TCP.Seq, ack: d.TCP.Ack, n: uint32(d.PayloadLen)}
			b.push(event{t: f.Time, c: c, end: from, d: bits, arrow: idx})
			s.recv = b.push(event{t: f.Time, c: c, recv: true, end: 1 - from, d: bits, arrow: idx})
		}
	}
	if b.homes[s.dst] != "" && f.Where == b.homes[s.dst] {
		s.arrived = true
	}
	b.recent[id] = s
	b.order = append(b.order, s)
}

// conversation finds or starts the conversation of flow (d is the packet
// itself, seen first at t).
func (b *Builder) conversation(flow, d packet.Decoded, t time.Time) *conv {
	k := keyOf(flow.Proto, flow.Src, flow.Dst)
	c := b.convs[k]
	isSyn := d.Proto == packet.ProtoTCP && d.TCP.Flags&(packet.SYN|packet.ACK) == packet.SYN
	if c != nil && isSyn && c.tcp != nil && c.tcp.over() {
		c = nil // a new connection on the same ports
	}
	if c != nil {
		return c
	}
	c = &conv{key: k, Conversation: &Conversation{Proto: flow.Proto.String(), Family: int(flow.Family), Start: t}}
	// A is the side that spoke first: the SYN's sender, else the sender
	// of this packet (for TCP seen mid-way, the higher, ephemeral, port).
	// (An error seen first: the sender of the packet it quotes spoke first.)
	a, bb := flow.Src, flow.Dst
	if flow.Proto == d.Proto && d.Proto == packet.ProtoTCP {
		switch {
		case d.TCP.Flags&(packet.SYN|packet.ACK) == packet.SYN:
		case d.TCP.Flags&(packet.SYN|packet.ACK) == packet.SYN|packet.ACK:
			a, bb = bb, a
		case flow.Src.Port() < flow.Dst.Port():
			a, bb = bb, a
		}
	}
	c.A = Endpoint{Addr: a, Node: b.opt.Names[a.Addr()]}
	c.B = Endpoint{Addr: bb, Node: b.opt.Names[bb.Addr()]}
	if flow.Proto == packet.ProtoTCP {
		c.tcp = newTCP(c, d)
	}
	if len(b.l.Conversations) >= b.opt.MaxConversations {
		b.l.MoreConversations++
		c.dropped = true
	} else {
		c.ID = len(b.l.Conversations) + 1
		b.l.Conversations = append(b.l.Conversations, c.Conversation)
	}
	b.convs[k] = c
	return c
}

// expire settles the packets older than the window (all of them when all):
// their receipts become due, and a packet that left and never arrived
// becomes a candidate for loss.
func (b *Builder) expire(all bool) {
	n := 0
	for _, s := range b.order {
		if !all && b.now.Sub(s.first) <= b.opt.Window && len(b.order)-n <= 1<<16 {
			break
		}
		n++
		if b.recent[s.id] == s {
			delete(b.recent, s.id)
		}
		b.settle(s)
	}
	b.order = b.order[n:]
	b.apply(all)
}

func (b *Builder) settle(s *sighting) {
	home := b.homes[s.dst]
	if s.arrived || s.origin == "" || home == "" || home == s.origin || s.arrow == nil {
		return
	}
	// Left its sender, and the receiver's point was capturing after it
	// should have arrived, yet never saw it.
	if b.last[home].After(s.first) || b.ends[home].After(s.first) {
		if s.recv != nil {
			s.recv.skip = true
		}
		s.arrow.Lost = true
		s.c.Lost++
		b.lost = append(b.lost, &sighting{arrow: s.arrow, c: s.c, first: s.first, origin: s.origin, points: []string{home}})
	}
}

// Advance moves the Builder's clock to t when no frame came (a live
// capture on a quiet lab), settling what is older than the window.
func (b *Builder) Advance(t time.Time) {
	if t.After(b.now) {
		b.now = t
		b.expire(false)
	}
}

// Ended returns, once each, the conversations that have ended and settled
// since the last call: TCP connections closed both ways or reset, whose
// every packet is older than three windows. A live view prints them.
func (b *Builder) Ended() []*Conversation {
	var out []*Conversation
	for _, c := range b.convs {
		if c.dropped || c.reported || c.tcp == nil || !c.tcp.over() || b.now.Sub(c.End) <= 3*b.opt.Window {
			continue
		}
		c.reported = true
		out = append(out, c.Conversation)
	}
	slices.SortFunc(out, func(x, y *Conversation) int { return x.ID - y.ID })
	return out
}

// Finish settles what is pending and returns the ladder.
func (b *Builder) Finish() *Ladder {
	b.expire(true)
	for _, c := range b.l.Conversations {
		for _, e := range []*Endpoint{&c.A, &c.B} {
			if e.Node == "" {
				e.Node = nodeOf(b.homes[e.Addr.Addr()])
			}
		}
	}
	for _, s := range b.lost {
		if g, ok := b.gapNear(s.first, s.origin, s.points[0]); ok && s.arrow.Lost {
			// Not the network's loss: the capture's own.
			s.arrow.Lost = false
			s.c.Lost--
			s.c.Incomplete = incompleteText(g)
		}
	}
	for _, c := range b.l.Conversations {
		if c.Incomplete != "" {
			continue
		}
		for _, g := range b.l.Gaps {
			if !g.To.Before(c.Start.Add(-b.opt.Window)) && !g.From.After(c.End.Add(b.opt.Window)) && b.touches(c, g.Where) {
				c.Incomplete = incompleteText(g)
				break
			}
		}
		if c.Incomplete != "" {
			for _, a := range c.Arrows {
				if a.Lost {
					a.Lost = false
					c.Lost--
				}
				a.Unseen = ""
			}
		}
	}
	return &b.l
}

// touches tells whether a capture point saw any of c's packets.
func (b *Builder) touches(c *Conversation, where string) bool {
	for _, a := range c.Arrows {
		if slices.Contains(a.Seen, where) {
			return true
		}
	}
	return len(c.Arrows) == 0
}

func (b *Builder) gapNear(t time.Time, points ...string) (Gap, bool) {
	for _, g := range b.l.Gaps {
		if slices.Contains(points, g.Where) && !g.To.Before(t.Add(-b.opt.Window)) && !g.From.After(t.Add(b.opt.Window)) {
			return g, true
		}
	}
	return Gap{}, false
}

func incompleteText(g Gap) string {
	return "the capture is incomplete: the kernel dropped " + itoa(g.Dropped) + " packets at " + g.Where +
		" (" + g.From.Format("15:04:05.000") + " to " + g.To.Format("15:04:05.000") + "); packets missing here may have crossed the wire"
}

// event is a TCP send or receipt that changes an end's state.
type event struct {
	t     time.Time
	seq   uint64
	c     *conv
	recv  bool
	end   int // the end whose state it changes
	d     segBits
	icmp  bool
	arrow int
	skip  bool // the packet never arrived
	index int  // in the heap, -1 once applied
}

type evHeap []*event

func (h evHeap) Len() int { return len(h) }
func (h evHeap) Less(i, j int) bool {
	if !h[i].t.Equal(h[j].t) {
		return h[i].t.Before(h[j].t)
	}
	return h[i].seq < h[j].seq
}
func (h evHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *evHeap) Push(x any) {
	e := x.(*event)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *evHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	x.index = -1
	*h = old[:len(old)-1]
	return x
}

func (b *Builder) push(e event) *event {
	b.evSeq++
	e.seq = b.evSeq
	p := &e
	heap.Push(&b.events, p)
	return p
}

// apply runs the state machines on the events that can no longer move:
// those older than twice the window (a receipt's time is known once its
// packet settled), or all of them at the end.
func (b *Builder) apply(all bool) {
	for b.events.Len() > 0 {
		e := b.events[0]
		if !all && b.now.Sub(e.t) <= 2*b.opt.Window {
			return
		}
		heap.Pop(&b.events)
		if e.skip || e.c.tcp == nil {
			continue
		}
		e.c.tcp.apply(e.c, e)
	}
}
