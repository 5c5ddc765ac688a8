package shape

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseFaultsRoundTrip(t *testing.T) {
	args := []string{
		"--match", "tcp and syn and ack", "--drop",
		"--match", "udp and data", "--delay", "300ms", "--nth", "2",
		"--match", "tcp and data", "--duplicate", "--every", "5", "--count", "2",
		"--match", "tcp and fin", "--reorder", "--first", "3", "--ingress",
		"rest",
	}
	fs, rest, err := ParseFaults(args)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rest, []string{"rest"}) {
		t.Errorf("rest %q", rest)
	}
	want := []string{
		`drop nth 1 of "tcp and syn and ack"`,
		`delay 300ms nth 2 of "udp and data"`,
		`duplicate every 5, 2 times of "tcp and data"`,
		`reorder first 3 of "tcp and fin" (ingress)`,
	}
	var again []string
	for i, f := range fs {
		if f.String() != want[i] {
			t.Errorf("fault %d: %s, want %s", i, f, want[i])
		}
		if f.Filter() == nil {
			t.Errorf("fault %d: no parsed filter", i)
		}
		again = append(again, f.Args()...)
	}
	fs2, _, err := ParseFaults(again)
	if err != nil || len(fs2) != len(fs) {
		t.Fatalf("ParseFaults(Args) = %v, %v", fs2, err)
	}
	for i := range fs {
		a, b := fs[i], fs2[i]
		a.filter, b.filter = nil, nil
		if a.Nth == 0 && a.First == 0 && a.Every == 0 {
			a.Nth = 0
		}
		if b.Nth == 1 && a.Nth == 0 {
			b.Nth = 0
		}
		if a != b {
			t.Errorf("round trip of fault %d: %+v, then %+v", i, a, b)
		}
	}
	if fs[1].Delay != 300*time.Millisecond {
		t.Errorf("delay %v", fs[1].Delay)
	}
}

func TestParseFaultsErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--drop"}, "--drop comes before any --match"},
		{[]string{"--match", "udp"}, "action: no action (give one of drop, delay, duplicate, corrupt, reorder)"},
		{[]string{"--match", "udp", "--drop", "--delay", "1s"}, "two actions, --drop and --delay"},
		{[]string{"--match", "tcp and synack", "--drop"}, `match "tcp and synack": column 9: unknown word "synack"`},
		{[]string{"--match", "udp", "--drop", "--nth", "0"}, `--nth "0": want a whole number from 1`},
		{[]string{"--match", "udp", "--drop", "--nth", "2", "--first", "3"}, "nth, first and every exclude each other"},
		{[]string{"--match", "udp", "--drop", "--count", "3"}, "count limits every"},
		{[]string{"--match", "udp", "--delay", "5"}, "a duration needs a unit"},
		{[]string{"--match", "udp", "--duplicate", "--ingress"}, "duplicate works on what the node sends only"},
		{[]string{"--match", "udp", "--drop", "--often"}, "unknown flag --often"},
		{[]string{"--match", "", "--drop"}, "no filter expression"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, _, err := ParseFaults(tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
