package scenario

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"socketlab/internal/packet"
)

// The vocabularies of expect.wire.
var (
	closeKinds = names(packet.CloseFIN, packet.CloseRST)
	sides      = names(packet.SideClient, packet.SideServer)
	countOps   = []string{"==", "!=", "<=", ">=", "<", ">"}
	// WireICMP are the ICMP and ICMPv6 messages expect.wire.icmp may name
	// (packet.WireICMP).
	WireICMP = packet.WireICMP()
)

// The wire's typed values are written as text in YAML; decoding parses them
// once, like subnets and sizes. Registered here so that the decoder and the
// schema know them from the one table.
func init() {
	textTypes[reflect.TypeFor[WireClose]()] = func(s string) (any, error) { return parseWireClose(s) }
	textTypes[reflect.TypeFor[WireCount]()] = func(s string) (any, error) { return parseWireCount(s) }
	schemaPatterns["Wire.Close"] = `^(fin|rst)( by (client|server))?$`
	schemaPatterns["Wire.Retransmissions"] = `^((==|!=|<=|>=|<|>) *)?[0-9]+$`
	schemaTextKinds["Wire.Retransmissions"] = []string{"integer", "string"}
	schemaEnums["Wire.ICMP"] = WireICMP
	schemaEnums["Wire.Family"] = expectFamilies
}

// schemaTextKinds are the JSON types of text values that YAML may also
// write as a number (retransmissions: 0), by "Type.Field".
var schemaTextKinds = map[string]any{}

// parseWireClose parses "fin", "rst", "fin by server", "rst by client".
func parseWireClose(s string) (WireClose, error) {
	f := strings.Fields(strings.ToLower(s))
	var c WireClose
	if len(f) >= 1 {
		c.How = packet.CloseKind(f[0])
	}
	switch {
	case len(f) == 0 || len(f) == 2 || len(f) > 3 || len(f) == 3 && f[1] != "by":
		return WireClose{}, &valueError{fmt.Sprintf("close %q is not fin or rst, optionally by client or server", s), `e.g. "fin", "rst by server"`}
	case !slices.Contains(closeKinds, string(c.How)):
		return WireClose{}, &valueError{fmt.Sprintf("close %q: %q is not fin or rst", s, f[0]), didYouMeanOr(f[0], closeKinds)}
	case len(f) == 3:
		c.By = packet.Side(f[2])
		if !slices.Contains(sides, f[2]) {
			return WireClose{}, &valueError{fmt.Sprintf("close %q: %q is not client or server", s, f[2]), didYouMeanOr(f[2], sides)}
		}
	}
	return c, nil
}

// String writes c as a scenario does: "fin by server".
func (c WireClose) String() string {
	if c.By == "" {
		return string(c.How)
	}
	return string(c.How) + " by " + string(c.By)
}

// MarshalText writes c as String does, for YAML and JSON.
func (c WireClose) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// parseWireCount parses "3", "== 3", "<= 2", ">0".
func parseWireCount(s string) (WireCount, error) {
	t := strings.TrimSpace(s)
	var c WireCount
	for _, op := range countOps {
		if rest, ok := strings.CutPrefix(t, op); ok {
			c.Op, t = op, strings.TrimSpace(rest)
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 32)
	if err != nil || n < 0 {
		return WireCount{}, &valueError{fmt.Sprintf("%q is not a count or a comparison with one", s), `e.g. 0, "<= 2" or "> 0"`}
	}
	if c.Op == "" {
		c.Op = "=="
	}
	c.N = n
	return c, nil
}

// String writes c as a scenario does: "3", "<= 2".
func (c WireCount) String() string {
	if c.Op == "==" || c.Op == "" {
		return strconv.FormatInt(c.N, 10)
	}
	return c.Op + " " + strconv.FormatInt(c.N, 10)
}

// MarshalText writes c as String does, for YAML and JSON.
func (c WireCount) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// HasWire reports whether any step of s checks the wire: such a scenario
// needs its nodes captured while it runs.
func (s *Scenario) HasWire() bool {
	return slices.ContainsFunc(s.Steps, func(st *Step) bool { return st != nil && st.Wire() != nil })
}

// Wire is what the step expects of the wire, or nil.
func (st *Step) Wire() *Wire {
	if k, ok := st.Kind.(interface{ expected() *Expect }); ok && k.expected() != nil {
		return k.expected().Wire
	}
	return nil
}

// wire checks a step's expect.wire w (nil: none): values that did not
// parse, the ICMP vocabulary, the family against the step's (fam).
func (v *validator) wire(path string, w *Wire, fam Family) {
	if w == nil {
		return
	}
	wp := path + ".expect.wire"
	for _, key := range []string{"close", "retransmissions"} {
		p := wp + "." + key
		if r, ok := v.rawWire(p); ok && r.err != nil && !v.bad(p) {
			var we *valueError
			if errors.As(r.err, &we) {
				v.errorf(p, we.hint, "%s", we.reason)
			} else {
				v.errorf(p, "", "%v", r.err)
			}
		}
	}
	if w.ICMP != "" && !slices.Contains(WireICMP, w.ICMP) {
		v.oneOf(wp+".icmp", "ICMP message", w.ICMP, WireICMP)
	}
	if w.Family != "" {
		switch {
		case !slices.Contains(expectFamilies, string(w.Family)):
			v.oneOf(wp+".family", "family", string(w.Family), expectFamilies)
		case fam == FamilyBoth:
			v.errorf(wp+".family", "the step runs once per family: split it into two steps", "expect.wire.family cannot go with family: both")
		}
	}
	if d := w.Datagrams; d != nil {
		for key, n := range map[string]*int64{"sent": d.Sent, "received": d.Received} {
			if n != nil && *n < 0 {
				v.errorf(wp+".datagrams."+key, "", "%s %d is negative", key, *n)
			}
		}
		if d.Sent == nil && d.Received == nil && !v.bad(wp+".datagrams") {
			v.errorf(wp+".datagrams", "e.g. datagrams: {sent: 1, received: 1}", "datagrams counts nothing: give sent, received or both")
		}
	}
	if *w == (Wire{}) && !v.bad(wp) {
		v.errorf(wp, "give handshake, close, icmp, retransmissions, datagrams or family", "expect.wire checks nothing")
	}
}

// rawWire is the text at p as written, from a file.
func (v *validator) rawWire(p string) (rawValue, bool) {
	if v.s.src == nil {
		return rawValue{}, false
	}
	r, ok := v.s.src.raw[p]
	return r, ok
}

// didYouMeanOr is a "did you mean" hint, or the list of what is allowed.
func didYouMeanOr(word string, allowed []string) string {
	if h := didYouMean(word, allowed); h != "" {
		return h
	}
	return "one of " + quoteList(allowed)
}
