package scenario

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"socketlab/helpers/impair/shape"
)

// impairType is how a link is degraded (Attachment.Impair, ImpairStep.Settings):
// in YAML a mapping of shape.Fields, each written as text.
var impairType = reflect.TypeFor[shape.Settings]()

// impairDocs describe the settings in the schema.
var impairDocs = map[string]string{
	"delay":     "delay holds every packet this long, e.g. 50ms.",
	"jitter":    "jitter varies the delay by up to this much either way (at most the delay), e.g. 10ms.",
	"loss":      "loss drops this share of packets, e.g. 20%.",
	"duplicate": "duplicate sends this share of packets twice, e.g. 1%.",
	"reorder":   "reorder sends this share of packets at once, ahead of the delayed ones (needs a delay), e.g. 25%.",
	"corrupt":   "corrupt flips one bit in this share of packets, e.g. 0.1%.",
	"rate":      "rate limits the bandwidth, in bits per second: 1mbit, 512kbit, 10gbit.",
}

// impairSchema is the schema of a link's impairment settings.
func impairSchema() *schema {
	s := &schema{Type: "object", AdditionalProperties: false,
		Description: "How the node's link on this network is degraded: what it sends is delayed, dropped, duplicated, reordered, corrupted or rate-limited."}
	for _, f := range shape.Fields {
		s.Properties = append(s.Properties, property{f, &schema{Type: []string{"string", "number"}, Description: impairDocs[f]}})
	}
	return s
}

// impair decodes a mapping of impairment settings into v (a
// shape.Settings). Each value is parsed where it is written; how they go
// together is judged by validation (impairSettings).
func (d *decoder) impair(n *yaml.Node, path string, v reflect.Value, depth int) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "write e.g. {delay: 50ms, loss: 20%}", "want a mapping of %s, got %s", strings.Join(shape.Fields, ", "), describe(n))
		return
	}
	s := v.Addr().Interface().(*shape.Settings)
	for _, e := range d.entries(n, path, depth) {
		p := join(path, e.key.Value)
		if !isField(e.key.Value) {
			hint := didYouMean(e.key.Value, shape.Fields)
			if hint == "" {
				hint = "known keys: " + strings.Join(shape.Fields, ", ")
			}
			d.src.bad[path] = true
			d.errorAt(e.key, path, hint, "unknown key %q", e.key.Value)
			continue
		}
		val := resolve(e.val)
		d.at(p, val)
		if val.Kind != yaml.ScalarNode || isNull(val) {
			d.src.bad[path] = true
			d.fail(val, p, "write e.g. "+example(e.key.Value), "want a value, got %s", describe(val))
			continue
		}
		if err := s.Set(e.key.Value, val.Value); err != nil {
			d.src.bad[path] = true // judged already: not also "no setting given"
			var fe *shape.FieldError
			if errors.As(err, &fe) {
				d.fail(val, p, fe.Hint, "%s %q: %s", e.key.Value, val.Value, fe.Reason)
			} else {
				d.fail(val, p, "", "%v", err)
			}
		}
	}
}

func isField(k string) bool {
	for _, f := range shape.Fields {
		if f == k {
			return true
		}
	}
	return false
}

func example(field string) string {
	switch field {
	case "delay", "jitter":
		return "50ms"
	case "rate":
		return "1mbit"
	}
	return "20%"
}

// impairSettings judges the settings at path together (jitter within the
// delay, reorder with a delay, at least one), each problem at its key.
func (v *validator) impairSettings(path string, s *shape.Settings) {
	if s == nil || v.bad(path) {
		return
	}
	err := s.Validate()
	var fes shape.Errors
	if !errors.As(err, &fes) {
		return
	}
	for _, fe := range fes {
		if fe.Field == "" {
			v.errorf(path, "write e.g. impair: {delay: 50ms, loss: 20%}", "%s", fe.Reason)
			continue
		}
		p := path + "." + fe.Field
		if !v.s.written(p) {
			p = path
		}
		v.errorAt(p, path+"."+fe.Field, fe.Hint, "%s %s: %s", fe.Field, fe.Value, fe.Reason)
	}
}

// expectLink checks what a step expects of a degraded link: slower_than
// below the timeout (and within), a sensible range of replies, from echo.
func (v *validator) expectLink(ep string, e *Expect, client string, timeout time.Duration) {
	if e.SlowerThan < 0 || e.SlowerThan == 0 && v.s.written(ep+".slower_than") && !v.bad(ep+".slower_than") {
		v.errorf(ep+".slower_than", "", "slower_than %s is not positive", e.SlowerThan)
	}
	if e.SlowerThan > 0 && time.Duration(e.SlowerThan) >= timeout {
		v.errorf(ep+".slower_than", fmt.Sprintf("raise the step's timeout above %s", e.SlowerThan),
			"slower_than %s is not shorter than the step's timeout, %s", e.SlowerThan, timeout)
	}
	if e.SlowerThan > 0 && e.Within > 0 && e.Within <= e.SlowerThan {
		v.errorf(ep+".within", "", "within %s leaves no time after slower_than %s", e.Within, e.SlowerThan)
	}
	for _, r := range []struct {
		key string
		n   int64
	}{{"min_replies", e.MinReplies}, {"max_replies", e.MaxReplies}} {
		if r.n < 0 {
			v.errorf(ep+"."+r.key, "", "%s %d is negative", r.key, r.n)
		}
	}
	if e.MaxReplies > 0 && e.MinReplies > e.MaxReplies {
		v.errorf(ep+".min_replies", "", "min_replies %d is more than max_replies %d", e.MinReplies, e.MaxReplies)
	}
	if (e.MinReplies != 0 || e.MaxReplies != 0) && client != "echo" {
		v.errorf(ep, "count replies of run: echo with args [--udp, --count, \"200\", --wait, 200ms]", "min_replies and max_replies count echoes: they go with run: echo")
	}
}
