package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"socketlab/internal/images"
	"socketlab/internal/packet"
	"socketlab/labctl/capture"
	"socketlab/labctl/tap"
)

func captureCommand() *cobra.Command {
	var (
		labName, network, write, filter string
		count, snaplen                  int
		duration                        time.Duration
		drawLadder                      bool
	)
	c := &cobra.Command{
		Use:   "capture [--lab L] NODE[:NETWORK]... | --network N",
		Short: "Show or record the packets nodes send and receive",
		Long: `capture shows every packet a node sends and receives, one line each: time,
node:network, source → destination with ports, protocol, TCP flags, seq and ack
counted from the connection's start, length, the ICMP message, and the first
bytes of the payload as text (welcome's lines and lookup's frames decoded).

NODE captures every network of the node, NODE:NETWORK only that one, and
--network N every node on network N (both ends of each conversation).
-w FILE writes pcapng instead, one interface per node:network, so Wireshark
shows which node saw which packet; -w - streams it to stdout for Wireshark or
tshark. Ctrl-C, --count or --duration ends the capture; the packets the kernel
dropped (the capture fell behind) are reported at the end.

--ladder draws conversations instead of packet lines: each TCP connection as a
ladder diagram (see labctl ladder) once it has closed, the rest when the
capture ends. Capture both ends (--network N) to see lost packets marked.

A capture helper container (socketlab/capture, NET_RAW only, read-only) runs
in each node's network namespace and is removed when the capture ends; no
host tools, no root on the host.

` + packet.FilterSyntax,
		Example: `  labctl capture client                           # then, in another terminal: labctl exec client -- sock welcome welcome
  labctl capture --network lab --filter "tcp port 9999"
  labctl capture -w welcome.pcapng --duration 10s client
  labctl capture -w - client | tshark -r - -Y tcp.flags.fin==1
  labctl capture -w - client | wireshark -k -i -
  labctl capture --ladder --network lab           # ladders as connections close`,
		ValidArgsFunction: completeNodes,
		RunE: func(cmd *cobra.Command, targets []string) error {
			switch {
			case snaplen != 0 && (snaplen < 64 || snaplen > 262144):
				return usageError{fmt.Errorf("--snaplen %d: give 64 to 262144 bytes", snaplen)}
			case count < 0:
				return usageError{fmt.Errorf("--count %d: give a positive number of packets", count)}
			case duration < 0:
				return usageError{fmt.Errorf("--duration %s: give a positive duration such as 10s", duration)}
			}
			if filter != "" {
				if _, err := packet.ParseFilter(filter); err != nil {
					return usageError{fmt.Errorf("--filter: %w\n%s", err, packet.FilterSyntax)}
				}
			}
			if drawLadder && write == "-" {
				return usageError{errors.New("--ladder and -w - both write to stdout: give -w a file")}
			}
			return runCapture(cmd, labName, targets, network, write, tap.Config{Filter: filter, Snaplen: snaplen, Count: count}, duration, drawLadder)
		},
	}
	c.Flags().StringVar(&labName, "lab", "", "the lab (default: the only one up)")
	c.Flags().StringVar(&network, "network", "", "capture every node on this network")
	c.Flags().StringVarP(&write, "write", "w", "", "write pcapng to this file (- for stdout) instead of one line per packet")
	c.Flags().StringVarP(&filter, "filter", "f", "", `keep only matching packets, e.g. "tcp port 9999 or icmp"`)
	c.Flags().IntVarP(&count, "count", "c", 0, "stop after this many packets")
	c.Flags().DurationVarP(&duration, "duration", "d", 0, "stop after this long, e.g. 10s")
	c.Flags().BoolVar(&drawLadder, "ladder", false, "draw each conversation as a ladder diagram instead of packet lines")
	c.Flags().IntVar(&snaplen, "snaplen", 0, fmt.Sprintf("most bytes kept of each packet (default %d: every header, every MTU-1500 frame whole)", tap.DefaultSnaplen))
	c.RegisterFlagCompletionFunc("lab", completeLabs)
	return c
}

func runCapture(cmd *cobra.Command, labName string, args []string, network, write string, cfg tap.Config, duration time.Duration, drawLadder bool) error {
	ctx := cmd.Context()
	l, err := openLab(ctx, labName)
	if err != nil {
		return err
	}
	st, err := l.Status(ctx)
	if err != nil {
		return err
	}
	targets, err := tap.Resolve(st, args, network)
	if err != nil {
		var te *tap.ErrTarget
		if errors.As(err, &te) {
			return usageError{fmt.Errorf("capture: %w", err)}
		}
		return err
	}
	e, err := engine(ctx)
	if err != nil {
		return err
	}
	cfg.Image = images.Ref(images.Capture, e.ImageTag())
	stdout, msgs := cmd.OutOrStdout(), cmd.ErrOrStderr()
	var (
		packets int
		live    *liveLadder
	)
	switch {
	case drawLadder:
		live = newLiveLadder(stdout, tap.Names(st))
		if write != "" {
			file, err := os.Create(write)
			if err != nil {
				return fmt.Errorf("capture: %w", err)
			}
			defer file.Close()
			cfg.Output = file
		}
		cfg.OnPacket = func(p capture.Packet) {
			if !p.Marker {
				packets++
			}
			live.add(p)
		}
	case write == "":
		width := 0
		for _, t := range targets {
			for _, n := range t.Networks() {
				width = max(width, len(t.Node)+1+len(n))
			}
		}
		f := &capture.Formatter{Where: width}
		cfg.OnPacket = func(p capture.Packet) {
			if !p.Marker {
				packets++
			}
			fmt.Fprintln(stdout, f.Line(p))
		}
	case write == "-":
		cfg.Output = stdout
	default:
		file, err := os.Create(write)
		if err != nil {
			return fmt.Errorf("capture: %w", err)
		}
		defer file.Close()
		cfg.Output = file
	}
	if cfg.OnPacket == nil {
		cfg.OnPacket = func(p capture.Packet) {
			if !p.Marker {
				packets++
			}
		}
	}
	s, err := tap.Start(ctx, l, targets, cfg)
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	fmt.Fprintf(msgs, "capturing %s (Ctrl-C to stop)\n", describeTargets(targets))
	var timeout <-chan time.Time
	if duration > 0 {
		timeout = time.After(duration)
	}
	select {
	case <-ctx.Done():
	case <-s.Full():
	case <-timeout:
	}
	res, err := s.Close(context.WithoutCancel(ctx))
	if live != nil {
		live.finish(s.Gaps())
	}
	summary(msgs, packets, res, write, s.Gaps())
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	return nil
}

func describeTargets(ts []tap.Target) string {
	var parts []string
	for _, t := range ts {
		nets := t.Networks()
		if len(nets) == 0 {
			parts = append(parts, t.Node)
			continue
		}
		for _, n := range nets {
			parts = append(parts, t.Node+":"+n)
		}
	}
	return strings.Join(parts, ", ")
}

// summary says what was captured and what the kernel dropped, where and when.
func summary(w io.Writer, packets int, res tap.Result, file string, gaps []capture.Gap) {
	where := ""
	if file != "" && file != "-" {
		where = " to " + file
	}
	fmt.Fprintf(w, "%d packets captured%s; %d dropped by the kernel", packets, where, res.Dropped)
	if res.Dropped > 0 {
		fmt.Fprintf(w, " (the capture fell behind: a shorter --snaplen or a --filter keeps up)")
	}
	fmt.Fprintln(w)
	for _, g := range gaps {
		fmt.Fprintf(w, "  %s: %d dropped between %s and %s\n", g.Where, g.Dropped, g.From.Format("15:04:05.000"), g.To.Format("15:04:05.000"))
	}
}
