package probe

import (
	"context"
	"testing"
	"time"
)

func TestAttemptsShareTheTimeout(t *testing.T) {
	cases := []struct {
		name      string
		timeout   time.Duration
		left      int
		low, high time.Duration
	}{
		{"two addresses split ten seconds", 10 * time.Second, 2, 4900 * time.Millisecond, 5 * time.Second},
		{"the last address gets what remains", 10 * time.Second, 1, 9900 * time.Millisecond, 10 * time.Second},
		{"never less than two seconds", 3 * time.Second, 3, 1900 * time.Millisecond, 2 * time.Second},
		{"nor more than remains", time.Second, 4, 900 * time.Millisecond, time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
			defer cancel()
			actx, acancel, _ := attemptContext(ctx, c.left)
			defer acancel()
			dl, _ := actx.Deadline()
			if got := time.Until(dl); got < c.low || got > c.high {
				t.Errorf("attempt gets %v, want %v..%v", got, c.low, c.high)
			}
		})
	}
}

func TestSplitTarget(t *testing.T) {
	cases := []struct {
		in, host string
		port     int
		bad      bool
	}{
		{"echo", "echo", 7, false},
		{"echo:7007", "echo", 7007, false},
		{"[::1]:9", "::1", 9, false},
		{"::1", "::1", 7, false},
		{"[fd00::5]", "fd00::5", 7, false},
		{"10.0.0.1:80", "10.0.0.1", 80, false},
		{"echo:http", "", 0, true},
		{"echo:70000", "", 0, true},
		{"", "", 0, true},
	}
	for _, c := range cases {
		host, port, err := SplitTarget(c.in, 7)
		if (err != nil) != c.bad || host != c.host || port != c.port {
			t.Errorf("SplitTarget(%q) = %q, %d, %v", c.in, host, port, err)
		}
	}
}
