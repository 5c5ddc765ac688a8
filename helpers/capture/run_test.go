package capture_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	helper "socketlab/helpers/capture"
)

func TestRunBadUsage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad filter", []string{"--filter", "tcp port http"}, 2, `capture: filter "tcp port http": column 10: port needs a number from 0 to 65535, got "http"`},
		{"argument", []string{"tcp"}, 2, `unexpected argument "tcp": a filter goes in --filter`},
		{"snaplen", []string{"--snaplen", "10"}, 2, "--snaplen 10: give 64 to 262144 bytes"},
		{"unknown interface", []string{"-i", "nosuch0"}, 1, `capture: no interface "nosuch0" in this network namespace (there are: lo`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			code := helper.Run(context.Background(), tc.args, &out, &errb)
			if code != tc.code || !strings.Contains(errb.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errb.String(), tc.code, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("stdout has %d bytes; a failed start writes no pcapng", out.Len())
			}
		})
	}
}
