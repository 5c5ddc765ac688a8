package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"socketlab/internal/packet"
	"socketlab/labctl/ladder"
	"socketlab/labctl/tap"
)

func ladderCommand() *cobra.Command {
	var (
		output, filter, labName string
		conv                    int
	)
	c := &cobra.Command{
		Use:   "ladder FILE|- [--filter EXPR] [-o text|svg|html|json]",
		Short: "Draw a capture's conversations as ladder diagrams, with each socket's TCP state",
		Long: `ladder draws what passed between two sockets as the textbook draws it: a lane
for each end, an arrow for each packet crossing in time (its flags, seq and ack
counted from the connection's start, payload length, the first bytes of the
payload), and each end's TCP state beside its lane as the packets change it:
SYN_SENT, SYN_RECEIVED, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSING,
TIME_WAIT, CLOSE_WAIT, LAST_ACK, CLOSED.

One ladder per conversation: a TCP connection or a UDP flow. An ICMP error is
drawn on the flow it answers: a datagram to a closed port gets its port
unreachable; a refused connection is its SYN and the RST that answers it.

FILE is any pcap or pcapng (- reads standard input): labctl capture -w, labctl
test --capture, or tshark, dumpcap or tcpdump on the lab's bridges (Ethernet or
Linux cooked, "any"). A packet seen at several places (leaving one node and
arriving at another) is one arrow. Marked on the arrows: a retransmission, a
duplicate the network made, and a packet lost — seen leaving one end and never
arriving at the other, which needs both ends captured (labctl capture --network
N does). Where the kernel dropped packets before the capture read them, the
ladder says the capture is incomplete instead of calling anything lost.

Lanes are named by node: from the capture's interfaces (node:network, as labctl
writes them) or, with --lab, from the running lab's addresses; otherwise by
address:port.

Output: text (the default; fits 100 columns), svg (one picture, no scripts),
html (a page with a picture per conversation: open it in a browser, print it)
or json (every arrow and state change, for scripts).

` + packet.FilterSyntax,
		Example: `  labctl capture -w welcome.pcapng --network lab --duration 10s
  labctl ladder welcome.pcapng
  labctl ladder -o html welcome.pcapng > welcome.html
  labctl ladder --filter "tcp port 9999" -o svg welcome.pcapng > welcome.svg
  tshark -i any -w - -a duration:10 | labctl ladder -
  labctl ladder -o json welcome.pcapng | jq '.conversations[].states'`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if !slices.Contains(ladder.Formats, output) {
				return usageError{fmt.Errorf("ladder: -o %q: want one of %s", output, strings.Join(ladder.Formats, ", "))}
			}
			opt := ladder.Options{}
			if filter != "" {
				f, err := packet.ParseFilter(filter)
				if err != nil {
					return usageError{fmt.Errorf("ladder: --filter: %w\n%s", err, packet.FilterSyntax)}
				}
				opt.Filter = f
			}
			if labName != "" {
				l, err := openLab(cmd.Context(), labName)
				if err != nil {
					return err
				}
				st, err := l.Status(cmd.Context())
				if err != nil {
					return err
				}
				opt.Names = tap.Names(st)
			}
			var in io.Reader = cmd.InOrStdin()
			name := "standard input"
			if a[0] != "-" {
				f, err := os.Open(a[0])
				if err != nil {
					return fmt.Errorf("ladder: %w", err)
				}
				defer f.Close()
				in, name = f, a[0]
			}
			l, err := ladder.Read(in, opt)
			if err != nil {
				if errors.Is(err, ladder.ErrFormat) {
					return usageError{fmt.Errorf("%s: %w", name, err)}
				}
				return fmt.Errorf("%s: %w", name, err)
			}
			if conv != 0 {
				if conv < 1 || conv > len(l.Conversations) {
					return usageError{fmt.Errorf("ladder: --conversation %d: the capture has %d conversations (1 to %d)", conv, len(l.Conversations), len(l.Conversations))}
				}
				l.Conversations = l.Conversations[conv-1 : conv]
			}
			return writeLadder(cmd.OutOrStdout(), l, output, "labctl ladder "+name)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "text", "format: "+strings.Join(ladder.Formats, ", "))
	c.Flags().StringVarP(&filter, "filter", "f", "", `draw only matching packets, e.g. "tcp port 9999"`)
	c.Flags().StringVar(&labName, "lab", "", "name lanes by the nodes of this running lab")
	c.Flags().IntVar(&conv, "conversation", 0, "draw only conversation N (as numbered in the text output)")
	c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(ladder.Formats, cobra.ShellCompDirectiveNoFileComp))
	c.RegisterFlagCompletionFunc("lab", completeLabs)
	return c
}

// writeLadder writes l in format, whole or not at all.
func writeLadder(w io.Writer, l *ladder.Ladder, format, title string) error {
	var b bytes.Buffer
	var err error
	switch format {
	case "svg":
		err = ladder.WriteSVGAll(&b, l)
	case "html":
		err = ladder.WriteHTML(&b, l, title)
	case "json":
		err = ladder.WriteJSON(&b, l)
	default:
		err = ladder.WriteText(&b, l)
	}
	if err != nil {
		return err
	}
	_, err = w.Write(b.Bytes())
	return err
}
