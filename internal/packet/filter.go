package packet

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// FilterSyntax is the filter language, for help texts.
const FilterSyntax = `A filter keeps the packets it matches; primitives, as in tcpdump:
  host ADDR, net PREFIX, port N (each may start with src or dst),
  tcp, udp, icmp, icmp6, arp, ip, ip6;
  syn, ack, fin, rst, psh (a TCP segment with that flag set),
  data (a TCP segment or UDP datagram that carries bytes);
joined by and (&&, or nothing: "tcp port 80"), or (||), not (!), and ( ).
Examples: "tcp port 9999 or icmp or icmp6", "tcp and syn and ack" (a SYN-ACK),
"udp and data", "tcp and fin"`

// Filter is a parsed filter expression; Match applies it to a decoded packet.
type Filter struct {
	expr string
	root *node
}

// String is the expression the filter was parsed from.
func (f *Filter) String() string { return f.expr }

// Match reports whether d satisfies the filter. A nil filter matches everything.
func (f *Filter) Match(d *Decoded) bool {
	return f == nil || f.root.match(d)
}

// FilterError is a filter that does not parse: where and why.
type FilterError struct {
	Expr   string
	Column int // 1-based, at the offending word (len(Expr)+1 at the end)
	Msg    string
}

func (e *FilterError) Error() string {
	return fmt.Sprintf("filter %q: column %d: %s", e.Expr, e.Column, e.Msg)
}

// ParseFilter parses expr (see FilterSyntax). The error is a *FilterError.
func ParseFilter(expr string) (*Filter, error) {
	p := &parser{expr: expr, toks: tokenize(expr)}
	if len(p.toks) == 0 {
		return nil, &FilterError{Expr: expr, Column: 1, Msg: "the filter is empty; " + `give e.g. "tcp port 9999"`}
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if t, ok := p.peek(); ok {
		return nil, p.errAt(t, fmt.Sprintf("unexpected %q (a closing parenthesis without an opening one?)", t.s))
	}
	return &Filter{expr: expr, root: n}, nil
}

type token struct {
	s   string
	col int
}

func tokenize(s string) []token {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '(' || c == ')' || c == '!':
			toks = append(toks, token{s[i : i+1], i + 1})
			i++
		case (c == '&' || c == '|') && i+1 < len(s) && s[i+1] == c:
			toks = append(toks, token{s[i : i+2], i + 1})
			i += 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n()!", rune(s[j])) && !(j+1 < len(s) && (s[j:j+2] == "&&" || s[j:j+2] == "||")) {
				j++
			}
			toks = append(toks, token{strings.ToLower(s[i:j]), i + 1})
			i = j
		}
	}
	return toks
}

type parser struct {
	expr string
	toks []token
	pos  int
}

func (p *parser) peek() (token, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return token{}, false
}

func (p *parser) next() (token, bool) {
	t, ok := p.peek()
	if ok {
		p.pos++
	}
	return t, ok
}

func (p *parser) errAt(t token, msg string) error {
	return &FilterError{Expr: p.expr, Column: t.col, Msg: msg}
}

func (p *parser) errEnd(msg string) error {
	return &FilterError{Expr: p.expr, Column: len(p.expr) + 1, Msg: msg}
}

func (p *parser) or() (*node, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for {
		t, ok := p.peek()
		if !ok || (t.s != "or" && t.s != "||") {
			return l, nil
		}
		p.pos++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &node{op: opOr, l: l, r: r}
	}
}

func (p *parser) and() (*node, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t, ok := p.peek()
		if !ok || t.s == "or" || t.s == "||" || t.s == ")" {
			return l, nil
		}
		if t.s == "and" || t.s == "&&" {
			p.pos++
		}
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &node{op: opAnd, l: l, r: r}
	}
}

func (p *parser) unary() (*node, error) {
	t, ok := p.next()
	if !ok {
		return nil, p.errEnd("the filter ends where a primitive (host, port, tcp, ...) should follow")
	}
	switch t.s {
	case "not", "!":
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &node{op: opNot, l: n}, nil
	case "(":
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if c, ok := p.next(); !ok || c.s != ")" {
			if !ok {
				return nil, p.errEnd(fmt.Sprintf("the parenthesis opened at column %d is not closed", t.col))
			}
			return nil, p.errAt(c, fmt.Sprintf("expected ) to close the parenthesis of column %d, got %q", t.col, c.s))
		}
		return n, nil
	case "and", "or", "&&", "||", ")":
		return nil, p.errAt(t, fmt.Sprintf("%q needs a primitive before it (host, port, tcp, ...)", t.s))
	}
	return p.primitive(t)
}

// words are the primitives that test one property of a packet (its
// protocol, family, a TCP flag, a payload) with no argument.
var words = map[string]op{
	"tcp": opTCP, "udp": opUDP, "icmp": opICMP, "icmp6": opICMP6, "arp": opARP, "ip": opIP, "ip6": opIP6,
	"syn": opSYN, "ack": opACK, "fin": opFIN, "rst": opRST, "psh": opPSH, "data": opData,
}

func (p *parser) primitive(t token) (*node, error) {
	if o, ok := words[t.s]; ok {
		return &node{op: o}, nil
	}
	dir := dirEither
	kw := t
	if t.s == "src" || t.s == "dst" {
		dir = map[string]direction{"src": dirSrc, "dst": dirDst}[t.s]
		var ok bool
		if kw, ok = p.next(); !ok {
			return nil, p.errEnd(fmt.Sprintf("%q must be followed by host, net or port", t.s))
		}
	}
	switch kw.s {
	case "host", "net", "port":
	default:
		if dir != dirEither {
			return nil, p.errAt(kw, fmt.Sprintf("%q must be followed by host, net or port, not %q", t.s, kw.s))
		}
		if _, err := netip.ParseAddr(kw.s); err == nil {
			return nil, p.errAt(kw, fmt.Sprintf("an address needs the word host before it: host %s", kw.s))
		}
		return nil, p.errAt(kw, fmt.Sprintf("unknown word %q; a primitive is host, net, port (with src or dst), tcp, udp, icmp, icmp6, arp, ip, ip6, syn, ack, fin, rst, psh or data", kw.s))
	}
	arg, ok := p.next()
	if !ok {
		return nil, p.errEnd(fmt.Sprintf("%q needs a value after it", kw.s))
	}
	switch kw.s {
	case "host":
		a, err := netip.ParseAddr(arg.s)
		if err != nil {
			return nil, p.errAt(arg, fmt.Sprintf("host needs an IPv4 or IPv6 address, got %q", arg.s))
		}
		return &node{op: opAddr, dir: dir, pf: netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())}, nil
	case "net":
		pf, err := netip.ParsePrefix(arg.s)
		if err != nil {
			return nil, p.errAt(arg, fmt.Sprintf("net needs a prefix such as 10.0.0.0/24 or fd00::/64, got %q", arg.s))
		}
		return &node{op: opAddr, dir: dir, pf: pf.Masked()}, nil
	default:
		n, err := strconv.ParseUint(arg.s, 10, 16)
		if err != nil {
			return nil, p.errAt(arg, fmt.Sprintf("port needs a number from 0 to 65535, got %q", arg.s))
		}
		return &node{op: opPort, dir: dir, port: uint16(n)}, nil
	}
}

// node is one operator or primitive of a parsed filter. One concrete type
// matched by a switch, not an interface per kind: a packet handed down the
// tree by pointer then stays where it is (no copy, no allocation), and two
// parses of one expression are equal (reflect.DeepEqual).
type node struct {
	op   op
	l, r *node // the operands of and, or (both) and not (l)
	dir  direction
	pf   netip.Prefix // host, net
	port uint16
}

// op is what a node tests.
type op uint8

const (
	opOr op = iota
	opAnd
	opNot
	opAddr
	opPort
	opTCP
	opUDP
	opICMP
	opICMP6
	opARP
	opIP
	opIP6
	opSYN
	opACK
	opFIN
	opRST
	opPSH
	opData
)

type direction uint8

const (
	dirEither direction = iota
	dirSrc
	dirDst
)

func (n *node) match(d *Decoded) bool {
	switch n.op {
	case opOr:
		return n.l.match(d) || n.r.match(d)
	case opAnd:
		return n.l.match(d) && n.r.match(d)
	case opNot:
		return !n.l.match(d)
	case opAddr:
		if !d.Src.IsValid() {
			return false
		}
		return n.either(n.pf.Contains(d.Src.Addr()), n.pf.Contains(d.Dst.Addr()))
	case opPort:
		if d.Proto != ProtoTCP && d.Proto != ProtoUDP {
			return false
		}
		return n.either(d.Src.Port() == n.port, d.Dst.Port() == n.port)
	case opTCP:
		return d.Proto == ProtoTCP
	case opUDP:
		return d.Proto == ProtoUDP
	case opICMP:
		return d.Proto == ProtoICMPv4
	case opICMP6:
		return d.Proto == ProtoICMPv6
	case opARP:
		return d.Proto == ProtoARP
	case opIP:
		return d.Family == 4
	case opIP6:
		return d.Family == 6
	case opData:
		// The payload's size on the wire, so that a capture cut by its snap
		// length still tells a segment with bytes from a bare ACK.
		return (d.Proto == ProtoTCP || d.Proto == ProtoUDP) && d.PayloadLen > 0
	}
	var flag TCPFlags
	switch n.op {
	case opSYN:
		flag = SYN
	case opACK:
		flag = ACK
	case opFIN:
		flag = FIN
	case opRST:
		flag = RST
	case opPSH:
		flag = PSH
	}
	return d.Proto == ProtoTCP && d.TCP.Flags&flag != 0
}

// either is the answer of a host, net or port primitive given whether the
// source and the destination match.
func (n *node) either(src, dst bool) bool {
	switch n.dir {
	case dirSrc:
		return src
	case dirDst:
		return dst
	}
	return src || dst
}
