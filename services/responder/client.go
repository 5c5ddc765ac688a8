package responder

import (
	"context"
	"io"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"socketlab/internal/result"
	"socketlab/services/internal/probe"
)

// DefaultMessage is what the client sends when given no MESSAGE.
const DefaultMessage = "hello"

// ClientCommand is "sock responder": send one datagram, print the reply.
func ClientCommand() *cobra.Command {
	var o probe.Options
	cmd := &cobra.Command{
		Use:   "responder HOST[:PORT] [MESSAGE...]",
		Short: "Send one datagram to the UDP responder (9999) and print its reply",
		Long: "Send one UDP datagram (MESSAGE, or \"" + DefaultMessage + "\") to a responder and print the reply,\n" +
			"which names the address, port and family the server saw. Compare it with the local\n" +
			"address in --json: they differ when a NAT sits in between.\n\n" +
			"UDP has no connection: when nothing answers, the client can only wait. 'refused'\n" +
			"means an ICMP port unreachable came back (the host is there, nothing listens);\n" +
			"'timeout' means silence: the host is down or filtered, the datagram or the reply\n" +
			"was lost, or the responder dropped it (rate limit, or a source port of 7, 13, 19, 37).",
		Example: "  sock responder localhost\n  sock responder -6 responder hi there\n  sock responder --json 127.0.0.1:9999",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			msg := DefaultMessage
			if len(args) > 1 {
				msg = strings.Join(args[1:], " ")
			}
			ctx, cancel := o.Context(cmd.Context())
			defer cancel()
			r := Ask(ctx, o, args[0], msg)
			return probe.Exit(r.Report(o, cmd.OutOrStdout(), cmd.ErrOrStderr(), func(w io.Writer) {
				io.WriteString(w, r.Received)
			}))
		},
	}
	o.Register(cmd.Flags())
	return cmd
}

var seenRe = regexp.MustCompile(`(\S+) over (IPv[46])`)

// Ask sends msg in one datagram to the responder at target and waits for
// one reply until ctx ends. Details: "seen_as" and "seen_family" (what the
// server says it saw, when the reply names them) and "nat" (seen_as differs
// from the local address). A reply over MaxReply bytes fails with kind
// "protocol"; silence with kind "timeout"; an ICMP port unreachable with
// kind "refused".
func Ask(ctx context.Context, o probe.Options, target, msg string) *probe.Result {
	r := probe.New("responder", "udp", target)
	r.Sent = msg
	c, err := probe.Dial(ctx, o, r, "udp", target, Port)
	if err != nil {
		r.Fail(err)
		return r
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	n, err := c.Write([]byte(msg))
	r.BytesSent = int64(n)
	if err != nil {
		r.Fail(probe.ExplainUDP(err, r.Remote, o.Timeout))
		return r
	}
	buf := make([]byte, 2048)
	n, err = c.Read(buf)
	if err != nil {
		if ctx.Err() != nil {
			err = context.DeadlineExceeded
		}
		r.Fail(probe.ExplainUDP(err, r.Remote, o.Timeout))
		return r
	}
	r.FirstByte()
	r.Received, r.BytesReceived = string(buf[:n]), int64(n)
	if n > MaxReply {
		r.Fail(probe.Errorf(result.Protocol, "%s replied with %d bytes, over the %d-byte limit", r.Remote, n, MaxReply))
		return r
	}
	if m := seenRe.FindStringSubmatch(r.Received); m != nil {
		r.Detail("seen_as", m[1])
		r.Detail("seen_family", m[2])
		r.Detail("nat", m[1] != r.Local)
	}
	return r
}
