package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"socketlab/helpers/impair/shape"
	"socketlab/internal/packet"
	"socketlab/labctl/lab"
)

func faultCommand() *cobra.Command {
	var (
		labName, match    string
		clear, ingress    bool
		drop, dup, cor    bool
		reorder           bool
		delay             string
		nth, first, every int
		count             int
		hold              time.Duration
	)
	c := &cobra.Command{
		Use:   "fault NODE[:NETWORK] --match EXPR ACTION [WHICH] [--for D] | [NODE[:NETWORK]] --clear",
		Short: "Aim a fault at single packets: drop the first SYN-ACK, delay the third datagram",
		Long: `fault picks packets that a node sends on a network by a filter (the language
of capture --filter) and by their number among the packets it matches from now
on, and drops, delays, duplicates, corrupts or reorders them: the first SYN-ACK
lost, the server's FIN lost, the third datagram of ten gone. Unlike impair's
random loss it does the same thing every time, so a lesson, a test or you can
ask "does my server survive losing the FIN?". Without :NETWORK, every network
the node is on; --ingress acts on what the node receives instead.

ACTION is one of --drop, --delay D (the others pass it), --duplicate,
--corrupt (one bit flipped after the IP header: the receiver's checksum catches
it), --reorder (held until the next matching packet has gone, 5s at most).
WHICH: --nth N (the Nth matching packet, once; the default is 1), --first K
(the first K), --every N (every Nth) with --count K (at most K times).

A helper container with only NET_ADMIN holds the faults in the node's network
namespace, in a user-space delay line (on every kernel: netem cannot pick a
packet); fault returns at once and they stay until --clear (or labctl down).
Several faults on one link meet each packet in the order given: the first
that picks it acts, the others do not see it; an impairment of the link
(labctl impair) comes after them. If the helper dies, the link passes every
packet. labctl status lists the faults in force and how often each fired.

` + packet.FilterSyntax,
		Example: `  labctl fault welcome --match "tcp and syn and ack" --drop          # the next SYN-ACK is lost
  labctl exec client -- sock welcome welcome                          # connects after 1s: the SYN is sent again
  labctl fault echo --match "udp and data" --drop --nth 3             # the third datagram echo sends
  labctl fault welcome --match "tcp and fin" --drop                   # the server's FIN
  labctl fault client --match "udp and data" --delay 300ms --nth 2 --for 10s
  labctl fault echo --match "tcp and data" --duplicate --every 2 --count 3
  labctl status                                                       # faults in force, times fired
  labctl fault --clear                                                # every fault of the lab`,
		Args:              linkArgs(&clear, "name the NODE[:NETWORK] whose packets to pick"),
		ValidArgsFunction: completeLinkArg,
		RunE: func(cmd *cobra.Command, a []string) error {
			node, network, err := linkArg("fault", a)
			if err != nil {
				return err
			}
			fl := cmd.Flags()
			if clear {
				for _, name := range []string{"match", "drop", "delay", "duplicate", "corrupt", "reorder", "nth", "first", "every", "count", "ingress", "for"} {
					if fl.Changed(name) {
						return usageError{fmt.Errorf("fault: --clear takes no --%s", name)}
					}
				}
			}
			var f shape.Fault
			if !clear {
				if !fl.Changed("match") {
					return usageError{errors.New(`fault: say which packets with --match EXPR, e.g. --match "tcp and syn and ack"`)}
				}
				f = shape.Fault{Match: match, Nth: nth, First: first, Every: every, Count: count, Ingress: ingress}
				var actions []string
				for _, act := range []struct {
					set  bool
					name shape.Action
				}{{drop, shape.ActionDrop}, {fl.Changed("delay"), shape.ActionDelay}, {dup, shape.ActionDuplicate}, {cor, shape.ActionCorrupt}, {reorder, shape.ActionReorder}} {
					if act.set {
						f.Action = act.name
						actions = append(actions, "--"+string(act.name))
					}
				}
				if len(actions) != 1 {
					return usageError{fmt.Errorf("fault: give one action of --drop, --delay D, --duplicate, --corrupt, --reorder (got %d: %s)", len(actions), strings.Join(actions, " "))}
				}
				if f.Action == shape.ActionDelay {
					d, err := shape.ParseDuration(delay)
					if err != nil {
						var fe *shape.FieldError
						if errors.As(err, &fe) {
							fe.Field = "delay"
						}
						return usageError{fmt.Errorf("fault: --%w", err)}
					}
					f.Delay = d
				}
				if err := f.Validate(); err != nil {
					return usageError{fmt.Errorf("fault: %s", flagErrors(err))}
				}
			}
			ctx := cmd.Context()
			l, err := openLab(ctx, labName)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if clear {
				did, err := l.ClearFaults(ctx, node, network)
				if err != nil {
					return impairError(err)
				}
				for _, line := range did {
					fmt.Fprintln(out, line)
				}
				fmt.Fprintf(out, "cleared the faults of %s\n", describeTarget(l.Name(), node, network))
				return nil
			}
			links, err := l.AddFaults(ctx, node, network, []shape.Fault{f})
			if err != nil {
				if ctx.Err() != nil {
					return exitError{code: 130, err: errors.New("fault interrupted: nothing of it is left in place")}
				}
				return impairError(err)
			}
			for _, fl := range links {
				fmt.Fprintf(out, "fault on %s:%s (%s): %s\n", fl.Node, fl.Network, dash(fl.Interface), f)
				if n := len(fl.Faults); n > 1 {
					fmt.Fprintf(out, "  after %d other fault(s) on that link\n", n-1)
				}
			}
			labFlag := ""
			if l.Name() != "default" {
				labFlag = " --lab " + l.Name()
			}
			if hold == 0 {
				fmt.Fprintf(out, "it stays until: %s fault%s %s --clear (%s status shows how often it fired)\n", prog, labFlag, a[0], prog)
				return nil
			}
			fmt.Fprintf(out, "holding for %s (Ctrl-C clears now)\n", hold)
			hctx, cancel := holdFor(ctx, hold)
			defer cancel()
			did, err := l.ClearFaults(hctx, node, network)
			if err != nil {
				return err
			}
			for _, line := range did {
				fmt.Fprintln(out, line)
			}
			fmt.Fprintf(out, "cleared the faults of %s\n", describeTarget(l.Name(), node, network))
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&labName, "lab", "", "the lab (default: the only lab that is up)")
	f.BoolVar(&clear, "clear", false, "remove the faults (without NODE: every one of the lab)")
	f.DurationVar(&hold, "for", 0, "hold the fault this long in the foreground, then clear the link's faults (e.g. 30s)")
	f.StringVar(&match, "match", "", `which packets: a capture filter, e.g. "tcp and syn and ack", "udp and data"`)
	f.BoolVar(&drop, "drop", false, "lose the packet (silently, as on a wire)")
	f.StringVar(&delay, "delay", "", "hold the packet this long, e.g. 300ms (the others pass it)")
	f.BoolVar(&dup, "duplicate", false, "send the packet twice (what the node sends only)")
	f.BoolVar(&cor, "corrupt", false, "flip one bit after the IP header")
	f.BoolVar(&reorder, "reorder", false, "hold the packet until the next matching packet has gone")
	f.IntVar(&nth, "nth", 0, "the Nth matching packet from now on, once (default 1)")
	f.IntVar(&first, "first", 0, "the first K matching packets")
	f.IntVar(&every, "every", 0, "every Nth matching packet")
	f.IntVar(&count, "count", 0, "with --every: at most this many times")
	f.BoolVar(&ingress, "ingress", false, "act on what the node receives, not what it sends")
	c.RegisterFlagCompletionFunc("lab", completeLabs)
	return c
}

// flagErrors writes a fault's validation errors with their flags:
// `--match "tcp and synack": column 9: unknown word ...`.
func flagErrors(err error) string {
	var fe shape.Errors
	if !errors.As(err, &fe) {
		return err.Error()
	}
	msgs := make([]string, len(fe))
	for i, e := range fe {
		msgs[i] = "--" + e.Error()
	}
	return strings.Join(msgs, "; ")
}

// writeFaults prints the faults in force under a lab's table.
func writeFaults(w io.Writer, st *lab.Status) {
	if len(st.Faults) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FAULT ON\tNETWORK\tINTERFACE\tFAULT\tFIRED\tMATCHED\t")
	for _, fl := range st.Faults {
		switch {
		case !fl.Running:
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\t\t\n", fl.Node, fl.Network, dash(fl.Interface), "(helper died: every packet passes; clear with fault --clear)")
		case fl.Error != "":
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\t\t\n", fl.Node, fl.Network, dash(fl.Interface), "(cannot ask the helper: "+fl.Error+")")
		}
		if !fl.Running || fl.Error != "" {
			continue
		}
		for _, s := range fl.Faults {
			fired := fmt.Sprint(s.Fired)
			if s.Done() {
				fired += " (done)"
			}
			if s.Held > 0 {
				fired += fmt.Sprintf(", %d held", s.Held)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t\n", fl.Node, fl.Network, dash(fl.Interface), s.Summary, fired, s.Matched)
		}
	}
	tw.Flush()
}

// writeFaultRow is doctor's row for faults, from the impairment probe p
// (nil: the probe failed).
func writeFaultRow(w io.Writer, p *shape.Probe) {
	switch {
	case p == nil:
		fmt.Fprintln(w, "faults\tunknown\tsee impairment")
	case p.NFQueue && p.NetdevEgress:
		fmt.Fprintln(w, "faults\tdelay line\tlabctl fault picks single packets in a user-space delay line (NFQUEUE, fail-open):")
		fmt.Fprintln(w, "\t\tdrop, delay, duplicate, corrupt, reorder the nth, first K or every Nth that a filter matches")
	case p.NFQueue:
		fmt.Fprintln(w, "faults\tdelay line\tlabctl fault picks single packets (NFQUEUE); --duplicate needs the nftables egress hook, which lacks")
	default:
		fmt.Fprintln(w, "faults\tnone\tthe kernel lacks nfnetlink_queue or the NFQUEUE target: labctl fault cannot work on this engine")
	}
}

// linkArgs accepts one NODE[:NETWORK], or none with --clear; missing says
// what to name.
func linkArgs(clear *bool, missing string) cobra.PositionalArgs {
	return args(func(cmd *cobra.Command, a []string) error {
		switch {
		case len(a) > 1:
			return errors.New("name one NODE[:NETWORK]")
		case len(a) == 0 && !*clear:
			return errors.New(missing)
		}
		return nil
	})
}

// completeLinkArg completes the NODE of NODE[:NETWORK].
func completeLinkArg(cmd *cobra.Command, a []string, s string) ([]string, cobra.ShellCompDirective) {
	if len(a) == 0 {
		return completeNodes(cmd, a, s)
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// linkArg splits the NODE[:NETWORK] argument of command what ("" and ""
// when there is none).
func linkArg(what string, a []string) (node, network string, err error) {
	if len(a) == 0 {
		return "", "", nil
	}
	node, network, _ = strings.Cut(a[0], ":")
	if node == "" {
		return "", "", usageError{fmt.Errorf("%s: %q names no node (write NODE or NODE:NETWORK)", what, a[0])}
	}
	return node, network, nil
}

// holdFor waits d or until ctx ends (Ctrl-C), then returns a context for
// undoing what was held, which Ctrl-C no longer cancels.
func holdFor(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
	}
	return context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
}
