package welcome

import (
	"context"
	"errors"
	"io"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"socketlab/services/internal/probe"
)

// ClientCommand is "sock welcome": connect, optionally say something first,
// print the greeting, and tell how the server closed.
func ClientCommand() *cobra.Command {
	var (
		o    probe.Options
		send string
	)
	cmd := &cobra.Command{
		Use:   "welcome HOST[:PORT]",
		Short: "Fetch the welcome greeting (TCP 9999)",
		Long: "Connect to a welcome server, print its greeting, and report how it closed:\n" +
			"'clean' (FIN) or 'reset' (RST). --send speaks first, to show the server\n" +
			"still closes cleanly.",
		Example: "  sock welcome localhost\n  sock welcome -6 welcome\n  sock welcome --json 127.0.0.1:9999",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := o.Context(cmd.Context())
			defer cancel()
			r := Fetch(ctx, o, args[0], send)
			return probe.Exit(r.Report(o, cmd.OutOrStdout(), cmd.ErrOrStderr(), func(w io.Writer) {
				io.WriteString(w, r.Received)
				if r.Received != "" && !strings.HasSuffix(r.Received, "\n") {
					io.WriteString(w, "\n")
				}
				switch r.Details["close"] {
				case "clean":
					io.WriteString(w, "(the server closed the connection cleanly: FIN)\n")
				case "reset":
					io.WriteString(w, "(the server reset the connection: RST)\n")
				}
			}))
		},
	}
	o.Register(cmd.Flags())
	cmd.Flags().StringVar(&send, "send", "", "text to send before reading the greeting")
	return cmd
}

// Fetch connects to a welcome server at target, sends send (if any) and
// reads until the server closes. Details: "close" is "clean" or "reset".
func Fetch(ctx context.Context, o probe.Options, target, send string) *probe.Result {
	r := probe.New("welcome", "tcp", target)
	c, err := probe.Dial(ctx, o, r, "tcp", target, Port)
	if err != nil {
		r.Fail(err)
		return r
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if send != "" {
		n, err := io.WriteString(c, send)
		r.Sent, r.BytesSent = send, int64(n)
		if err != nil {
			r.Fail(probe.Explain(err, r.Remote, o.Timeout))
			return r
		}
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			r.FirstByte()
			b.Write(buf[:n])
		}
		if err == nil {
			continue
		}
		r.Received, r.BytesReceived = b.String(), int64(b.Len())
		switch {
		case errors.Is(err, io.EOF):
			r.Detail("close", "clean")
		case errors.Is(err, syscall.ECONNRESET):
			r.Detail("close", "reset")
			r.Fail(probe.Explain(err, r.Remote, o.Timeout))
		case ctx.Err() != nil:
			r.Fail(probe.Explain(context.DeadlineExceeded, r.Remote, o.Timeout))
		default:
			r.Fail(probe.Explain(err, r.Remote, o.Timeout))
		}
		return r
	}
}
