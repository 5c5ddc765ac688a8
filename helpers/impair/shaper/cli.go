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
  impair fault serve IFACE [FAULT]...
                                   hold faults aimed at single packets on IFACE until
                                   SIGTERM or SIGINT, then revert
  impair fault add IFACE FAULT...  add faults to the helper serving IFACE (after its own)
  impair fault list IFACE          print each fault in force on IFACE and how often it fired
Settings: durations like 50ms, percentages like 20%, rates like 1mbit (bits per second).
FAULT: --match EXPR (--drop | --delay D | --duplicate | --corrupt | --reorder)
       [--nth N | --first K | --every N [--count K]] [--ingress]
  EXPR is a capture filter ("tcp and syn and ack"); the Nth packet it matches from now
  on (default 1), the first K, or every Nth (at most K times) is acted on; --ingress:
  what IFACE receives instead of what it sends. A packet meets the faults in order and
  the first that picks it acts; reorder holds it until the next matching packet has gone.
Stdout is JSON lines: probe, applied, stats, cleared, faults, error.`

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
	case "fault":
		return fault(ctx, args[1:], emit, fail)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return shape.ExitOK
	}
	return fail(shape.ExitUsage, "", fmt.Errorf("unknown command %q: use probe, apply, clear or fault", args[0]))
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

// fault is impair fault serve|add|list.
func fault(ctx context.Context, args []string, emit func(shape.Event), fail func(int, string, error) int) int {
	if len(args) < 2 {
		return fail(shape.ExitUsage, "", errors.New("fault: write impair fault serve|add|list IFACE [FAULT...]"))
	}
	op, name := args[0], args[1]
	faults, rest, err := shape.ParseFaults(args[2:])
	switch {
	case err != nil:
		return fail(shape.ExitUsage, name, fmt.Errorf("fault %s: %w", op, err))
	case len(rest) > 0:
		return fail(shape.ExitUsage, name, fmt.Errorf("fault %s: unexpected %q: each fault starts with --match EXPR", op, rest[0]))
	case op == "list" && len(faults) > 0:
		return fail(shape.ExitUsage, name, errors.New("fault list takes no faults"))
	case op == "add" && len(faults) == 0:
		return fail(shape.ExitUsage, name, errors.New("fault add: give a fault, e.g. --match \"udp and data\" --drop --nth 3"))
	}
	link, err := Interface(name)
	if err != nil {
		return fail(shape.ExitFailed, name, err)
	}
	dev := link.Attrs().Name
	switch op {
	case "serve":
		fs, err := ServeFaults(link, faults)
		if err != nil {
			code := shape.ExitFailed
			if errors.Is(err, ErrUnsupported) {
				code = shape.ExitUnsupported
			}
			return fail(code, dev, err)
		}
		emit(shape.Event{Event: shape.EventApplied, Interface: dev, Mechanism: shape.MechanismDelayLine, Faults: fs.Faults()})
		<-ctx.Done()
		states := fs.Faults()
		if err := fs.Close(); err != nil {
			return fail(shape.ExitFailed, dev, fmt.Errorf("revert: %w", err))
		}
		emit(shape.Event{Event: shape.EventCleared, Interface: dev, Faults: states})
		return shape.ExitOK
	case "add", "list":
		ev, err := askFaults(dev, faultRequest{Op: op, Faults: faults})
		if err != nil {
			return fail(shape.ExitFailed, dev, err)
		}
		emit(ev)
		if ev.Event == shape.EventError {
			return shape.ExitFailed
		}
		return shape.ExitOK
	}
	return fail(shape.ExitUsage, "", fmt.Errorf("fault: unknown command %q: use serve, add or list", op))
}
