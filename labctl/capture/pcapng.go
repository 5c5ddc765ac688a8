package capture

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Where names the place a packet was seen: a node's interface on a network.
type Where struct {
	Node    string
	Network string
}

// String is "node:network", the pcapng interface name of a merged capture.
func (w Where) String() string { return w.Node + ":" + w.Network }

// Direction tells whether the node sent or received a packet.
type Direction uint8

// Directions, as the helper records them in each packet's pcapng flags.
const (
	DirUnknown Direction = iota
	DirIn
	DirOut
)

// Packet is one captured frame and where it was seen.
type Packet struct {
	Time  time.Time
	Where Where
	Dir   Direction
	// Data is the captured frame (at most the snaplen); Length its size on the wire.
	Data   []byte
	Length int
	// Comments are the pcapng comments of the packet (a step marker has its text here).
	Comments []string
	// Marker is true for an annotation written by Writer.Annotate, not a packet of the lab.
	Marker bool
}

// Stats are one interface's counters from the end of a capture (the
// helper's pcapng interface statistics block).
type Stats struct {
	Where    Where
	Received uint64 // packets the kernel handed to the capture
	Dropped  uint64 // packets the kernel dropped: the capture fell behind
	// At is when the helper took the counters (zero when unknown).
	At time.Time
}

// Gap is a stretch of a capture in which the kernel dropped packets at one
// place before the capture read them: a packet missing there may have
// crossed the wire all the same.
type Gap struct {
	Where    Where
	From, To time.Time
	Dropped  uint64
}

// Overlaps tells whether g touches the time from from to to.
func (g Gap) Overlaps(from, to time.Time) bool { return !g.To.Before(from) && !g.From.After(to) }

// MarkerInterface is the pcapng interface of the annotations (Writer.Annotate).
const MarkerInterface = "labctl"

// markerEtherType marks annotation frames: IEEE 802 local experimental
// EtherType 1, which no lab traffic uses; Wireshark shows it as data.
const markerEtherType = 0x88b5

// Stream reads one pcapng stream: a capture helper's stdout or a merged file.
type Stream struct {
	r        *pcapgo.NgReader
	node     string
	networks map[string]string
	wheres   []Where
	// begun is when reading started; drops are counted from there.
	begun time.Time
	// last are each interface's drops at its latest statistics block.
	last map[int]Stats
	// onStats, when set, gets each statistics block as it is read (the
	// helper writes one whenever the kernel dropped more), with the gap
	// since the one before when there were new drops.
	onStats func(Stats, *Gap)
}

// NewStream starts reading a pcapng stream from r; it blocks until the
// section header and first interface arrive, that is, until the helper is
// capturing. A helper's interfaces are named after the kernel's (eth0):
// networks maps those names to network names, and node names the node
// (an interface missing from networks keeps its kernel name as network).
// With node "", interface names are read as "node:network" (a merged file).
func NewStream(r io.Reader, node string, networks map[string]string) (*Stream, error) {
	s := &Stream{node: node, networks: networks, begun: time.Now(), last: map[int]Stats{}}
	ng, err := pcapgo.NewNgReader(bufio.NewReaderSize(r, 1<<16), pcapgo.NgReaderOptions{StatisticsCallback: s.stats})
	if err != nil {
		return nil, fmt.Errorf("capture: read pcapng of %s: %w", orMerged(node), err)
	}
	s.r = ng
	return s, nil
}

// stats takes a statistics block of interface i as the reader meets it.
func (s *Stream) stats(i int, st pcapgo.NgInterfaceStatistics) {
	if s.r == nil {
		return
	}
	cur := Stats{Where: s.where(i), At: st.LastUpdate}
	if v := st.PacketsReceived; v != pcapgo.NgNoValue64 {
		cur.Received = v
	}
	if v := st.PacketsDropped; v != pcapgo.NgNoValue64 {
		cur.Dropped = v
	}
	prev, ok := s.last[i]
	if !ok {
		prev.At = s.begun
		if !st.StartTime.IsZero() {
			prev.At = st.StartTime
		}
	}
	s.last[i] = cur
	var gap *Gap
	if cur.Dropped > prev.Dropped {
		gap = &Gap{Where: cur.Where, From: prev.At, To: cur.At, Dropped: cur.Dropped - prev.Dropped}
	}
	if s.onStats != nil {
		s.onStats(cur, gap)
	}
}

func orMerged(node string) string {
	if node == "" {
		return "a merged capture"
	}
	return "node " + node
}

// where names interface i of the stream.
func (s *Stream) where(i int) Where {
	for len(s.wheres) <= i {
		s.wheres = append(s.wheres, Where{})
	}
	if s.wheres[i] != (Where{}) {
		return s.wheres[i]
	}
	intf, err := s.r.Interface(i)
	name := fmt.Sprintf("if%d", i)
	if err == nil && intf.Name != "" {
		name = intf.Name
	}
	w := Where{Node: s.node, Network: name}
	switch {
	case s.node == "":
		if node, network, ok := strings.Cut(name, ":"); ok {
			w = Where{Node: node, Network: network}
		} else {
			w = Where{Node: name}
		}
	case s.networks[name] != "":
		w.Network = s.networks[name]
	}
	s.wheres[i] = w
	return w
}

// Next returns the next packet, io.EOF at the end of the stream.
func (s *Stream) Next() (Packet, error) {
	data, ci, opts, err := s.r.ReadPacketDataWithOptions()
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			// A helper killed mid-block leaves a torn last block: the end all the same.
			return Packet{}, io.EOF
		}
		return Packet{}, fmt.Errorf("capture: read pcapng of %s: %w", orMerged(s.node), err)
	}
	p := Packet{Time: ci.Timestamp, Where: s.where(ci.InterfaceIndex), Data: data, Length: ci.Length, Comments: opts.Comments}
	if opts.Flags != nil {
		switch opts.Flags.Direction {
		case pcapgo.NgEpbFlagDirectionInbound:
			p.Dir = DirIn
		case pcapgo.NgEpbFlagDirectionOutbound:
			p.Dir = DirOut
		}
	}
	if p.Where.Node == MarkerInterface || p.Where.Network == MarkerInterface {
		p.Marker = len(data) >= 14 && data[12] == markerEtherType>>8 && data[13] == markerEtherType&0xff
	}
	return p, nil
}

// Stats returns the statistics blocks read so far, one per interface that
// had one; a helper writes them at the end, so call it after io.EOF.
func (s *Stream) Stats() []Stats {
	var out []Stats
	for i := range s.r.NInterfaces() {
		intf, err := s.r.Interface(i)
		if err != nil || intf.Statistics.LastUpdate.IsZero() {
			continue
		}
		st := Stats{Where: s.where(i)}
		if v := intf.Statistics.PacketsReceived; v != pcapgo.NgNoValue64 {
			st.Received = v
		}
		if v := intf.Statistics.PacketsDropped; v != pcapgo.NgNoValue64 {
			st.Dropped = v
		}
		out = append(out, st)
	}
	return out
}

// ReadAll reads a whole pcapng stream (see NewStream for node and networks).
func ReadAll(r io.Reader, node string, networks map[string]string) ([]Packet, []Stats, error) {
	s, err := NewStream(r, node, networks)
	if err != nil {
		return nil, nil, err
	}
	var pkts []Packet
	for {
		p, err := s.Next()
		if errors.Is(err, io.EOF) {
			return pkts, s.Stats(), nil
		}
		if err != nil {
			return pkts, s.Stats(), err
		}
		pkts = append(pkts, p)
	}
}

// Writer writes one pcapng section whose interfaces are named node:network,
// added as packets from new places arrive, so Wireshark's interface column
// says which node saw each packet on which network.
type Writer struct {
	bw  *bufio.Writer
	ng  *pcapgo.NgWriter
	ids map[Where]int
}

// NewWriter writes the section header to w. Call Flush to push what is buffered.
func NewWriter(w io.Writer) (*Writer, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	ng, err := pcapgo.NewNgWriterInterface(bw, pcapgo.NgInterface{
		Name:                MarkerInterface,
		Description:         "labctl annotations: step start and end (packet comments)",
		LinkType:            layers.LinkTypeEthernet,
		TimestampResolution: 9,
	}, pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{OS: "linux", Application: "socketlab labctl"}})
	if err != nil {
		return nil, fmt.Errorf("capture: write pcapng header: %w", err)
	}
	return &Writer{bw: bw, ng: ng, ids: map[Where]int{}}, nil
}

func (w *Writer) id(where Where) (int, error) {
	if id, ok := w.ids[where]; ok {
		return id, nil
	}
	id, err := w.ng.AddInterface(pcapgo.NgInterface{
		Name:                where.String(),
		Description:         fmt.Sprintf("node %s on network %s", where.Node, where.Network),
		LinkType:            layers.LinkTypeEthernet,
		TimestampResolution: 9,
	})
	if err != nil {
		return 0, fmt.Errorf("capture: add interface %s: %w", where, err)
	}
	w.ids[where] = id
	return id, nil
}

// WritePacket writes p on the interface of p.Where, with its direction and comments.
func (w *Writer) WritePacket(p Packet) error {
	id := 0
	if !p.Marker {
		var err error
		if id, err = w.id(p.Where); err != nil {
			return err
		}
	}
	ci := gopacket.CaptureInfo{Timestamp: p.Time, CaptureLength: len(p.Data), Length: max(p.Length, len(p.Data)), InterfaceIndex: id}
	opts := pcapgo.NgPacketOptions{Comments: p.Comments}
	switch p.Dir {
	case DirIn:
		opts.Flags = &pcapgo.NgEpbFlags{Direction: pcapgo.NgEpbFlagDirectionInbound}
	case DirOut:
		opts.Flags = &pcapgo.NgEpbFlags{Direction: pcapgo.NgEpbFlagDirectionOutbound}
	}
	if err := w.ng.WritePacketWithOptions(ci, p.Data, opts); err != nil {
		return fmt.Errorf("capture: write packet of %s: %w", p.Where, err)
	}
	return nil
}

// MarkerPacket is the annotation Annotate writes: a frame on
// MarkerInterface whose comment (and payload) is text. Wireshark lists it in
// time order among the packets; `frame.comment contains "step"` finds them.
func MarkerPacket(t time.Time, text string) Packet {
	data := make([]byte, 14, 14+len(text))
	data[12], data[13] = markerEtherType>>8, markerEtherType&0xff
	data = append(data, text...)
	return Packet{Time: t, Where: Where{Node: MarkerInterface}, Data: data, Length: len(data), Comments: []string{text}, Marker: true}
}

// Annotate writes a marker at time t carrying text, e.g. "step 2 start: sock welcome".
func (w *Writer) Annotate(t time.Time, text string) error {
	return w.WritePacket(MarkerPacket(t, text))
}

// WriteStats writes the statistics block of st's interface (drops seen by the helper).
func (w *Writer) WriteStats(st Stats, end time.Time) error {
	id, err := w.id(st.Where)
	if err != nil {
		return err
	}
	return w.ng.WriteInterfaceStats(id, pcapgo.NgInterfaceStatistics{
		LastUpdate: end, EndTime: end, PacketsReceived: st.Received, PacketsDropped: st.Dropped,
	})
}

// Flush writes what is buffered to the underlying writer.
func (w *Writer) Flush() error {
	return errors.Join(w.ng.Flush(), w.bw.Flush())
}
