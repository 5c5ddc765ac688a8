package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"socketlab/labctl/lab"
)

func execCommand() *cobra.Command {
	var labName string
	var interactive bool
	c := &cobra.Command{
		Use:   "exec NODE -- COMMAND [ARG...]",
		Short: "Run a command inside a node, e.g. a client against another node",
		Long: `exec runs a program inside a node and exits with its exit status. Traffic then
really crosses the lab's Docker networks: run the clients from the client node,
against the other nodes by name (Docker's DNS answers with their IPv4 and IPv6
addresses). Images hold nothing but their program (no shell): in the client
node that is sock, in a service node the server itself (e.g. its healthcheck).

With -i, your input is passed to the command (for the interactive chat client).`,
		Example: `  labctl exec client -- sock welcome -6 welcome
  labctl exec client -- sock echo -4 echo hello over IPv4
  labctl exec client -- sock browse -6 http://web/
  labctl exec client -- sock lookup lookup search socket
  labctl exec -i client -- sock chat chat --nick ada
  labctl exec echo -- echo healthcheck
  labctl exec client -- sock --help`,
		Args: args(func(cmd *cobra.Command, a []string) error {
			if cmd.ArgsLenAtDash() != 1 || len(a) < 2 {
				return fmt.Errorf("want NODE -- COMMAND [ARG...]")
			}
			return nil
		}),
		ValidArgsFunction: func(cmd *cobra.Command, a []string, s string) ([]string, cobra.ShellCompDirective) {
			if len(a) == 0 {
				return completeNodes(cmd, a, s)
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, a []string) error {
			l, err := openLab(cmd.Context(), labName)
			if err != nil {
				return err
			}
			s := lab.Streams{Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()}
			var in *endableReader
			if interactive {
				in = newEndableReader(cmd.InOrStdin())
				s.Stdin = in
			}
			// Ctrl-C is passed on as the end of input, which the interactive
			// clients take as "quit" (sock chat sends QUIT): Docker has no
			// way to signal an exec'd process. The command gets a moment to
			// finish, then labctl exits 130, as a shell does, and quietly.
			ctx := cmd.Context()
			ectx, cancel := context.WithCancel(context.WithoutCancel(ctx))
			defer cancel()
			stop := context.AfterFunc(ctx, func() {
				if in != nil {
					in.end()
				}
				time.AfterFunc(interruptGrace, cancel)
			})
			defer stop()
			code, err := l.ExecStream(ectx, a[0], a[1:], s)
			if ctx.Err() != nil {
				return exitError{code: 130}
			}
			if err != nil {
				return err
			}
			if code == 126 || code == 127 {
				return exitError{code: code, err: fmt.Errorf("%s could not run %q: images hold only their own program (in a client node: sock)", a[0], a[1])}
			}
			if code != 0 {
				return exitError{code: code}
			}
			return nil
		},
	}
	labFlag(c, &labName)
	c.Flags().BoolVarP(&interactive, "interactive", "i", false, "pass your input to the command")
	return c
}

// interruptGrace is how long exec waits, after Ctrl-C, for the command to end.
const interruptGrace = 2 * time.Second

// endableReader passes r on until end is called, then reads as at end of
// input, even while a Read of r is blocked (a terminal that has nothing).
type endableReader struct {
	pr   *io.PipeReader
	pw   *io.PipeWriter
	once sync.Once
}

func newEndableReader(r io.Reader) *endableReader {
	pr, pw := io.Pipe()
	go func() {
		_, err := io.Copy(pw, r)
		pw.CloseWithError(err)
	}()
	return &endableReader{pr: pr, pw: pw}
}

func (e *endableReader) Read(p []byte) (int, error) { return e.pr.Read(p) }

// end makes every Read from now on return io.EOF.
func (e *endableReader) end() { e.once.Do(func() { e.pw.Close() }) }
