package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"socketlab/helpers/impair/shape"
	"socketlab/labctl/lab"
)

func impairCommand() *cobra.Command {
	var labName string
	var clear bool
	var hold time.Duration
	values := map[string]*string{}
	c := &cobra.Command{
		Use:   "impair NODE[:NETWORK] --delay D --loss P ... | [NODE[:NETWORK]] --clear",
		Short: "Degrade a node's link: delay, jitter, loss, duplication, reordering, corruption, rate",
		Long: `impair changes what a node sends on a network, as a bad link would: it delays
packets (with jitter), drops, duplicates, reorders or corrupts a share of them,
or limits the rate. Both IPv4 and IPv6, every protocol. Without :NETWORK, every
network the node is on.

A small helper container with only NET_ADMIN runs in the node's network
namespace and holds the impairment: impair returns at once and it stays until
--clear (or labctl down). --for holds it only while impair runs, and reverts
on exit or Ctrl-C. If the helper dies, the link passes traffic again.

--clear without a node heals every link of the lab. labctl status lists the
impairments in force; labctl doctor says how this engine's kernel does it.

Settings: durations like 50ms, percentages like 20%, rates like 1mbit (bits
per second). Jitter is at most the delay; reorder needs a delay.`,
		Example: `  labctl impair client --loss 20%              # every network of client
  labctl exec client -- sock echo --udp --count 200 echo
  labctl impair client:front --delay 100ms --jitter 10ms
  labctl impair client --rate 1mbit --for 30s  # reverts after 30s or Ctrl-C
  labctl impair client --clear                 # or: labctl impair --clear (the whole lab)`,
		Args:              linkArgs(&clear, "name the NODE[:NETWORK] to impair"),
		ValidArgsFunction: completeLinkArg,
		RunE: func(cmd *cobra.Command, a []string) error {
			node, network, err := linkArg("impair", a)
			if err != nil {
				return err
			}
			s, given, err := impairSettings(cmd, values)
			switch {
			case err != nil:
				return usageError{fmt.Errorf("impair: %w", err)}
			case clear && (given || hold != 0):
				return usageError{errors.New("impair: --clear takes no settings and no --for")}
			}
			ctx := cmd.Context()
			l, err := openLab(ctx, labName)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if clear {
				if err := l.Heal(ctx, node, network); err != nil {
					return impairError(err)
				}
				fmt.Fprintf(out, "healed %s\n", describeTarget(l.Name(), node, network))
				return nil
			}
			ims, err := l.ImpairLinks(ctx, node, network, s)
			if err != nil {
				if ctx.Err() != nil {
					return exitError{code: 130, err: errors.New("impair interrupted: nothing of it is left in place")}
				}
				return impairError(err)
			}
			for _, im := range ims {
				fmt.Fprintf(out, "impaired %s:%s (%s): %s, by %s\n", im.Node, im.Network, dash(im.Interface), im.Summary, mechanismName(im.Mechanism))
			}
			labFlag := ""
			if l.Name() != "default" {
				labFlag = " --lab " + l.Name()
			}
			if hold == 0 {
				fmt.Fprintf(out, "it stays until: %s impair%s %s --clear\n", prog, labFlag, a[0])
				return nil
			}
			fmt.Fprintf(out, "holding for %s (Ctrl-C reverts now)\n", hold)
			hctx, cancel := holdFor(ctx, hold)
			defer cancel()
			if err := l.Heal(hctx, node, network); err != nil {
				return err
			}
			fmt.Fprintf(out, "healed %s\n", describeTarget(l.Name(), node, network))
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&labName, "lab", "", "the lab (default: the only lab that is up)")
	f.BoolVar(&clear, "clear", false, "remove the impairment (without NODE: every one of the lab)")
	f.DurationVar(&hold, "for", 0, "hold the impairment this long in the foreground, then revert (e.g. 30s)")
	help := map[string]string{
		"delay":     "hold every packet this long, e.g. 100ms",
		"jitter":    "vary the delay by up to this much either way, e.g. 10ms",
		"loss":      "drop this share of packets, e.g. 20%",
		"duplicate": "send this share of packets twice, e.g. 1%",
		"reorder":   "send this share of packets at once, ahead of the delayed ones, e.g. 25%",
		"corrupt":   "flip one bit in this share of packets, e.g. 0.1%",
		"rate":      "limit the bandwidth, in bits per second, e.g. 1mbit",
	}
	for _, name := range shape.Fields {
		values[name] = f.String(name, "", help[name])
	}
	c.RegisterFlagCompletionFunc("lab", completeLabs)
	return c
}

// impairSettings reads the settings flags that were given, reporting every
// problem at once; given tells whether any was.
func impairSettings(cmd *cobra.Command, values map[string]*string) (shape.Settings, bool, error) {
	given := map[string]string{}
	for _, name := range shape.Fields {
		if cmd.Flags().Changed(name) {
			given[name] = *values[name]
		}
	}
	if len(given) == 0 {
		if clear, _ := cmd.Flags().GetBool("clear"); clear {
			return shape.Settings{}, false, nil
		}
		return shape.Settings{}, false, errors.New("give at least one of --" + strings.Join(shape.Fields, ", --") + ", or --clear")
	}
	s, err := shape.Parse(given)
	if err != nil {
		var fe shape.Errors
		if errors.As(err, &fe) {
			msgs := make([]string, len(fe))
			for i, e := range fe {
				msgs[i] = "--" + e.Error()
			}
			return s, true, errors.New(strings.Join(msgs, "; "))
		}
		return s, true, err
	}
	return s, true, nil
}

// impairError makes a bad node, network or setting an exit status 2.
func impairError(err error) error {
	if errors.Is(err, lab.ErrNoNode) || errors.Is(err, lab.ErrNoNetwork) || errors.Is(err, lab.ErrInvalid) {
		return usageError{err}
	}
	return err
}

func describeTarget(labName, node, network string) string {
	switch {
	case node == "":
		return "every link of lab " + labName
	case network == "":
		return "every link of " + node
	}
	return node + ":" + network
}

// mechanismName says for a person how the kernel carries an impairment out.
func mechanismName(m string) string {
	switch m {
	case shape.MechanismNetem:
		return "the kernel's netem"
	case shape.MechanismFallback:
		return "the fallback (a user-space delay line, nftables, TBF: this kernel has no netem)"
	}
	return dash(m)
}

// writeImpairments prints the impairments in force under a lab's table.
func writeImpairments(w io.Writer, st *lab.Status) {
	if len(st.Impairments) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IMPAIRED\tNETWORK\tINTERFACE\tSETTINGS\t")
	for _, im := range st.Impairments {
		settings := im.Summary
		if !im.Running {
			settings += " (helper died: traffic flows; heal with impair --clear)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", im.Node, im.Network, dash(im.Interface), settings)
	}
	tw.Flush()
}
