package responder

import (
	"context"
	"errors"
	"io"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"socketlab/internal/result"
	"socketlab/services/internal/probe"
)

// DefaultMessage is what the client sends when given no MESSAGE.
const DefaultMessage = "hello"

// ClientCommand is "sock responder": send one datagram, print the reply.
func ClientCommand() *cobra.Command {
	var o probe.Options
	tries := 1
	cmd := &cobra.Command{
		Use:   "responder HOST[:PORT] [MESSAGE...]",
		Short: "Send one datagram to the UDP responder (9999) and print its reply",
		Long: "Send one UDP datagram (MESSAGE, or \"" + DefaultMessage + "\") to a responder and print the reply,\n" +
			"which names the address, port and family the server saw. Compare it with the local\n" +
			"address in --json: they differ when a NAT sits in between.\n\n" +
			"UDP has no connection: when nothing answers, the client can only wait. 'refused'\n" +
			"means an ICMP port unreachable came back (the host is there, nothing listens);\n" +
			"'timeout' means silence: the host is down or filtered, the datagram or the reply\n" +
			"was lost, or the responder dropped it (rate limit, or a source port of 7, 13, 19, 37).\n" +
			"--tries N sends the datagram again when no reply has come in a part of the timeout:\n" +
			"N tries share --timeout, so a lost request or reply costs one part, not the whole.",
		Example: "  sock responder localhost\n  sock responder -6 responder hi there\n  sock responder --json 127.0.0.1:9999\n  sock responder -t 3s --tries 3 responder   # a try a second",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			msg := DefaultMessage
			if len(args) > 1 {
				msg = strings.Join(args[1:], " ")
			}
			ctx, cancel := o.Context(cmd.Context())
			defer cancel()
			var r *probe.Result
			if tries < 1 {
				r = probe.New("responder", "udp", args[0])
				r.Fail(probe.Errorf(result.Usage, "--tries %d: want 1 or more", tries))
			} else {
				r = Ask(ctx, o, args[0], msg, tries)
			}
			return probe.Exit(r.Report(o, cmd.OutOrStdout(), cmd.ErrOrStderr(), func(w io.Writer) {
				io.WriteString(w, r.Received)
			}))
		},
	}
	o.Register(cmd.Flags())
	cmd.Flags().IntVar(&tries, "tries", 1, "send again when no reply came; the tries share --timeout")
	return cmd
}

var seenRe = regexp.MustCompile(`(\S+) over (IPv[46])`)

// Ask sends msg in one datagram to the responder at target and waits for
// one reply until ctx ends. With tries > 1 it sends the datagram again each
// time o.Timeout/tries passes with no reply (the last try waits until ctx
// ends), and the detail "tries" counts the datagrams sent. Details:
// "seen_as" and "seen_family" (what the server says it saw, when the reply
// names them) and "nat" (seen_as differs from the local address). A reply over MaxReply bytes fails with kind
// "protocol"; silence with kind "timeout"; an ICMP port unreachable with
// kind "refused".
func Ask(ctx context.Context, o probe.Options, target, msg string, tries int) *probe.Result {
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
	buf := make([]byte, 2048)
	var n int
	for try := 1; ; try++ {
		n, err = c.Write([]byte(msg))
		r.BytesSent = int64(n)
		if err != nil {
			r.Fail(probe.ExplainUDP(err, r.Remote, o.Timeout))
			return r
		}
		if tries > 1 {
			r.Detail("tries", try)
		}
		if try < tries {
			_ = c.SetReadDeadline(time.Now().Add(o.Timeout / time.Duration(tries)))
		} else if dl, ok := ctx.Deadline(); ok {
			_ = c.SetReadDeadline(dl)
		}
		n, err = c.Read(buf)
		var ne net.Error
		if err != nil && try < tries && ctx.Err() == nil && errors.As(err, &ne) && ne.Timeout() {
			continue // silence: send again
		}
		break
	}
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
