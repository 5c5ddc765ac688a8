package shaper

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"time"

	"socketlab/helpers/impair/shape"
)

const usage = `usage:
  impair probe                     print what this kernel offers (one JSON line)
  impair apply [--stats 5s] IFACE [--delay D] [--jitter D] [--loss P] [--duplicate P]
               [--reorder P] [--corrupt P] [--rate R] [IFACE [settings]]...
                                   impair each IFACE (a name or a MAC address) and hold
                                   until SIGTERM or SIGINT, then revert
  impair clear IFACE...            remove what a helper left on each IFACE
Settings: durations like 50ms, percentages like 20%, rates like 1mbit (bits per second).
Stdout is JSON lines: probe, applied, stats, cleared, error.`

// Run is the helper's command line: it returns the exit code (shape.Exit*).
// apply holds until ctx ends (main cancels it on SIGTERM and SIGINT).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	out := json.NewEncoder(stdout)
	emit := func(e shape.Event) { _ = out.Encode(e) }
	fail := func(code int, iface string, err error) int {
		emit(shape.Event{Event: shape.EventError, Interface: iface, Error: err.Error()})
		fmt.Fprintf(stderr, "impair: %v\n", err)
		return code
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return shape.ExitUsage
	}
	switch args[0] {
	case "probe":
		p := Probe()
		emit(shape.Event{Event: shape.EventProbe, Probe: &p})
		return shape.ExitOK
	case "clear":
		if len(args) < 2 {
			return fail(shape.ExitUsage, "", errors.New("clear: name the interfaces to clear, e.g. impair clear eth0"))
		}
		code := shape.ExitOK
		for _, name := range args[1:] {
			link, err := Interface(name)
			if err == nil {
				err = Clear(link)
			}
			if err != nil {
				code = fail(shape.ExitFailed, name, err)
				continue
			}
			emit(shape.Event{Event: shape.EventCleared, Interface: link.Attrs().Name})
		}
		return code
	case "apply":
		return apply(ctx, args[1:], emit, fail)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return shape.ExitOK
	}
	return fail(shape.ExitUsage, "", fmt.Errorf("unknown command %q: use probe, apply or clear", args[0]))
}

// target is one IFACE and its settings from apply's command line.
type target struct {
	iface string
	s     shape.Settings
}

// parseApply reads apply's arguments: global flags, then groups of IFACE
// followed by its settings' flags.
func parseApply(args []string) (every time.Duration, ts []target, err error) {
	g := flag.NewFlagSet("apply", flag.ContinueOnError)
	g.SetOutput(io.Discard)
	g.DurationVar(&every, "stats", 0, "print the delay line's counters this often (0: never)")
	if err := g.Parse(args); err != nil {
		return 0, nil, fmt.Errorf("apply: %w", err)
	}
	rest := g.Args()
	if len(rest) == 0 {
		return 0, nil, errors.New("apply: name an interface, e.g. impair apply eth0 --delay 50ms")
	}
	for len(rest) > 0 {
		t := target{iface: rest[0]}
		fs := flag.NewFlagSet(t.iface, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var ferrs shape.Errors
		for _, f := range shape.Fields {
			fs.Func(f, "", func(v string) error {
				if err := t.s.Set(f, v); err != nil {
					var fe *shape.FieldError
					if errors.As(err, &fe) {
						ferrs = append(ferrs, fe)
					}
				}
				return nil
			})
		}
		if err := fs.Parse(rest[1:]); err != nil {
			return 0, nil, fmt.Errorf("apply %s: %w", t.iface, err)
		}
		if len(ferrs) == 0 {
			if err := t.s.Validate(); err != nil {
				ferrs = err.(shape.Errors)
			}
		}
		if len(ferrs) > 0 {
			return 0, nil, fmt.Errorf("apply %s: %w", t.iface, ferrs)
		}
		ts = append(ts, t)
		rest = fs.Args()
	}
	seen := map[string]bool{}
	for _, t := range ts {
		if seen[t.iface] {
			return 0, nil, fmt.Errorf("apply: interface %s is named twice", t.iface)
		}
		seen[t.iface] = true
	}
	return every, ts, nil
}

func apply(ctx context.Context, args []string, emit func(shape.Event), fail func(int, string, error) int) int {
	every, ts, err := parseApply(args)
	if err != nil {
		return fail(shape.ExitUsage, "", err)
	}
	sh, err := New()
	if err != nil {
		return fail(shape.ExitFailed, "", err)
	}
	for _, t := range ts {
		link, err := Interface(t.iface)
		var mech string
		if err == nil {
			mech, err = sh.Apply(link, t.s)
		}
		if err != nil {
			_, _ = sh.Close()
			code := shape.ExitFailed
			if errors.Is(err, ErrUnsupported) {
				code = shape.ExitUnsupported
			}
			return fail(code, t.iface, err)
		}
		emit(shape.Event{Event: shape.EventApplied, Interface: link.Attrs().Name, Mechanism: mech, Settings: t.s.Values()})
	}
	var tick <-chan time.Time
	if every > 0 {
		tk := time.NewTicker(every)
		defer tk.Stop()
		tick = tk.C
	}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick:
			for _, a := range sh.Applied() {
				if a.Stats != nil {
					emit(shape.Event{Event: shape.EventStats, Interface: a.Interface, Stats: a.Stats})
				}
			}
		}
	}
	applied, err := sh.Close()
	for _, a := range applied {
		emit(shape.Event{Event: shape.EventCleared, Interface: a.Interface, Stats: a.Stats})
	}
	if err != nil {
		return fail(shape.ExitFailed, "", fmt.Errorf("revert: %w", err))
	}
	return shape.ExitOK
}

// Command is the helper's command line for apply on each interface of
// settings (name or MAC address → settings), for callers that start it:
// ["apply", "eth0", "--delay", "50ms", ...], interfaces in sorted order.
func Command(settings map[string]shape.Settings) []string {
	names := make([]string, 0, len(settings))
	for n := range settings {
		names = append(names, n)
	}
	slices.Sort(names)
	args := []string{"apply"}
	for _, n := range names {
		args = append(append(args, n), settings[n].Args()...)
	}
	return args
}
