package isolate

import (
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// The forward guard. Docker 20.10 keeps its networks apart with iptables
// rules in the host's FORWARD chain, and rewrites that chain whenever it
// creates a network: it deletes the jump to DOCKER-ISOLATION-STAGE-1 and
// inserts it again at the top. In between, for some milliseconds, each
// bridge's "-i br-X ! -o br-X -j ACCEPT" lets every bridge reach every
// other, the source masqueraded to the gateway of the network it reaches,
// so no filter inside a node can tell it from the host. On a shared engine
// networks are created all the time (measured here: 103 of 3,265
// datagrams, sent one a millisecond, crossed from one lab to another while
// 11 networks were created). So each lab bridge also gets a table of its
// own in the host's nftables, which the engine never rewrites: nothing is
// forwarded to it from another bridge, or from it to another bridge.

// GuardPrefix, followed by the bridge's name, names a bridge's guard table
// (family inet) in the host's nftables.
const GuardPrefix = "socketlab_guard_"

// Guard installs, or installs anew, the guard table of each bridge, and
// removes those of bridges that are gone. It runs in the namespace the
// bridges are in (the engine host's; opts may name it).
func Guard(bridges []string, opts ...nftables.ConnOption) error {
	c, err := nftables.New(opts...)
	if err != nil {
		return fmt.Errorf("guard: netlink: %w", err)
	}
	have, err := sweep(c, nil)
	if err != nil {
		return err
	}
	accept := nftables.ChainPolicyAccept
	for _, br := range bridges {
		if slices.Contains(have, br) { // replaced in the same transaction
			c.DelTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: GuardPrefix + br})
		}
		t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: GuardPrefix + br})
		ch := c.AddChain(&nftables.Chain{
			Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept,
		})
		for _, exprs := range [][]expr.Any{
			// iifname br oifname != br oifname "br-*" drop
			join(name(expr.MetaKeyIIFNAME, expr.CmpOpEq, br), name(expr.MetaKeyOIFNAME, expr.CmpOpNeq, br), prefix(expr.MetaKeyOIFNAME, "br-")),
			// iifname br oifname "docker*" drop: docker0, docker_gwbridge
			join(name(expr.MetaKeyIIFNAME, expr.CmpOpEq, br), prefix(expr.MetaKeyOIFNAME, "docker")),
			// and both the other way
			join(name(expr.MetaKeyOIFNAME, expr.CmpOpEq, br), name(expr.MetaKeyIIFNAME, expr.CmpOpNeq, br), prefix(expr.MetaKeyIIFNAME, "br-")),
			join(name(expr.MetaKeyOIFNAME, expr.CmpOpEq, br), prefix(expr.MetaKeyIIFNAME, "docker")),
		} {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append(exprs, &expr.Verdict{Kind: expr.VerdictDrop})})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("guard %s: %w", strings.Join(bridges, " "), err)
	}
	return nil
}

// Unguard removes the guard tables of bridges, and of any bridge that is
// gone.
func Unguard(bridges []string, opts ...nftables.ConnOption) error {
	c, err := nftables.New(opts...)
	if err != nil {
		return fmt.Errorf("unguard: netlink: %w", err)
	}
	_, err = sweep(c, bridges)
	return err
}

// Guarded lists the bridges that have a guard table.
func Guarded(opts ...nftables.ConnOption) ([]string, error) {
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("guard: netlink: %w", err)
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("guard: list tables: %w", err)
	}
	var brs []string
	for _, t := range tables {
		if br, ok := strings.CutPrefix(t.Name, GuardPrefix); ok {
			brs = append(brs, br)
		}
	}
	return brs, nil
}

// sweep deletes the guard tables of bridges and of bridges no longer
// there, and returns the bridges whose tables it left. Each goes in a
// transaction of its own: another labctl may be sweeping the same table
// away, and its "no such table" must not undo the rest.
func sweep(c *nftables.Conn, bridges []string) (left []string, err error) {
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("guard: list tables: %w", err)
	}
	for _, t := range tables {
		br, ok := strings.CutPrefix(t.Name, GuardPrefix)
		if !ok {
			continue
		}
		if _, err := net.InterfaceByName(br); err == nil && !slices.Contains(bridges, br) {
			left = append(left, br)
			continue
		}
		c.DelTable(t)
		c.Flush() // an error is the table gone already
	}
	return left, nil
}

func join(parts ...[]expr.Any) []expr.Any {
	var all []expr.Any
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

// name compares the input or output interface's name with n.
func name(key expr.MetaKey, op expr.CmpOp, n string) []expr.Any {
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: ifname(n)}}
}

// prefix is `iifname "p*"` or `oifname "p*"`: the name's first bytes are p.
func prefix(key expr.MetaKey, p string) []expr.Any {
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(p)}}
}
