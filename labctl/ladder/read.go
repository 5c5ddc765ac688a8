package ladder

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"socketlab/internal/packet"
)

// ErrFormat is the error of a stream that is neither pcap nor pcapng.
var ErrFormat = errors.New("not a pcap or pcapng capture")

// Read builds the ladder of a pcap or pcapng stream, reading it once, in
// order, without holding it: labctl's own captures (interfaces named
// node:network, directions, the kernel's drops), tshark's and tcpdump's
// (Ethernet, Linux cooked v1 and v2, raw IP).
func Read(r io.Reader, opt Options) (*Ladder, error) {
	b := NewBuilder(opt)
	if err := b.AddCapture(r); err != nil {
		return nil, err
	}
	return b.Finish(), nil
}

// AddCapture adds every frame of a pcap or pcapng stream to b, and the
// capture's statistics (drops) as gaps.
func (b *Builder) AddCapture(r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, err := br.Peek(4)
	if err != nil {
		return fmt.Errorf("ladder: read capture: %w", ErrFormat)
	}
	switch binary.LittleEndian.Uint32(magic) {
	case 0x0a0d0d0a:
		return b.readNg(br)
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		return b.readPcap(br)
	}
	return fmt.Errorf("ladder: read capture: %w (it starts with % x; give a .pcap or .pcapng file, as labctl capture -w, tshark -w or tcpdump -w write)", ErrFormat, magic)
}

func (b *Builder) readPcap(r io.Reader) error {
	pr, err := pcapgo.NewReader(r)
	if err != nil {
		return fmt.Errorf("ladder: read pcap: %w", err)
	}
	link := packet.Link(pr.LinkType())
	if !link.Known() {
		return fmt.Errorf("ladder: read pcap: link type %d is not one ladder reads (Ethernet, Linux cooked, raw IP)", link)
	}
	for {
		data, ci, err := pr.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("ladder: read pcap: %w", err)
		}
		b.Add(Frame{Time: ci.Timestamp, Where: "capture", Link: link, Data: data})
	}
}

// ifaceStats follows one pcapng interface's statistics: each block with
// more drops than the one before is a gap since that one.
type ifaceStats struct {
	at      time.Time
	dropped uint64
}

func (b *Builder) readNg(r io.Reader) error {
	var (
		ng    *pcapgo.NgReader
		prev  = map[int]ifaceStats{}
		names = map[int]string{}
	)
	name := func(i int) string {
		if n, ok := names[i]; ok {
			return n
		}
		n := fmt.Sprintf("if%d", i)
		if intf, err := ng.Interface(i); err == nil && intf.Name != "" {
			n = intf.Name
		}
		names[i] = n
		return n
	}
	opts := pcapgo.NgReaderOptions{WantMixedLinkType: true, StatisticsCallback: func(i int, st pcapgo.NgInterfaceStatistics) {
		where := name(i)
		p, ok := prev[i]
		if !ok {
			p.at = st.StartTime
			if p.at.IsZero() {
				p.at = b.l.Start
			}
		}
		if st.PacketsDropped != pcapgo.NgNoValue64 && st.PacketsDropped > p.dropped {
			b.AddGap(Gap{Where: where, From: p.at, To: st.LastUpdate, Dropped: st.PacketsDropped - p.dropped})
			p.dropped = st.PacketsDropped
		}
		p.at = st.LastUpdate
		prev[i] = p
		end := st.EndTime
		if end.IsZero() {
			end = st.LastUpdate
		}
		b.CaptureEnd(where, end)
	}}
	ng, err := pcapgo.NewNgReader(r, opts)
	if err != nil {
		return fmt.Errorf("ladder: read pcapng: %w", err)
	}
	for {
		data, ci, popts, err := ng.ZeroCopyReadPacketDataWithOptions()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("ladder: read pcapng: %w", err)
		}
		f := Frame{Time: ci.Timestamp, Where: name(ci.InterfaceIndex), Data: data, Link: packet.LinkEthernet}
		if intf, err := ng.Interface(ci.InterfaceIndex); err == nil {
			f.Link = packet.Link(intf.LinkType)
		}
		if popts.Flags != nil {
			switch popts.Flags.Direction {
			case pcapgo.NgEpbFlagDirectionInbound:
				f.Dir = DirIn
			case pcapgo.NgEpbFlagDirectionOutbound:
				f.Dir = DirOut
			}
		}
		b.Add(f)
	}
}

// nodeOf is the node of a capture point named node:network, "" otherwise.
func nodeOf(where string) string {
	if node, _, ok := strings.Cut(where, ":"); ok {
		return node
	}
	return ""
}
