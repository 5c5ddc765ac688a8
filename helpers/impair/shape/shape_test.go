package shape

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		name string
		in   map[string]string
		want Settings
		errs []string // substrings of each FieldError, in order
	}{
		{"lesson", map[string]string{"delay": "50ms", "jitter": "10ms", "loss": "20%", "rate": "1mbit"},
			Settings{Delay: 50 * time.Millisecond, Jitter: 10 * time.Millisecond, Loss: 20, Rate: 1_000_000}, nil},
		{"bare percent and fractions", map[string]string{"loss": "0.5", "duplicate": "1%", "corrupt": "0.1%"},
			Settings{Loss: 0.5, Duplicate: 1, Corrupt: 0.1}, nil},
		{"rate units", map[string]string{"rate": "1.5Gbit"}, Settings{Rate: 1_500_000_000}, nil},
		{"loss too high", map[string]string{"loss": "120%"}, Settings{}, []string{`loss "120%": not between 0% and 100%`}},
		{"every problem at once", map[string]string{"delay": "50", "loss": "x", "rate": "1mbps", "latency": "1ms"}, Settings{},
			[]string{"latency: unknown setting", `delay "50": a duration needs a unit (write e.g. 50ms)`, `loss "x": not a percentage`, `rate "1mbps": byte units are ambiguous`}},
		{"jitter above delay", map[string]string{"delay": "10ms", "jitter": "30ms"}, Settings{}, []string{`jitter "30ms": larger than the delay 10ms`}},
		{"reorder without delay", map[string]string{"reorder": "10%"}, Settings{}, []string{"reorder \"10%\": needs a delay"}},
		{"rate too low", map[string]string{"rate": "10bit"}, Settings{}, []string{`rate "10bit": not between 1kbit and 100gbit`}},
		{"rate without unit", map[string]string{"rate": "1000"}, Settings{}, []string{`rate "1000": a rate needs a unit`}},
		{"nothing", map[string]string{}, Settings{}, []string{"no setting given"}},
		{"negative delay", map[string]string{"delay": "-5ms"}, Settings{}, []string{`delay "-5ms": negative`}},
		{"delay too long", map[string]string{"delay": "2m"}, Settings{}, []string{`delay "2m0s": longer than 1m0s`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(c.in)
			if len(c.errs) == 0 {
				if err != nil || got != c.want {
					t.Fatalf("Parse = %+v, %v; want %+v", got, err, c.want)
				}
				if back, err := Parse(got.Values()); err != nil || back != got {
					t.Errorf("Parse(Values()) = %+v, %v; want %+v", back, err, got)
				}
				return
			}
			var es Errors
			if !errors.As(err, &es) || len(es) != len(c.errs) {
				t.Fatalf("Parse error %v, want %d problems: %q", err, len(c.errs), c.errs)
			}
			for i, e := range es {
				if !strings.Contains(e.Error(), c.errs[i]) {
					t.Errorf("problem %d: %q, want it to contain %q", i, e.Error(), c.errs[i])
				}
			}
		})
	}
}

func TestArgsAndString(t *testing.T) {
	s := Settings{Delay: 50 * time.Millisecond, Jitter: 10 * time.Millisecond, Loss: 20, Rate: 1_500_000}
	if got := strings.Join(s.Args(), " "); got != "--delay 50ms --jitter 10ms --loss 20% --rate 1500kbit" {
		t.Errorf("Args = %q", got)
	}
	if got := s.String(); got != "delay 50ms±10ms loss 20% rate 1500kbit" {
		t.Errorf("String = %q", got)
	}
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"1mbit", "0", "1.5gbit", "64kbit", "8mbps", "-1bit", "1e400bit"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			return
		}
		if r > MaxRate {
			t.Fatalf("ParseRate(%q) = %d above the maximum", s, r)
		}
		if back, err := ParseRate(r.String()); err != nil || back != r {
			t.Fatalf("ParseRate(%q) = %d, String %q reads back as %d, %v", s, r, r.String(), back, err)
		}
	})
}
