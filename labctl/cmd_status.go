package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"socketlab/labctl/lab"
)

func statusCommand() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "status [NAME]",
		Short: "Show a lab's networks and nodes: state, health, every IPv4 and IPv6 address",
		Long: `status shows each network of a lab with its subnets, and each node with its
image, state, health and its IPv4 and IPv6 addresses on every network it joins
(with the DNS aliases it has there), and every impaired link (labctl impair, a
scenario's impair:) with its settings. Without a name, it shows every lab that is up.

READY says what made up call the node ready, as up reported it: the image's
healthcheck (with Docker's own view of it: Docker first runs it one interval
after the node starts, so for a moment it may say "starting" although up has
already run the same check and seen it pass), the node's ready: check from the
scenario (tcp 8080, a log line...), or "no readiness check": the node was only
seen running.`,
		Example: `  labctl status
  labctl status default -o json | jq '.nodes[] | {name, addresses}'`,
		Args:              args(cobra.MaximumNArgs(1)),
		ValidArgsFunction: completeLabs,
		RunE: func(cmd *cobra.Command, a []string) error {
			if output != "table" && output != "json" {
				return usageError{fmt.Errorf("status: -o %q: want table or json", output)}
			}
			ctx := cmd.Context()
			var names []string
			if len(a) == 1 {
				names = a
			} else {
				labs, err := listLabs(ctx)
				if err != nil {
					return err
				}
				for _, l := range labs {
					names = append(names, l.Name)
				}
			}
			out := cmd.OutOrStdout()
			statuses := []*lab.Status{}
			for _, name := range names {
				l, err := openNamed(ctx, name)
				if err != nil {
					return err
				}
				st, err := l.Status(ctx)
				if err != nil {
					return err
				}
				statuses = append(statuses, st)
			}
			if output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if len(a) == 1 {
					return enc.Encode(statuses[0])
				}
				return enc.Encode(statuses)
			}
			if len(statuses) == 0 {
				fmt.Fprintf(out, "no lab is up: %s up scenarios/default.yaml (or make lab)\n", prog)
			}
			for i, st := range statuses {
				if i > 0 {
					fmt.Fprintln(out)
				}
				writeTable(out, st, true)
			}
			return nil
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}
