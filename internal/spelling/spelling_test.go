package spelling

import (
	"strings"
	"testing"
)

func TestDistance(t *testing.T) {
	long := strings.Repeat("x", MaxRunes+1)
	cases := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"networks", "networks", 0},
		{"netwrks", "networks", 1},   // deletion
		{"nettworks", "networks", 1}, // insertion
		{"netwurks", "networks", 1},  // substitution
		{"netowrks", "networks", 1},  // swap of neighbours
		{"bak", "back", 1},
		{"ipv6", "IPv6", 2}, // case counts: callers fold it
		{"fröm", "from", 1}, // runes, not bytes
		{"", "tcp", 3},
		{long, long, len(long)}, // too long: no letter-by-letter comparison
		{long, "tcp", len(long)},
	}
	for _, c := range cases {
		if got := Distance(c.a, c.b); got != c.want {
			t.Errorf("Distance(%.10q, %.10q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
