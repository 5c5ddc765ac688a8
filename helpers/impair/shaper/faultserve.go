package shaper

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	nfqueue "github.com/florianl/go-nfqueue/v2"
	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"github.com/mdlayher/netlink"
	vnl "github.com/vishvananda/netlink"

	"socketlab/helpers/impair/shape"
)

// Faults aimed at single packets run in a delay line of their own, on
// every kernel (netem cannot pick one packet): one helper per interface
// queues what the interface sends (postrouting, priority 250) and, once a
// fault asks for it, what it receives (prerouting, priority -150), to the
// queue faultQueue(ifindex). An impairment's queue (priority 300) comes
// after, so a packet meets the faults first and the impairment second.
// Like the impairment's, the tables belong to the helper's netlink socket
// and the rules bypass the queue when nobody listens: a dead helper leaves
// the link passing traffic. The helper listens on an abstract unix socket
// of the network namespace (faultSocket) for faults to add and questions
// about what they did.

// faultTable names the tables of the faults on interface dev.
func faultTable(dev string) string { return "socketlab_fault_" + dev }

// faultSocket is the abstract unix socket of the helper serving dev.
func faultSocket(dev string) string { return "@socketlab-fault-" + dev }

// faultQueue is the NFQUEUE number of the faults on interface ifindex:
// above the impairment's (ifindex itself).
func faultQueue(ifindex int) (uint16, error) {
	if ifindex <= 0 || ifindex >= 0x8000 {
		return 0, fmt.Errorf("interface index %d: faults need one below 32768 (their queue is 32768 + the index)", ifindex)
	}
	return uint16(0x8000 + ifindex), nil
}

// queueOn is "meta KEY IFINDEX queue num QUEUE bypass" (KEY: iif or oif).
func queueOn(key expr.MetaKey, ifindex int, queue uint16) []expr.Any {
	info := xt.Unknown(queueInfo(queue))
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(uint32(ifindex))},
		&expr.Target{Name: "NFQUEUE", Rev: 3, Info: &info},
	}
}

// faultDupRule is the netdev egress rule that duplicates a packet the
// delay line marked: "meta mark & M == M meta mark set mark & ~M dup to
// IFINDEX"; the copy, without the bit, passes the hook again untouched.
func faultDupRule(ifindex int) []expr.Any {
	return append(markBits(faultDupMark, faultDupMark),
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(^uint32(faultDupMark)), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
		&expr.Immediate{Register: 1, Data: binaryutil.NativeEndian.PutUint32(uint32(ifindex))},
		&expr.Dup{RegDev: 1, IsRegDevSet: true})
}

// faultMessages builds the tables of the faults on dev: the egress queue
// and, with dup, the duplication rule; or, with ingressOnly, the ingress
// queue's chain added to the tables made before.
func faultMessages(dev string, ifindex int, queue uint16, dup, ingressOnly bool) ([]netlink.Message, error) {
	name := faultTable(dev)
	return record(func(c *nftables.Conn) {
		inet := &nftables.Table{Name: name, Family: nftables.TableFamilyINet}
		if ingressOnly {
			prio := nftables.ChainPriority(-150)
			ch := c.AddChain(&nftables.Chain{Name: "prerouting", Table: inet, Type: nftables.ChainTypeFilter,
				Hooknum: nftables.ChainHookPrerouting, Priority: &prio})
			c.AddRule(&nftables.Rule{Table: inet, Chain: ch, Exprs: queueOn(expr.MetaKeyIIF, ifindex, queue)})
			return
		}
		c.AddTable(inet)
		// Before the impairment's queue (300), after source NAT (100).
		prio := nftables.ChainPriority(250)
		ch := c.AddChain(&nftables.Chain{Name: "postrouting", Table: inet, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookPostrouting, Priority: &prio})
		c.AddRule(&nftables.Rule{Table: inet, Chain: ch, Exprs: queueOn(expr.MetaKeyOIF, ifindex, queue)})
		if dup {
			nd := c.AddTable(&nftables.Table{Name: name, Family: nftables.TableFamilyNetdev})
			ech := c.AddChain(&nftables.Chain{Name: "egress", Table: nd, Type: nftables.ChainTypeFilter,
				Hooknum: nftables.ChainHookEgress, Priority: nftables.ChainPriorityFilter, Device: dev})
			c.AddRule(&nftables.Rule{Table: nd, Chain: ech, Exprs: faultDupRule(ifindex)})
		}
	})
}

// FaultServer holds faults on one interface until Close.
type FaultServer struct {
	link  vnl.Link
	probe shape.Probe
	own   *ownedConn
	nf    *nfqueue.Nfqueue
	line  *delayLine
	ln    net.Listener
	stop  context.CancelFunc
	done  chan struct{}

	mu      sync.Mutex // serialises Add
	ingress bool       // the ingress chain is in place
}

// ServeFaults starts the fault delay line on link with faults (validated;
// more may come with Add or through the socket), and answers on the
// interface's socket until Close. On error nothing is left in place.
func ServeFaults(link vnl.Link, faults []shape.Fault) (fs *FaultServer, err error) {
	idx := link.Attrs().Index
	q, err := faultQueue(idx)
	if err != nil {
		return nil, err
	}
	fs = &FaultServer{link: link, probe: Probe()}
	if !fs.probe.NFQueue {
		return nil, fmt.Errorf("%w: faults need nfnetlink_queue and the NFQUEUE target", ErrUnsupported)
	}
	defer func() {
		if err != nil {
			fs.Close()
		}
	}()
	if fs.own, err = dialOwned(); err != nil {
		return nil, err
	}
	cfg := &nfqueue.Config{NfQueue: q, MaxQueueLen: queueLen, Copymode: nfqueue.NfQnlCopyPacket, MaxPacketLen: 0xffff,
		Flags: nfqueue.NfQaCfgFlagFailOpen}
	if fs.nf, err = nfqueue.Open(cfg); err != nil {
		return nil, fmt.Errorf("open nfqueue %d: %w", q, err)
	}
	_ = fs.nf.SetOption(netlink.NoENOBUFS, true)
	_ = fs.nf.Con.SetReadBuffer(8 << 20)
	fs.line = newDelayLine(shape.Settings{}, queueVerdicter{fs.nf})
	ctx, cancel := context.WithCancel(context.Background())
	fs.stop = cancel
	err = fs.nf.RegisterWithErrorFunc(ctx, func(a nfqueue.Attribute) int {
		if a.PacketID == nil {
			return 0
		}
		var m meta
		if a.Hook != nil && *a.Hook == 0 { // NF_INET_PRE_ROUTING
			m.ingress = true
		}
		if a.Mark != nil {
			m.mark = *a.Mark
		}
		var pkt []byte
		if a.Payload != nil {
			pkt = *a.Payload
		}
		fs.line.AddMeta(*a.PacketID, pkt, m)
		return 0
	}, func(error) int {
		if ctx.Err() != nil {
			return 1
		}
		return 0
	})
	if err != nil {
		return nil, fmt.Errorf("bind nfqueue %d: %w", q, err)
	}
	fs.done = make(chan struct{})
	go func() { defer close(fs.done); fs.line.run(ctx) }()
	msgs, err := faultMessages(link.Attrs().Name, idx, q, fs.probe.NetdevEgress, false)
	if err != nil {
		return nil, err
	}
	if err := fs.own.send(msgs); err != nil {
		return nil, fmt.Errorf("add nftables rules: %w", err)
	}
	if err := fs.Add(faults); err != nil {
		return nil, err
	}
	if fs.ln, err = net.Listen("unix", faultSocket(link.Attrs().Name)); err != nil {
		return nil, fmt.Errorf("listen on %s (is another fault helper serving %s?): %w", faultSocket(link.Attrs().Name), link.Attrs().Name, err)
	}
	go fs.answer()
	return fs, nil
}

// Add appends faults (validated) after those in force.
func (fs *FaultServer) Add(faults []shape.Fault) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	ingress := false
	for _, f := range faults {
		if f.Filter() == nil {
			return fmt.Errorf("fault %q: not validated", f.Match)
		}
		if f.Action == shape.ActionDuplicate && !fs.probe.NetdevEgress {
			return fmt.Errorf("%w: duplicate needs the nftables netdev egress hook", ErrUnsupported)
		}
		ingress = ingress || f.Ingress
	}
	if ingress && !fs.ingress {
		idx := fs.link.Attrs().Index
		q, _ := faultQueue(idx)
		msgs, err := faultMessages(fs.link.Attrs().Name, idx, q, false, true)
		if err == nil {
			err = fs.own.send(msgs)
		}
		if err != nil {
			return fmt.Errorf("queue what %s receives: %w", fs.link.Attrs().Name, err)
		}
		fs.ingress = true
	}
	fs.line.AddFaults(faults)
	return nil
}

// Faults is each fault in force and what it did so far.
func (fs *FaultServer) Faults() []shape.FaultState { return fs.line.Faults() }

// Close takes the rules away (no packet is queued any more), releases what
// the line holds and closes the sockets.
func (fs *FaultServer) Close() error {
	var errs []error
	if fs.ln != nil {
		fs.ln.Close()
	}
	if fs.own != nil {
		for _, m := range deleteMessages(faultTable(fs.link.Attrs().Name)) {
			if err := fs.own.send([]netlink.Message{m}); err != nil && !isNoTable(err) {
				errs = append(errs, fmt.Errorf("delete nftables table: %w", err))
			}
		}
	}
	if fs.stop != nil {
		fs.stop()
		if fs.done != nil {
			<-fs.done
		}
	}
	if fs.nf != nil {
		_ = fs.nf.Close()
	}
	if fs.own != nil {
		errs = append(errs, fs.own.Close())
	}
	return errors.Join(errs...)
}

// faultRequest is one question on the helper's socket: add faults, or
// list what they did.
type faultRequest struct {
	Op     string        `json:"op"` // "add" or "list"
	Faults []shape.Fault `json:"faults,omitempty"`
}

// answer serves the socket: one request and one Event per connection.
func (fs *FaultServer) answer() {
	for {
		c, err := fs.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			ev := shape.Event{Event: shape.EventFaults, Interface: fs.link.Attrs().Name}
			var req faultRequest
			line, err := bufio.NewReader(c).ReadBytes('\n')
			if err == nil {
				err = json.Unmarshal(line, &req)
			}
			switch {
			case err != nil:
				ev = shape.Event{Event: shape.EventError, Error: fmt.Sprintf("bad request: %v", err)}
			case req.Op == "add":
				for i := range req.Faults {
					if err = req.Faults[i].Validate(); err != nil {
						break
					}
				}
				if err == nil {
					err = fs.Add(req.Faults)
				}
				if err != nil {
					ev = shape.Event{Event: shape.EventError, Interface: ev.Interface, Error: err.Error()}
				}
			case req.Op != "list":
				ev = shape.Event{Event: shape.EventError, Error: fmt.Sprintf("unknown request %q", req.Op)}
			}
			if ev.Event == shape.EventFaults {
				ev.Faults = fs.Faults()
			}
			_ = json.NewEncoder(c).Encode(ev)
		}()
	}
}

// askFaults sends req to the helper serving dev and returns its answer.
func askFaults(dev string, req faultRequest) (shape.Event, error) {
	c, err := net.DialTimeout("unix", faultSocket(dev), 5*time.Second)
	if err != nil {
		return shape.Event{}, fmt.Errorf("no fault helper serves %s here (%w)", dev, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return shape.Event{}, fmt.Errorf("ask the fault helper of %s: %w", dev, err)
	}
	var ev shape.Event
	if err := json.NewDecoder(c).Decode(&ev); err != nil {
		return shape.Event{}, fmt.Errorf("read the fault helper's answer on %s: %w", dev, err)
	}
	return ev, nil
}
