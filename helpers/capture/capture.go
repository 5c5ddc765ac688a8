// Package capture is the capture helper that labctl runs in a node's network
// namespace: it reads every packet of the namespace's interfaces from
// AF_PACKET rings (TPACKET_V3, pure Go) and streams them as pcapng, one
// pcapng interface per network interface, to its standard output.
//
// The contract with the caller (labctl):
//   - stdout is one pcapng section: a section header and one interface
//     description block per captured interface, flushed as soon as every
//     socket is open (so reading the header means the capture is live), then
//     enhanced packet blocks, flushed at least every FlushInterval, then, at
//     the end, one interface statistics block per interface (packets the
//     kernel saw, packets it dropped because the ring was full); and,
//     during the capture, one more statistics block for an interface each
//     time the kernel dropped more of its packets (checked every
//     FlushInterval), so that a reader knows when the capture fell behind,
//     not only that it did.
//   - stderr carries JSON lines: {"event":"start",...} once the capture is
//     live, {"event":"end",...} with the drop counts at the end; a failure is
//     one plain line "capture: ..." and exit status 1; bad usage, status 2.
//   - the capture ends on SIGTERM or SIGINT (the context), after --count
//     packets or after --duration, always with the statistics written.
package capture

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	decode "socketlab/internal/packet"
)

// FlushInterval is the longest a captured packet waits in the helper's
// buffer before it is written to stdout, so that a live view keeps up.
const FlushInterval = 50 * time.Millisecond

// DefaultSnaplen is the most bytes kept of each packet: libpcap's maximum,
// which holds a whole segmentation-offload super-packet.
const DefaultSnaplen = 262144

// Config is what one capture does. The zero value captures every interface
// that is up (except loopback), whole packets, until the context ends.
type Config struct {
	// Interfaces to capture; empty means every interface that is up, except loopback.
	Interfaces []string
	// Snaplen is the most bytes kept of each packet (0: DefaultSnaplen).
	Snaplen int
	// Count stops the capture after this many packets were written (0: no limit).
	Count int
	// Duration stops the capture after this long (0: no limit).
	Duration time.Duration
	// Filter keeps only the packets that match (see internal/packet.ParseFilter).
	Filter *decode.Filter
	// RingMiB is the size of each interface's kernel ring in MiB (0: 32).
	RingMiB int
}

// InterfaceStats are one interface's counters at the end of a capture.
type InterfaceStats struct {
	Name string `json:"name"`
	// Received is what the kernel handed to the socket (PACKET_STATISTICS
	// tp_packets; at least the packets read from the ring).
	Received uint64 `json:"received"`
	// Dropped is what the kernel dropped because the ring was full (tp_drops).
	Dropped uint64 `json:"dropped"`
	// Written is what was written to stdout (after the filter).
	Written uint64 `json:"written"`
}

// Result is the end-of-capture report, the {"event":"end"} line on stderr.
type Result struct {
	Event string `json:"event"`
	// Reason is why the capture ended: "signal", "count", "duration" or "error".
	Reason     string           `json:"reason"`
	Received   uint64           `json:"received"`
	Dropped    uint64           `json:"dropped"`
	Written    uint64           `json:"written"`
	Interfaces []InterfaceStats `json:"interfaces"`
	Error      string           `json:"error,omitempty"`
}

// iface is one captured interface: its ring and its counters.
type iface struct {
	id      int // pcapng interface id
	name    string
	mac     net.HardwareAddr
	tp      *afpacket.TPacket
	written uint64
	// dropped is the kernel's drop count at the last statistics block written.
	dropped uint64
}

// Capture runs cfg, writing pcapng to out, and reports progress lines to
// events (the start line once live). It returns when ctx ends, the count or
// duration is reached, or a read or write fails.
func Capture(ctx context.Context, cfg Config, out io.Writer, events io.Writer) (Result, error) {
	if cfg.Snaplen <= 0 {
		cfg.Snaplen = DefaultSnaplen
	}
	if cfg.RingMiB <= 0 {
		cfg.RingMiB = 32
	}
	names, err := pick(cfg.Interfaces)
	if err != nil {
		return Result{}, err
	}
	var ifs []*iface
	defer func() {
		for _, f := range ifs {
			f.tp.Close()
		}
	}()
	for i, name := range names {
		f, err := open(name, cfg)
		if err != nil {
			return Result{}, err
		}
		f.id = i
		ifs = append(ifs, f)
	}

	widenPipe(out)
	bw := bufio.NewWriterSize(out, 1<<20)
	ng, err := newWriter(bw, ifs, cfg)
	if err != nil {
		return Result{}, err
	}
	if err := errors.Join(ng.Flush(), bw.Flush()); err != nil {
		return Result{}, fmt.Errorf("capture: write pcapng header: %w", err)
	}
	startTime := time.Now()
	emit(events, startLine(ifs, cfg))

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if cfg.Duration > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, cfg.Duration, errDuration)
		defer stop()
	}

	var (
		mu    sync.Mutex // guards ng, bw, total, dirty
		total uint64
		dirty bool
		wg    sync.WaitGroup
	)
	write := func(f *iface, data []byte, ci gopacket.CaptureInfo) error {
		mu.Lock()
		defer mu.Unlock()
		if cfg.Count > 0 && total >= uint64(cfg.Count) {
			return nil
		}
		ci.InterfaceIndex = f.id
		opts := inbound
		if len(data) >= 12 && string(data[6:12]) == string(f.mac) {
			opts = outbound
		}
		if err := ng.WritePacketWithOptions(ci, data, opts); err != nil {
			return fmt.Errorf("capture: write packet: %w", err)
		}
		f.written++
		total++
		dirty = true
		if cfg.Count > 0 && total >= uint64(cfg.Count) {
			cancel(errCount)
		}
		return nil
	}
	for _, f := range ifs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := read(ctx, f, cfg, write); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(FlushInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			mu.Lock()
			var err error
			for _, f := range ifs {
				wrote, werr := dropsBlock(ng, f, startTime)
				err = errors.Join(err, werr)
				dirty = dirty || wrote
			}
			if dirty {
				err = errors.Join(err, ng.Flush(), bw.Flush())
				dirty = false
			}
			mu.Unlock()
			if err != nil {
				cancel(fmt.Errorf("capture: write to stdout: %w", err))
				return
			}
		}
	}()
	<-ctx.Done()
	wg.Wait()

	res := Result{Event: "end", Reason: "signal"}
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, errCount):
		res.Reason = "count"
	case errors.Is(cause, errDuration):
		res.Reason = "duration"
	case errors.Is(cause, context.Canceled):
	default:
		res.Reason, res.Error = "error", cause.Error()
	}
	end := time.Now()
	var statErr error
	for _, f := range ifs {
		_, s3, err := f.tp.SocketStats()
		statErr = errors.Join(statErr, err)
		// The kernel's count starts when the ring is ready (afpacket clears
		// it then), but a packet may reach the ring just before: every
		// packet read was received, so Received is at least those read.
		seen, _ := f.tp.Stats()
		received := max(uint64(s3.Packets()), uint64(seen.Packets))
		st := InterfaceStats{Name: f.name, Received: received, Dropped: uint64(s3.Drops()), Written: f.written}
		res.Interfaces = append(res.Interfaces, st)
		res.Received += st.Received
		res.Dropped += st.Dropped
		res.Written += st.Written
		statErr = errors.Join(statErr, ng.WriteInterfaceStats(f.id, pcapgo.NgInterfaceStatistics{
			LastUpdate: end, StartTime: startTime, EndTime: end,
			PacketsReceived: st.Received, PacketsDropped: st.Dropped,
		}))
	}
	if err := errors.Join(statErr, ng.Flush(), bw.Flush()); err != nil && res.Error == "" {
		res.Reason, res.Error = "error", err.Error()
	}
	emit(events, res)
	if res.Reason == "error" {
		return res, errors.New(res.Error)
	}
	return res, nil
}

// widenPipe grows out's pipe buffer, when out is a pipe, from 64 KiB to
// the 1 MiB of the helper's own buffer: a flush then wakes the reader once,
// not sixteen times, and the helper blocks less on a slow reader while the
// ring fills.
func widenPipe(out io.Writer) {
	if f, ok := out.(interface{ Fd() uintptr }); ok {
		_, _ = unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, 1<<20)
	}
}

// dropsBlock writes a statistics block for f when the kernel dropped more
// of its packets since the last one: the reader learns when it happened.
func dropsBlock(ng *pcapgo.NgWriter, f *iface, start time.Time) (bool, error) {
	_, s3, err := f.tp.SocketStats()
	if err != nil || uint64(s3.Drops()) <= f.dropped {
		return false, nil
	}
	f.dropped = uint64(s3.Drops())
	seen, _ := f.tp.Stats()
	now := time.Now()
	if err := ng.WriteInterfaceStats(f.id, pcapgo.NgInterfaceStatistics{
		LastUpdate: now, StartTime: start,
		PacketsReceived: max(uint64(s3.Packets()), uint64(seen.Packets)), PacketsDropped: f.dropped,
	}); err != nil {
		return false, fmt.Errorf("capture: write statistics: %w", err)
	}
	return true, nil
}

// The direction options of a packet block, made once: not one allocation
// per packet.
var (
	inbound  = pcapgo.NgPacketOptions{Flags: &pcapgo.NgEpbFlags{Direction: pcapgo.NgEpbFlagDirectionInbound}}
	outbound = pcapgo.NgPacketOptions{Flags: &pcapgo.NgEpbFlags{Direction: pcapgo.NgEpbFlagDirectionOutbound}}
)

var (
	errCount    = errors.New("count reached")
	errDuration = errors.New("duration reached")
)

// pick returns the interfaces to capture: those named (which must exist), or
// every interface that is up except loopback, sorted by name.
func pick(named []string) ([]string, error) {
	all, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("capture: list interfaces: %w", err)
	}
	if len(named) > 0 {
		have := map[string]bool{}
		var list []string
		for _, i := range all {
			have[i.Name] = true
			list = append(list, i.Name)
		}
		for _, n := range named {
			if !have[n] {
				return nil, fmt.Errorf("capture: no interface %q in this network namespace (there are: %s)", n, strings.Join(list, ", "))
			}
		}
		return named, nil
	}
	var names []string
	for _, i := range all {
		if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagLoopback == 0 {
			names = append(names, i.Name)
		}
	}
	if len(names) == 0 {
		return nil, errors.New("capture: no interface is up in this network namespace except loopback; name one with --interface")
	}
	sort.Strings(names)
	return names, nil
}

// BlockTimeout is how long the kernel fills a ring block before it hands
// it over however full: the longest a captured packet waits in the ring.
const BlockTimeout = 25 * time.Millisecond

// blockSize is the TPACKET_V3 block for a snaplen: the unit in which the
// kernel hands packets over, and the largest packet the ring holds whole.
// Small blocks make many of them: a ring of n blocks hands over at least one
// every BlockTimeout, so it rides out n×BlockTimeout of a helper kept off
// the CPU (32 MiB: 128 blocks, 3.2 s) where 32 blocks of 1 MiB rode out
// 320 ms at 10 ms each and dropped packets of a slow stream on a busy host.
func blockSize(snaplen int) int {
	b := 256 << 10
	for b < 2*(snaplen+4096) {
		b <<= 1
	}
	return b
}

// open makes the ring of one interface. A classic BPF program that returns
// the snaplen makes the kernel truncate packets before they enter the ring.
func open(name string, cfg Config) (*iface, error) {
	ni, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("capture: interface %s: %w", name, err)
	}
	bs := blockSize(cfg.Snaplen)
	blocks := max(cfg.RingMiB*(1<<20)/bs, 2)
	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(name),
		afpacket.TPacketVersion3,
		afpacket.OptFrameSize(1<<16),
		afpacket.OptBlockSize(bs),
		afpacket.OptNumBlocks(blocks),
		afpacket.OptBlockTimeout(BlockTimeout),
		afpacket.OptPollTimeout(100*time.Millisecond),
	)
	if err != nil {
		if errors.Is(err, os.ErrPermission) || strings.Contains(err.Error(), "operation not permitted") {
			return nil, fmt.Errorf("capture: open a packet socket on %s: %w (the helper needs CAP_NET_RAW: docker run --cap-add NET_RAW)", name, err)
		}
		return nil, fmt.Errorf("capture: open a packet socket on %s: %w", name, err)
	}
	prog, err := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: uint32(cfg.Snaplen)}})
	if err == nil {
		err = tp.SetBPF(prog)
	}
	if err != nil {
		tp.Close()
		return nil, fmt.Errorf("capture: set the snap length on %s: %w", name, err)
	}
	return &iface{name: name, mac: ni.HardwareAddr, tp: tp}, nil
}

// read hands every packet of f's ring to write until ctx ends.
func read(ctx context.Context, f *iface, cfg Config, write func(*iface, []byte, gopacket.CaptureInfo) error) error {
	for ctx.Err() == nil {
		data, ci, err := f.tp.ZeroCopyReadPacketData()
		switch {
		case errors.Is(err, afpacket.ErrTimeout):
			continue
		case err != nil:
			return fmt.Errorf("capture: read %s: %w", f.name, err)
		}
		if cfg.Filter != nil && !matches(cfg.Filter, data) {
			continue
		}
		if err := write(f, data, ci); err != nil {
			return err
		}
	}
	return nil
}

func newWriter(w io.Writer, ifs []*iface, cfg Config) (*pcapgo.NgWriter, error) {
	opts := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{
		OS: "linux", Application: "socketlab capture helper",
	}}
	var ng *pcapgo.NgWriter
	for i, f := range ifs {
		intf := pcapgo.NgInterface{
			Name:                f.name,
			Description:         describe(f),
			OS:                  "linux",
			LinkType:            layers.LinkTypeEthernet,
			SnapLength:          uint32(cfg.Snaplen),
			TimestampResolution: 9,
		}
		if cfg.Filter != nil {
			intf.Filter = cfg.Filter.String()
		}
		var err error
		if i == 0 {
			ng, err = pcapgo.NewNgWriterInterface(w, intf, opts)
		} else {
			_, err = ng.AddInterface(intf)
		}
		if err != nil {
			return nil, fmt.Errorf("capture: write pcapng header: %w", err)
		}
	}
	return ng, nil
}

// describe names an interface's MAC and addresses, for the pcapng description.
func describe(f *iface) string {
	parts := []string{f.mac.String()}
	if ni, err := net.InterfaceByName(f.name); err == nil {
		if addrs, err := ni.Addrs(); err == nil {
			for _, a := range addrs {
				parts = append(parts, a.String())
			}
		}
	}
	return strings.Join(parts, " ")
}

type startInfo struct {
	Event      string      `json:"event"`
	Snaplen    int         `json:"snaplen"`
	Filter     string      `json:"filter,omitempty"`
	Interfaces []startIntf `json:"interfaces"`
}

type startIntf struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

func startLine(ifs []*iface, cfg Config) startInfo {
	s := startInfo{Event: "start", Snaplen: cfg.Snaplen}
	if cfg.Filter != nil {
		s.Filter = cfg.Filter.String()
	}
	for _, f := range ifs {
		s.Interfaces = append(s.Interfaces, startIntf{ID: f.id, Name: f.name, Description: describe(f)})
	}
	return s
}

func emit(w io.Writer, v any) {
	b, _ := json.Marshal(v)
	_, _ = w.Write(append(b, '\n'))
}

// matches tells whether the frame data passes filter f.
func matches(f *decode.Filter, data []byte) bool {
	d := decode.Decode(data)
	return f.Match(&d)
}
