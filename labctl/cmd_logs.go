package main

import (
	"github.com/spf13/cobra"
)

func logsCommand() *cobra.Command {
	var labName string
	var follow bool
	c := &cobra.Command{
		Use:   "logs NODE",
		Short: "Print a node's log: a server's JSON line per connection or datagram",
		Example: `  labctl logs echo
  labctl logs -f chat            # follow; Ctrl-C to stop
  labctl logs --lab mine welcome`,
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: completeNodes,
		RunE: func(cmd *cobra.Command, a []string) error {
			l, err := openLab(cmd.Context(), labName)
			if err != nil {
				return err
			}
			return l.Logs(cmd.Context(), a[0], follow, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	c.Flags().StringVar(&labName, "lab", "", "the lab (default: the only lab that is up)")
	c.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines")
	c.RegisterFlagCompletionFunc("lab", completeLabs)
	return c
}
