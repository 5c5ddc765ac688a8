// Package shaper impairs the egress of network interfaces in the network
// namespace it runs in, with the kernel's netem qdisc where the kernel has
// it, and otherwise with the fallback: duplication at the nftables netdev
// egress hook, rate by TBF, and delay, jitter, loss, reordering and
// corruption in a user-space NFQUEUE delay line. Loss is the line's, not a
// drop at the egress hook: the kernel reports an egress drop to the sending
// socket (NET_XMIT_DROP), which UDP ignores but TCP takes for local
// congestion and sends again from its queue, so the segment is never lost on
// the wire and never retransmitted; a drop verdict on a queued packet is
// silent, as on a real link. The fallback fails open:
// the queue rule has the bypass flag and lives in a table the kernel deletes
// when the helper's netlink socket closes, so a dead helper leaves the link
// passing traffic.
package shaper

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"

	nfqueue "github.com/florianl/go-nfqueue/v2"
	"github.com/mdlayher/netlink"
	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"socketlab/helpers/impair/shape"
)

// ErrUnsupported is wrapped by errors of settings that neither mechanism of
// this kernel can carry out; the message names what is missing.
var ErrUnsupported = errors.New("not supported by this kernel")

// Probe finds out what the kernel of this network namespace offers, by
// trying each piece on the loopback interface and taking it away again.
func Probe() shape.Probe {
	var p shape.Probe
	lo, err := vnl.LinkByName("lo")
	if err == nil {
		p.Netem = tryQdisc(netemQdisc(shape.Settings{Delay: 1}, lo.Attrs().Index))
		p.TBF = tryQdisc(tbfQdisc(shape.MinRate*1000, lo.Attrs().Index))
		p.NetdevEgress = tryRules(plan{dev: "lo", ifindex: lo.Attrs().Index, egress: egressRules(shape.Settings{Loss: 0.0001, Duplicate: 0.0001}, lo.Attrs().Index)})
		p.NFQueue = tryRules(plan{dev: "lo", ifindex: lo.Attrs().Index, queue: queueRule(lo.Attrs().Index, 65535)}) && tryQueue(65535)
	}
	switch {
	case p.Netem:
		p.Mechanism = shape.MechanismNetem
	case p.TBF && p.NetdevEgress && p.NFQueue:
		p.Mechanism = shape.MechanismFallback
	}
	if p.Mechanism == "" {
		p.Missing = append(p.Missing, "sch_netem")
		for _, m := range []struct {
			ok   bool
			what string
		}{{p.TBF, "sch_tbf"}, {p.NetdevEgress, "nftables netdev egress hook (nf_tables, numgen, dup_netdev)"}, {p.NFQueue, "nfnetlink_queue with the xtables NFQUEUE target (nft_compat, xt_NFQUEUE)"}} {
			if !m.ok {
				p.Missing = append(p.Missing, m.what)
			}
		}
	}
	return p
}

// tryQdisc tells whether q can be added (it is deleted again). It is only
// tried on an interface without a root qdisc of its own.
func tryQdisc(q vnl.Qdisc) bool {
	if qs, err := vnl.QdiscList(&vnl.Dummy{LinkAttrs: vnl.LinkAttrs{Index: q.Attrs().LinkIndex}}); err != nil || rootQdisc(qs) {
		return false
	}
	if err := vnl.QdiscAdd(q); err != nil {
		return false
	}
	_ = vnl.QdiscDel(q)
	return true
}

// rootQdisc tells whether qs has a root qdisc other than the default.
func rootQdisc(qs []vnl.Qdisc) bool {
	for _, q := range qs {
		if q.Attrs().Parent == vnl.HANDLE_ROOT && q.Attrs().Handle != 0 {
			return true
		}
	}
	return false
}

// tryRules tells whether the tables of p can be made (they are deleted
// again, under a name of the probing process's own).
func tryRules(p plan) bool {
	p.table = fmt.Sprintf("socketlab_impair_probe%d", os.Getpid())
	msgs, err := p.messages()
	if err != nil {
		return false
	}
	o, err := dialOwned()
	if err != nil {
		return false
	}
	defer o.Close()
	if err := o.send(msgs); err != nil {
		return false
	}
	for _, m := range deleteMessages(p.table) {
		_ = o.send([]netlink.Message{m})
	}
	return true
}

// tryQueue tells whether an NFQUEUE socket can bind queue q.
func tryQueue(q uint16) bool {
	nf, err := nfqueue.Open(&nfqueue.Config{NfQueue: q, Copymode: nfqueue.NfQnlCopyMeta})
	if err != nil {
		return false
	}
	defer nf.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	return nf.RegisterWithErrorFunc(ctx, func(nfqueue.Attribute) int { return 0 }, func(error) int { return 1 }) == nil
}

// Interface finds an interface by name or by MAC address (as Docker reports
// a container's endpoint), so a caller need not know the name it has inside.
func Interface(nameOrMAC string) (vnl.Link, error) {
	if mac, err := net.ParseMAC(nameOrMAC); err == nil {
		links, err := vnl.LinkList()
		if err != nil {
			return nil, fmt.Errorf("list interfaces: %w", err)
		}
		for _, l := range links {
			if l.Attrs().HardwareAddr.String() == mac.String() {
				return l, nil
			}
		}
		return nil, fmt.Errorf("no interface has MAC address %s here (see ip link)", mac)
	}
	l, err := vnl.LinkByName(nameOrMAC)
	if err != nil {
		return nil, fmt.Errorf("no interface %q here (see ip link): %w", nameOrMAC, err)
	}
	return l, nil
}

// Shaper impairs interfaces until Close. Its zero value is not usable: use New.
type Shaper struct {
	probe shape.Probe
	own   *ownedConn // owns the fallback's tables
	mu    sync.Mutex
	ifs   []*impaired
}

// impaired is one interface impaired by a Shaper.
type impaired struct {
	link   vnl.Link
	s      shape.Settings
	mech   string
	qdisc  vnl.Qdisc // installed root qdisc, nil if none
	tables bool
	line   *delayLine
	nf     *nfqueue.Nfqueue
	stop   context.CancelFunc
	done   chan struct{}
}

// New probes the kernel and returns a Shaper for this network namespace.
func New() (*Shaper, error) {
	p := Probe()
	own, err := dialOwned()
	if err != nil {
		return nil, err
	}
	return &Shaper{probe: p, own: own}, nil
}

// Probe is what New found the kernel offers.
func (sh *Shaper) Probe() shape.Probe { return sh.probe }

// Apply impairs the egress of link with s, replacing its root qdisc. On
// error nothing of this call is left in place. It returns the mechanism used.
func (sh *Shaper) Apply(link vnl.Link, s shape.Settings) (string, error) {
	if err := s.Validate(); err != nil {
		return "", err
	}
	im := &impaired{link: link, s: s}
	var err error
	switch {
	case sh.probe.Netem:
		im.mech = shape.MechanismNetem
		err = im.applyNetem()
	default:
		im.mech = shape.MechanismFallback
		if err = sh.supported(s); err == nil {
			err = im.applyFallback(sh.own)
		}
	}
	if err != nil {
		im.revert(sh.own)
		return "", fmt.Errorf("impair %s: %w", link.Attrs().Name, err)
	}
	sh.mu.Lock()
	sh.ifs = append(sh.ifs, im)
	sh.mu.Unlock()
	return im.mech, nil
}

// supported says which part of the fallback s needs and the kernel lacks.
func (sh *Shaper) supported(s shape.Settings) error {
	var missing []string
	p := sh.probe
	if s.Rate > 0 && !p.TBF {
		missing = append(missing, "rate needs sch_tbf")
	}
	if s.Duplicate > 0 && !p.NetdevEgress {
		missing = append(missing, "duplicate needs the nftables netdev egress hook")
	}
	if needsLine(s) && !p.NFQueue {
		missing = append(missing, "delay, jitter, loss, reorder and corrupt need nfnetlink_queue and the NFQUEUE target")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: no sch_netem, and %s", ErrUnsupported, strings.Join(missing, "; "))
	}
	return nil
}

func (im *impaired) applyNetem() error {
	q := netemQdisc(im.s, im.link.Attrs().Index)
	if err := vnl.QdiscReplace(q); err != nil {
		return fmt.Errorf("add netem qdisc: %w", err)
	}
	im.qdisc = q
	return nil
}

func (im *impaired) applyFallback(own *ownedConn) error {
	idx := im.link.Attrs().Index
	if im.s.Rate > 0 {
		q := tbfQdisc(im.s.Rate, idx)
		if err := vnl.QdiscReplace(q); err != nil {
			return fmt.Errorf("add tbf qdisc for rate %s: %w", im.s.Rate, err)
		}
		im.qdisc = q
	}
	// Loss is the delay line's: a drop at the egress hook would be reported
	// to TCP, which sends the segment again before it ever left.
	eg := im.s
	eg.Loss = 0
	p := plan{table: tableName(im.link.Attrs().Name), dev: im.link.Attrs().Name, ifindex: idx, egress: egressRules(eg, idx)}
	if needsLine(im.s) {
		if idx > 0xffff {
			return fmt.Errorf("interface index %d is above the highest queue number 65535", idx)
		}
		if err := im.startLine(uint16(idx)); err != nil {
			return err
		}
		p.queue = queueRule(idx, uint16(idx))
	}
	msgs, err := p.messages()
	if err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	if err := own.send(msgs); err != nil {
		return fmt.Errorf("add nftables rules: %w", err)
	}
	im.tables = true
	return nil
}

// queueLen is the kernel's limit of packets held for the delay line:
// 200 ms of 50k packets/s, with room to spare.
const queueLen = 65536

// startLine binds NFQUEUE queue q and starts the delay line reading it.
func (im *impaired) startLine(q uint16) error {
	cfg := &nfqueue.Config{NfQueue: q, MaxQueueLen: queueLen, Copymode: nfqueue.NfQnlCopyMeta,
		// Fail open: past queueLen the kernel passes packets instead of dropping them.
		Flags: nfqueue.NfQaCfgFlagFailOpen}
	if im.s.Corrupt > 0 {
		cfg.Copymode, cfg.MaxPacketLen = nfqueue.NfQnlCopyPacket, 0xffff
	}
	nf, err := nfqueue.Open(cfg)
	if err != nil {
		return fmt.Errorf("open nfqueue %d: %w", q, err)
	}
	_ = nf.SetOption(netlink.NoENOBUFS, true)
	_ = nf.Con.SetReadBuffer(8 << 20)
	im.nf = nf
	im.line = newDelayLine(im.s, queueVerdicter{nf})
	ctx, cancel := context.WithCancel(context.Background())
	err = nf.RegisterWithErrorFunc(ctx, func(a nfqueue.Attribute) int {
		if a.PacketID == nil {
			return 0
		}
		var pkt []byte
		if a.Payload != nil {
			pkt = *a.Payload
		}
		im.line.Add(*a.PacketID, pkt)
		return 0
	}, func(err error) int {
		if ctx.Err() != nil {
			return 1
		}
		return 0 // e.g. ENOBUFS: keep reading; the kernel bypasses what it could not queue
	})
	if err != nil {
		cancel()
		return fmt.Errorf("bind nfqueue %d: %w", q, err)
	}
	im.stop = cancel
	im.done = make(chan struct{})
	go func() { defer close(im.done); im.line.run(ctx) }()
	return nil
}

// revert takes away everything im installed: first the rules (no new
// packets queued), then the delay line (held packets released), then the
// qdisc.
func (im *impaired) revert(own *ownedConn) error {
	var errs []error
	if im.tables {
		for _, m := range deleteMessages(tableName(im.link.Attrs().Name)) {
			if err := own.send([]netlink.Message{m}); err != nil && !isNoTable(err) {
				errs = append(errs, fmt.Errorf("delete nftables table: %w", err))
			}
		}
		im.tables = false
	}
	if im.stop != nil {
		im.stop()
		<-im.done
		im.stop = nil
	}
	if im.nf != nil {
		_ = im.nf.Close()
		im.nf = nil
	}
	if im.qdisc != nil {
		if err := vnl.QdiscDel(im.qdisc); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
			errs = append(errs, fmt.Errorf("delete %s qdisc: %w", im.qdisc.Type(), err))
		}
		im.qdisc = nil
	}
	return errors.Join(errs...)
}

// Applied is an interface a Shaper impairs, and its delay line's counters
// (nil with netem or without a delay line).
type Applied struct {
	Interface string
	Mechanism string
	Settings  shape.Settings
	Stats     *shape.Stats
}

// Applied lists what sh impairs now.
func (sh *Shaper) Applied() []Applied {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	out := make([]Applied, len(sh.ifs))
	for i, im := range sh.ifs {
		out[i] = Applied{Interface: im.link.Attrs().Name, Mechanism: im.mech, Settings: im.s}
		if im.line != nil {
			out[i].Stats = im.line.stats()
		}
	}
	return out
}

// Close reverts every interface sh impairs and closes its sockets. It
// returns what each interface's line did, in the order of Apply.
func (sh *Shaper) Close() ([]Applied, error) {
	sh.mu.Lock()
	ifs := sh.ifs
	sh.ifs = nil
	sh.mu.Unlock()
	var errs []error
	out := make([]Applied, len(ifs))
	for i, im := range ifs {
		errs = append(errs, im.revert(sh.own))
		out[i] = Applied{Interface: im.link.Attrs().Name, Mechanism: im.mech, Settings: im.s}
		if im.line != nil {
			out[i].Stats = im.line.stats()
		}
	}
	errs = append(errs, sh.own.Close())
	return out, errors.Join(errs...)
}

// Clear removes what any helper left on link: its nftables tables and its
// root qdisc. Tables still owned by a running helper cannot be removed
// (the kernel answers EPERM): stop that helper, which reverts them.
func Clear(link vnl.Link) error {
	name := link.Attrs().Name
	o, err := dialOwned()
	if err != nil {
		return err
	}
	defer o.Close()
	var errs []error
	for _, m := range deleteMessages(tableName(name)) {
		err := o.send([]netlink.Message{m})
		switch {
		case err == nil || isNoTable(err):
		case errors.Is(err, unix.EPERM):
			errs = append(errs, fmt.Errorf("clear %s: its rules belong to a running impair helper: stop it (SIGTERM) and it reverts them", name))
		default:
			errs = append(errs, fmt.Errorf("clear %s: delete nftables table: %w", name, err))
		}
	}
	qs, err := vnl.QdiscList(link)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("clear %s: list qdiscs: %w", name, err))...)
	}
	for _, q := range qs {
		if isOurs(q) {
			if err := vnl.QdiscDel(q); err != nil {
				errs = append(errs, fmt.Errorf("clear %s: delete %s qdisc: %w", name, q.Type(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// queueVerdicter gives packets back through an NFQUEUE socket.
type queueVerdicter struct{ nf *nfqueue.Nfqueue }

func (q queueVerdicter) accept(id uint32) error { return q.nf.SetVerdict(id, nfqueue.NfAccept) }
func (q queueVerdicter) acceptUpTo(id uint32) error {
	return q.nf.SetVerdictBatch(id, nfqueue.NfAccept)
}
func (q queueVerdicter) acceptModified(id uint32, pkt []byte) error {
	return q.nf.SetVerdictWithOption(id, nfqueue.NfAccept, nfqueue.WithAlteredPacket(pkt))
}
func (q queueVerdicter) acceptMarked(id uint32, mark uint32) error {
	return q.nf.SetVerdictWithOption(id, nfqueue.NfAccept, nfqueue.WithMark(mark))
}
func (q queueVerdicter) drop(id uint32) error { return q.nf.SetVerdict(id, nfqueue.NfDrop) }

// needsLine tells whether the fallback needs the user-space delay line for
// s: to hold or rewrite packets, and to lose them (see delayLine.Add).
func needsLine(s shape.Settings) bool { return s.NeedsQueue() || s.Loss > 0 }
