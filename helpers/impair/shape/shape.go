// Package shape is the vocabulary of link impairment: the Settings a link is
// given (delay, jitter, loss, duplication, reordering, corruption, rate),
// their parsers and validation, and the JSON lines the impairment helper
// prints. It has no dependency on Linux, so labctl imports it to validate a
// scenario and to build the helper's command line.
package shape

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Limits of what the helper accepts. A longer delay holds more packets in
// the kernel's queue than a lab link ever needs.
const (
	MaxDelay = 60 * time.Second
	MinRate  = Rate(1000)     // 1kbit
	MaxRate  = Rate(100e9)    // 100gbit
	maxPct   = Percent(100.0) // loss 100% cuts the link
)

// Percent is a probability in percent, 0 to 100.
type Percent float64

// String formats p the way ParsePercent reads it ("20%", "0.5%").
func (p Percent) String() string {
	return strconv.FormatFloat(float64(p), 'f', -1, 64) + "%"
}

// Fraction is p as a probability between 0 and 1.
func (p Percent) Fraction() float64 { return float64(p) / 100 }

// Rate is a bandwidth in bits per second; 0 means unlimited.
type Rate uint64

// BytesPerSecond is r in bytes per second, rounded down.
func (r Rate) BytesPerSecond() uint64 { return uint64(r) / 8 }

// String formats r with the largest unit that divides it ("1mbit",
// "1500kbit", "64bit"), which ParseRate reads back to the same value.
func (r Rate) String() string {
	for _, u := range []struct {
		name string
		n    Rate
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}} {
		if r >= u.n && r%u.n == 0 {
			return strconv.FormatUint(uint64(r/u.n), 10) + u.name
		}
	}
	return strconv.FormatUint(uint64(r), 10) + "bit"
}

// Settings is how one interface's egress is impaired. The zero value
// impairs nothing. Delay and Jitter apply to every packet: each is held
// Delay ± Jitter (uniform), so jitter reorders packets like netem does.
// Reorder sends that share of packets at once, ahead of the delayed ones.
type Settings struct {
	Delay     time.Duration `json:"delay,omitempty"`
	Jitter    time.Duration `json:"jitter,omitempty"`
	Loss      Percent       `json:"loss,omitempty"`
	Duplicate Percent       `json:"duplicate,omitempty"`
	Reorder   Percent       `json:"reorder,omitempty"`
	Corrupt   Percent       `json:"corrupt,omitempty"`
	Rate      Rate          `json:"rate,omitempty"` // bits per second
}

// Fields are the names of the settings, as the scenario, labctl's flags and
// the helper's flags spell them, in the order Args prints them.
var Fields = []string{"delay", "jitter", "loss", "duplicate", "reorder", "corrupt", "rate"}

// IsZero tells whether s impairs nothing.
func (s Settings) IsZero() bool { return s == Settings{} }

// NeedsQueue tells whether s needs packets held or rewritten one by one
// (netem, or the user-space delay line where the kernel has no netem).
func (s Settings) NeedsQueue() bool {
	return s.Delay > 0 || s.Jitter > 0 || s.Reorder > 0 || s.Corrupt > 0
}

// String is a short human form, e.g. "delay 50ms±10ms loss 20% rate 1mbit".
func (s Settings) String() string {
	if s.IsZero() {
		return "none"
	}
	var b []string
	if s.Delay > 0 || s.Jitter > 0 {
		d := "delay " + s.Delay.String()
		if s.Jitter > 0 {
			d += "±" + s.Jitter.String()
		}
		b = append(b, d)
	}
	for _, p := range []struct {
		name string
		v    Percent
	}{{"loss", s.Loss}, {"duplicate", s.Duplicate}, {"reorder", s.Reorder}, {"corrupt", s.Corrupt}} {
		if p.v > 0 {
			b = append(b, p.name+" "+p.v.String())
		}
	}
	if s.Rate > 0 {
		b = append(b, "rate "+s.Rate.String())
	}
	return strings.Join(b, " ")
}

// Args is s as the helper's flags ("--delay", "50ms", ...), only the
// settings that are not zero; Parse of the same values gives s back.
func (s Settings) Args() []string {
	var a []string
	for _, f := range Fields {
		if v, ok := s.value(f); ok {
			a = append(a, "--"+f, v)
		}
	}
	return a
}

// value is field f of s in its text form, and whether it is set.
func (s Settings) value(f string) (string, bool) {
	switch f {
	case "delay":
		return s.Delay.String(), s.Delay != 0
	case "jitter":
		return s.Jitter.String(), s.Jitter != 0
	case "loss":
		return s.Loss.String(), s.Loss != 0
	case "duplicate":
		return s.Duplicate.String(), s.Duplicate != 0
	case "reorder":
		return s.Reorder.String(), s.Reorder != 0
	case "corrupt":
		return s.Corrupt.String(), s.Corrupt != 0
	case "rate":
		return s.Rate.String(), s.Rate != 0
	}
	return "", false
}

// FieldError is one setting that cannot be used: which (Field, as in
// Fields), the text given (Value, "" for a problem between two settings),
// why, and what to write instead. labctl places it at the YAML node of Field.
type FieldError struct {
	Field  string
	Value  string
	Reason string
	Hint   string
}

// Error reads like `loss "120%": more than 100% (write a percentage from 0% to 100%)`.
func (e *FieldError) Error() string {
	msg := e.Field
	if e.Value != "" {
		msg += " " + strconv.Quote(e.Value)
	}
	msg += ": " + e.Reason
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

// Errors is every problem Parse or Validate found, in the order of Fields.
type Errors []*FieldError

// Error joins the problems with "; ".
func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

// Unwrap lets errors.As find each *FieldError.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// ErrNothing is reported (as the Reason of a FieldError with an empty
// Field) when Settings impair nothing: clearing is its own command.
var ErrNothing = errors.New("no setting given")

// Parse reads settings from their text forms, keyed by the names in Fields
// (e.g. {"delay": "50ms", "loss": "20%", "rate": "1mbit"}), and validates
// them. It reports every problem at once, as Errors.
func Parse(values map[string]string) (Settings, error) {
	var s Settings
	var errs Errors
	known := map[string]bool{}
	for _, f := range Fields {
		known[f] = true
	}
	for k := range values {
		if !known[k] {
			errs = append(errs, &FieldError{Field: k, Reason: "unknown setting", Hint: "use " + strings.Join(Fields, ", ")})
		}
	}
	for _, f := range Fields {
		v, ok := values[f]
		if !ok {
			continue
		}
		if err := s.Set(f, v); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				errs = append(errs, fe)
			}
		}
	}
	if len(errs) > 0 {
		return Settings{}, errs
	}
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// Set parses v as field f of s (one of Fields). It checks v alone; Validate
// checks the settings together. The error is a *FieldError.
func (s *Settings) Set(f, v string) error {
	var err error
	switch f {
	case "delay":
		s.Delay, err = ParseDuration(v)
	case "jitter":
		s.Jitter, err = ParseDuration(v)
	case "loss":
		s.Loss, err = ParsePercent(v)
	case "duplicate":
		s.Duplicate, err = ParsePercent(v)
	case "reorder":
		s.Reorder, err = ParsePercent(v)
	case "corrupt":
		s.Corrupt, err = ParsePercent(v)
	case "rate":
		s.Rate, err = ParseRate(v)
	default:
		return &FieldError{Field: f, Value: v, Reason: "unknown setting", Hint: "use " + strings.Join(Fields, ", ")}
	}
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			fe.Field = f
			return fe
		}
		return &FieldError{Field: f, Value: v, Reason: err.Error()}
	}
	return nil
}

// Validate checks the settings together: each within its range, jitter no
// larger than delay, reorder only with a delay, and at least one setting.
// The error is Errors.
func (s Settings) Validate() error {
	var errs Errors
	add := func(f string, v fmt.Stringer, reason, hint string) {
		val := ""
		if v != nil {
			val = v.String()
		}
		errs = append(errs, &FieldError{Field: f, Value: val, Reason: reason, Hint: hint})
	}
	if s.IsZero() {
		add("", nil, ErrNothing.Error(), "set at least one of "+strings.Join(Fields, ", ")+", or clear the impairment")
		return errs
	}
	for _, d := range []struct {
		f string
		v time.Duration
	}{{"delay", s.Delay}, {"jitter", s.Jitter}} {
		if d.v < 0 {
			add(d.f, d.v, "negative", "write a duration such as 50ms")
		} else if d.v > MaxDelay {
			add(d.f, d.v, "longer than "+MaxDelay.String(), "a lab link needs seconds at most")
		}
	}
	if s.Jitter > s.Delay && s.Delay >= 0 {
		add("jitter", s.Jitter, fmt.Sprintf("larger than the delay %s: a packet cannot leave before it was sent", s.Delay), "make jitter at most the delay")
	}
	for _, p := range []struct {
		f string
		v Percent
	}{{"loss", s.Loss}, {"duplicate", s.Duplicate}, {"reorder", s.Reorder}, {"corrupt", s.Corrupt}} {
		if p.v < 0 || p.v > maxPct || math.IsNaN(float64(p.v)) {
			add(p.f, p.v, "not between 0% and 100%", "write a percentage such as 20%")
		}
	}
	if s.Reorder > 0 && s.Delay == 0 {
		add("reorder", s.Reorder, "needs a delay: reordered packets are the ones sent without it", "add a delay, e.g. delay: 10ms")
	}
	if s.Rate != 0 && (s.Rate < MinRate || s.Rate > MaxRate) {
		add("rate", s.Rate, "not between "+MinRate.String()+" and "+MaxRate.String(), "write a rate such as 1mbit")
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// ParseDuration reads a duration such as "50ms", "1.5s" or "0" (Go's
// time.ParseDuration; a bare number other than 0 is refused, since its unit
// would be a guess).
func ParseDuration(v string) (time.Duration, error) {
	t := strings.TrimSpace(v)
	if t == "0" {
		return 0, nil
	}
	if _, err := strconv.ParseFloat(t, 64); err == nil {
		return 0, &FieldError{Value: v, Reason: "a duration needs a unit", Hint: "write e.g. " + t + "ms"}
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, &FieldError{Value: v, Reason: "not a duration", Hint: "write e.g. 50ms, 1.5s (units ns, us, ms, s)"}
	}
	if d < 0 {
		return 0, &FieldError{Value: v, Reason: "negative", Hint: "write a duration such as 50ms"}
	}
	return d, nil
}

// ParsePercent reads a percentage such as "20%", "0.5%" or "20" (the sign
// may be left out), from 0 to 100.
func ParsePercent(v string) (Percent, error) {
	t := strings.TrimSuffix(strings.TrimSpace(v), "%")
	f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, &FieldError{Value: v, Reason: "not a percentage", Hint: "write e.g. 20%"}
	}
	if f < 0 || f > 100 {
		return 0, &FieldError{Value: v, Reason: "not between 0% and 100%", Hint: "write a percentage such as 20%"}
	}
	return Percent(f), nil
}

// rateUnits are the units ParseRate reads: bits per second with SI
// prefixes, as tc writes them.
var rateUnits = []struct {
	name string
	n    float64
}{{"tbit", 1e12}, {"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}}

// ParseRate reads a rate in bits per second with a unit: "64kbit", "1mbit",
// "1.5gbit", "2000bit" (case does not matter). Byte units ("mbps", "MB/s")
// are refused with a hint, since tc reads "mbps" as megabytes.
func ParseRate(v string) (Rate, error) {
	t := strings.ToLower(strings.TrimSpace(v))
	if t == "0" {
		return 0, nil
	}
	for _, u := range rateUnits {
		num, ok := strings.CutSuffix(t, u.name)
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			return 0, &FieldError{Value: v, Reason: "not a rate", Hint: "write e.g. 1mbit, 512kbit"}
		}
		bits := math.Round(f * u.n)
		if bits > float64(MaxRate) {
			return 0, &FieldError{Value: v, Reason: "more than " + MaxRate.String(), Hint: "write a rate such as 1mbit"}
		}
		return Rate(bits), nil
	}
	if strings.HasSuffix(t, "bps") || strings.HasSuffix(t, "b/s") {
		return 0, &FieldError{Value: v, Reason: "byte units are ambiguous (tc reads mbps as megabytes per second)", Hint: "write bits: 8mbit is one megabyte per second"}
	}
	return 0, &FieldError{Value: v, Reason: "a rate needs a unit", Hint: "write e.g. 1mbit, 512kbit, 10gbit (bits per second)"}
}
