package lab

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"socketlab/labctl/scenario"
)

// TestBadOptions: a wrong option value fails the call with ErrInvalid and
// a message naming the value, before the backend is asked anything (a nil
// backend would panic).
func TestBadOptions(t *testing.T) {
	t.Parallel()
	sc := &scenario.Scenario{Name: "ok"}
	for _, tc := range []struct {
		name string
		opt  UpOption
		want string
	}{
		{"lab name", WithName("Bad_Name"), "Bad_Name"},
		{"IPv4 pool", WithPools("10.0.0.0/25", DefaultPool6), "10.0.0.0/25"},
		{"IPv6 pool", WithPools(DefaultPool4, "10.0.0.0/8"), "10.0.0.0/8"},
		{"health timeout", WithHealthTimeout(-time.Second), "-1s"},
		{"image tag", WithImageTag("-x"), `"-x"`},
		{"empty image tag", WithImageTag(""), `""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.Up(context.Background(), sc, tc.opt)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Up with a bad %s: %v, want ErrInvalid naming %s", tc.name, err, tc.want)
			}
			if eo, ok := tc.opt.(EngineOption); ok {
				if _, err := New(nil, eo); !errors.Is(err, ErrInvalid) {
					t.Errorf("New with a bad %s: %v, want ErrInvalid", tc.name, err)
				}
			}
		})
	}
}
