package main

import (
	"fmt"

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
			if interactive {
				s.Stdin = cmd.InOrStdin()
			}
			code, err := l.ExecStream(cmd.Context(), a[0], a[1:], s)
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
	c.Flags().StringVar(&labName, "lab", "", "the lab (default: the only lab that is up)")
	c.Flags().BoolVarP(&interactive, "interactive", "i", false, "pass your input to the command")
	c.RegisterFlagCompletionFunc("lab", completeLabs)
	return c
}
