package docker

import (
	"fmt"
	"net"
	"os"
	"slices"
	"syscall"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// The forward guard. Docker 20.10 keeps its networks apart with iptables
// rules in the host's FORWARD chain, and rewrites that chain whenever it
// creates a network: it deletes the jump to DOCKER-ISOLATION-STAGE-1 and
// inserts it again at the top. In between, for some milliseconds, each
// bridge's "-i br-X ! -o br-X -j ACCEPT" lets every bridge reach every
// other, the source masqueraded to the gateway of the network it reaches:
// no filter inside a node can tell that from the host. On a shared engine
// networks are created all the time (measured here: 103 of 3,265 datagrams
// sent one a millisecond crossed from one lab to another while 11 networks
// were created). So where labctl runs beside the engine, as root, each lab
// bridge also gets rules of its own in the host's nftables table
// socketlab_guard, which the engine never rewrites: nothing is forwarded
// from another bridge to it, or from it to another bridge. Rules for
// bridges that are gone are swept when the next is guarded, and the table
// goes with the last rule.

// GuardTable is the host's nftables table (family inet) of the guard.
const GuardTable = "socketlab_guard"

const guardChain = "forward"

// guardLock serialises labctl processes that change the guard table: the
// table is removed when its last rule goes, which must not race another
// process adding one.
const guardLock = "/run/socketlab-guard.lock"

// bridgeOf is the host interface of a bridge network created without a
// name of its own: "br-" and the first 12 characters of its ID.
func bridgeOf(id string) string {
	if len(id) < 12 {
		return ""
	}
	return "br-" + id[:12]
}

// guardable tells whether the network id's bridge is in this process's
// network namespace (the engine runs here, in the same namespace) and this
// process may change its firewall.
func guardable(id string) bool {
	br := bridgeOf(id)
	if br == "" || os.Geteuid() != 0 {
		return false
	}
	_, err := net.InterfaceByName(br)
	return err == nil
}

// guard adds the rules that keep every other bridge away from bridge br.
func guard(br string) error {
	return withGuardTable(func(c *nftables.Conn, t *nftables.Table, ch *nftables.Chain, rules []*nftables.Rule) {
		for _, r := range rules {
			if name := string(r.UserData); name == br || !exists(name) {
				c.DelRule(r)
			}
		}
		for _, exprs := range [][]expr.Any{
			// iifname br oifname != br oifname "br-*" drop, and to docker0 or docker_gwbridge
			join(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, br), ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, br), prefix(expr.MetaKeyOIFNAME, "br-")),
			join(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, br), prefix(expr.MetaKeyOIFNAME, "docker")),
			// and the same the other way
			join(ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, br), ifname(expr.MetaKeyIIFNAME, expr.CmpOpNeq, br), prefix(expr.MetaKeyIIFNAME, "br-")),
			join(ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, br), prefix(expr.MetaKeyIIFNAME, "docker")),
		} {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, UserData: []byte(br),
				Exprs: append(exprs, &expr.Verdict{Kind: expr.VerdictDrop})})
		}
	}, true)
}

// unguard removes bridge br's rules, and the table when none are left.
func unguard(br string) error {
	return withGuardTable(func(c *nftables.Conn, t *nftables.Table, _ *nftables.Chain, rules []*nftables.Rule) {
		left := 0
		for _, r := range rules {
			if name := string(r.UserData); name == br || !exists(name) {
				c.DelRule(r)
			} else {
				left++
			}
		}
		if left == 0 {
			c.DelTable(t)
		}
	}, false)
}

// withGuardTable runs change on the guard table's rules under the lock,
// then commits what it queued in one transaction. Without create, a
// missing table is left missing and change is not called.
func withGuardTable(change func(*nftables.Conn, *nftables.Table, *nftables.Chain, []*nftables.Rule), create bool) error {
	lock, err := os.OpenFile(guardLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("forward guard: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("forward guard: lock %s: %w", guardLock, err)
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("forward guard: netlink: %w", err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: GuardTable}
	accept := nftables.ChainPolicyAccept
	ch := &nftables.Chain{Name: guardChain, Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return fmt.Errorf("forward guard: list tables: %w", err)
	}
	var rules []*nftables.Rule
	switch {
	case slices.ContainsFunc(tables, func(x *nftables.Table) bool { return x.Name == GuardTable }):
		if rules, err = c.GetRules(t, ch); err != nil {
			return fmt.Errorf("forward guard: list rules: %w", err)
		}
	case !create:
		return nil
	default:
		c.AddTable(t)
		c.AddChain(ch)
	}
	change(c, t, ch, rules)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("forward guard: %w", err)
	}
	return nil
}

// exists tells whether the interface name is in this namespace.
func exists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

func join(parts ...[]expr.Any) []expr.Any {
	var all []expr.Any
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

// ifname compares the input or output interface's name with name, as
// nftables holds it: NUL-padded to 16 bytes.
func ifname(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	b := make([]byte, 16)
	copy(b, name)
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: b}}
}

// prefix is `iifname "p*"` or `oifname "p*"`: the name's first bytes are p.
func prefix(key expr.MetaKey, p string) []expr.Any {
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(p)}}
}
