package shaper

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"socketlab/helpers/impair/shape"
)

// The nftables part of the fallback. Its tables are created with the OWNER
// flag (Linux 5.12): the kernel deletes them when the netlink socket that
// made them closes, so a helper killed with SIGKILL takes its loss,
// duplication and queue rules with it. google/nftables v0.3.0 always sends
// a table's flags as 0, so it only builds the messages (recorded through its
// test dial) and ownedConn sends them on a socket of its own, with the
// table's flags set.

// tableFlagOwner is NFT_TABLE_F_OWNER (include/uapi/linux/netfilter/nf_tables.h),
// which x/sys/unix does not define.
const tableFlagOwner = 0x2

// tableName is the name of the tables impairing interface dev (one netdev
// table for loss and duplication, one inet table for the queue).
func tableName(dev string) string { return "socketlab_impair_" + dev }

// probability is the numgen modulus; a percentage p drops when a random
// number below modulus is below p·modulus/100, so 0.01% steps are exact.
const probability = 1_000_000

// chance is the expressions "numgen random mod 1e6 < p" (true with
// probability p): numgen writes host order, the comparison is of bytes, so
// the number goes to network order first, as nft itself does it.
func chance(p shape.Percent) []expr.Any {
	threshold := uint32(math.Round(p.Fraction() * probability))
	return []expr.Any{
		&expr.Numgen{Register: 1, Modulus: probability, Type: unix.NFT_NG_RANDOM},
		&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4},
		&expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: binaryutil.BigEndian.PutUint32(threshold)},
	}
}

// dupMark is the packet mark bit a duplicated packet carries, so that its
// copy, which the kernel sends through the egress hook again, is neither
// duplicated again nor counted for loss a second time.
const dupMark = 1 << 30

// marked is the expressions "meta mark & dupMark == want".
func marked(want uint32) []expr.Any { return markBits(dupMark, want) }

// markBits is the expressions "meta mark & mask == want".
func markBits(mask, want uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(mask), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(want)},
	}
}

// egressRules are the netdev egress rules for loss and duplication on the
// interface with index ifindex: a lost packet is dropped before the qdisc,
// silently (the sender's sendto succeeds, as on a real link); a duplicated
// one is marked and cloned to the same device, and the clone passes.
func egressRules(s shape.Settings, ifindex int) [][]expr.Any {
	var rules [][]expr.Any
	if s.Duplicate > 0 {
		rules = append(rules, append(marked(dupMark), &expr.Verdict{Kind: expr.VerdictAccept}))
	}
	if s.Loss > 0 {
		rules = append(rules, append(chance(s.Loss), &expr.Verdict{Kind: expr.VerdictDrop}))
	}
	if s.Duplicate > 0 {
		r := append(marked(0), chance(s.Duplicate)...)
		r = append(r,
			// mark |= dupMark: (mark & ^dupMark) ^ dupMark
			&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(^uint32(dupMark)), Xor: binaryutil.NativeEndian.PutUint32(dupMark)},
			&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
			&expr.Immediate{Register: 1, Data: binaryutil.NativeEndian.PutUint32(uint32(ifindex))},
			&expr.Dup{RegDev: 1, IsRegDevSet: true})
		rules = append(rules, r)
	}
	return rules
}

// nfqBypass is NFQ_FLAG_BYPASS of struct xt_NFQ_info_v3: with it the
// kernel accepts the packet when no program listens on the queue.
const nfqBypass = 0x01

// queueInfo is struct xt_NFQ_info_v3 {u16 queuenum, queues_total, flags} in
// host order, padded to XT_ALIGN (8 bytes), as iptables -j NFQUEUE
// --queue-num N --queue-bypass sends it.
func queueInfo(queue uint16) []byte {
	b := make([]byte, 8)
	binary.NativeEndian.PutUint16(b[0:], queue)
	binary.NativeEndian.PutUint16(b[2:], 1)
	binary.NativeEndian.PutUint16(b[4:], nfqBypass)
	return b
}

// queueRule is "meta oif IFINDEX queue num QUEUE bypass" written with the
// xtables NFQUEUE target through nft_compat, since kernels without
// CONFIG_NFT_QUEUE (this lab's) have no native queue expression.
func queueRule(ifindex int, queue uint16) []expr.Any {
	info := xt.Unknown(queueInfo(queue))
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyOIF, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(uint32(ifindex))},
		&expr.Target{Name: "NFQUEUE", Rev: 3, Info: &info},
	}
}

// plan is the tables and rules impairing one interface.
type plan struct {
	table   string // both tables' name
	dev     string
	ifindex int
	egress  [][]expr.Any // netdev egress chain on dev
	queue   []expr.Any   // inet postrouting chain, nil without a delay line
}

// messages builds the nftables messages of p with google/nftables, without
// sending them: a batch that creates the tables (flags patched to OWNER),
// their chains and rules.
func (p plan) messages() ([]netlink.Message, error) {
	name := p.table
	return record(func(c *nftables.Conn) {
		if len(p.egress) > 0 {
			t := c.AddTable(&nftables.Table{Name: name, Family: nftables.TableFamilyNetdev})
			ch := c.AddChain(&nftables.Chain{
				Name: "egress", Table: t, Type: nftables.ChainTypeFilter,
				Hooknum: nftables.ChainHookEgress, Priority: nftables.ChainPriorityFilter, Device: p.dev,
			})
			for _, r := range p.egress {
				c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: r})
			}
		}
		if p.queue != nil {
			t := c.AddTable(&nftables.Table{Name: name, Family: nftables.TableFamilyINet})
			// After source NAT (100): the packet is queued as it will leave.
			prio := nftables.ChainPriority(300)
			ch := c.AddChain(&nftables.Chain{
				Name: "postrouting", Table: t, Type: nftables.ChainTypeFilter,
				Hooknum: nftables.ChainHookPostrouting, Priority: &prio,
			})
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: p.queue})
		}
	})
}

// record runs build on a google/nftables Conn whose socket is a recorder,
// and returns the messages of the batch Flush would send (without the
// batch's begin and end), with every new table's flags set to OWNER.
func record(build func(*nftables.Conn)) ([]netlink.Message, error) {
	var msgs []netlink.Message
	ack := []netlink.Message{{Header: netlink.Header{Type: netlink.Error}, Data: make([]byte, 4)}}
	c, err := nftables.New(nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		for _, m := range req {
			switch m.Header.Type {
			case unix.NFNL_MSG_BATCH_BEGIN, unix.NFNL_MSG_BATCH_END:
				continue
			case newTable:
				m = ownedTable(m)
			}
			m.Header.Sequence, m.Header.PID, m.Header.Length = 0, 0, 0
			msgs = append(msgs, m)
		}
		return ack, nil
	}))
	if err != nil {
		return nil, err
	}
	build(c)
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("build nftables messages: %w", err)
	}
	return msgs, nil
}

var (
	newTable = netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWTABLE)
	delTable = netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_DELTABLE)
)

// ownedTable rewrites a NEWTABLE message with the OWNER flag: the table's
// family (first byte of struct nfgenmsg) and name are kept.
func ownedTable(m netlink.Message) netlink.Message {
	ad, err := netlink.NewAttributeDecoder(m.Data[4:])
	if err != nil {
		return m
	}
	var name string
	for ad.Next() {
		if ad.Type() == unix.NFTA_TABLE_NAME {
			name = ad.String()
		}
	}
	attrs, _ := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_TABLE_NAME, Data: []byte(name + "\x00")},
		{Type: unix.NFTA_TABLE_FLAGS, Data: binaryutil.BigEndian.PutUint32(tableFlagOwner)},
	})
	m.Data = append(append([]byte{}, m.Data[:4]...), attrs...)
	return m
}

// deleteMessages are DELTABLE messages for the tables named table in both
// families.
func deleteMessages(table string) []netlink.Message {
	var msgs []netlink.Message
	for _, fam := range []byte{unix.NFPROTO_NETDEV, unix.NFPROTO_INET} {
		attrs, _ := netlink.MarshalAttributes([]netlink.Attribute{
			{Type: unix.NFTA_TABLE_NAME, Data: []byte(table + "\x00")},
		})
		msgs = append(msgs, netlink.Message{
			Header: netlink.Header{Type: delTable, Flags: netlink.Request | netlink.Acknowledge},
			Data:   append([]byte{fam, unix.NFNETLINK_V0, 0, 0}, attrs...),
		})
	}
	return msgs
}

// ownedConn is the netlink socket that owns the helper's tables: they live
// as long as it is open.
type ownedConn struct{ c *netlink.Conn }

func dialOwned() (*ownedConn, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
	if err != nil {
		return nil, fmt.Errorf("open nftables netlink socket: %w", err)
	}
	return &ownedConn{c: c}, nil
}

// send sends msgs as one nftables batch (all or nothing) and waits for the
// kernel's answer to each.
func (o *ownedConn) send(msgs []netlink.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	batch := make([]netlink.Message, 0, len(msgs)+2)
	res := []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0}
	binary.BigEndian.PutUint16(res[2:], unix.NFNL_SUBSYS_NFTABLES)
	batch = append(batch, netlink.Message{Header: netlink.Header{Type: unix.NFNL_MSG_BATCH_BEGIN, Flags: netlink.Request}, Data: res})
	for _, m := range msgs {
		m.Header.Flags |= netlink.Request | netlink.Acknowledge
		batch = append(batch, m)
	}
	batch = append(batch, netlink.Message{Header: netlink.Header{Type: unix.NFNL_MSG_BATCH_END, Flags: netlink.Request}, Data: res})
	if _, err := o.c.SendMessages(batch); err != nil {
		return fmt.Errorf("send nftables batch: %w", err)
	}
	if err := o.c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	for acked := 0; acked < len(msgs); {
		replies, err := o.c.Receive()
		if err != nil {
			return err
		}
		for _, r := range replies {
			if r.Header.Type == netlink.Error {
				acked++
			}
		}
	}
	return nil
}

func (o *ownedConn) Close() error { return o.c.Close() }

// errNoTable tells that a table to delete was not there.
func isNoTable(err error) bool { return errors.Is(err, unix.ENOENT) }
