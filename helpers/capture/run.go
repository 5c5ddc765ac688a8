package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	decode "socketlab/internal/packet"
)

// Usage is the helper's --help text.
const Usage = `capture: stream this network namespace's packets as pcapng to stdout.

Usage: capture [--interface NAME]... [--snaplen N] [--count N] [--duration D] [--filter EXPR]

Run by labctl as a helper container in a node's network namespace, with only
CAP_NET_RAW. stdout is pcapng (one interface per captured interface, and an
interface statistics block whenever the kernel dropped packets); stderr
is JSON lines: {"event":"start",...} once live, {"event":"end",...} with the
packets received and dropped by the kernel at the end.
Exit status: 0 after a capture that ended (signal, count, duration),
1 when it failed, 2 for bad usage.

Flags:
`

// Run parses args and captures until ctx ends (main ends it on SIGTERM or
// SIGINT), the count or the duration is reached. It returns the exit status.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("capture", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg  Config
		expr string
	)
	fs.StringSliceVarP(&cfg.Interfaces, "interface", "i", nil, "interface to capture, repeatable (default: every interface that is up, except loopback)")
	fs.IntVar(&cfg.Snaplen, "snaplen", DefaultSnaplen, "most bytes kept of each packet")
	fs.IntVarP(&cfg.Count, "count", "c", 0, "stop after this many packets (0: no limit)")
	fs.DurationVarP(&cfg.Duration, "duration", "d", 0, "stop after this long, e.g. 10s (0: no limit)")
	fs.StringVarP(&expr, "filter", "f", "", `keep only packets that match, e.g. "tcp port 9999 or icmp"`)
	fs.IntVar(&cfg.RingMiB, "ring", 32, "kernel ring size per interface, in MiB")
	fs.Usage = func() {
		fmt.Fprint(stderr, Usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "capture: %v (see capture --help)\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "capture: unexpected argument %q: a filter goes in --filter (see capture --help)\n", strings.Join(fs.Args(), " "))
		return 2
	}
	switch {
	case cfg.Snaplen < 64 || cfg.Snaplen > DefaultSnaplen:
		fmt.Fprintf(stderr, "capture: --snaplen %d: give 64 to %d bytes\n", cfg.Snaplen, DefaultSnaplen)
		return 2
	case cfg.Count < 0 || cfg.Duration < 0 || cfg.RingMiB < 1:
		fmt.Fprintln(stderr, "capture: --count and --duration must not be negative, --ring at least 1")
		return 2
	}
	if expr != "" {
		f, err := decode.ParseFilter(expr)
		if err != nil {
			fmt.Fprintf(stderr, "capture: %v\n", err)
			return 2
		}
		cfg.Filter = f
	}
	if _, err := Capture(ctx, cfg, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
