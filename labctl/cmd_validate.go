package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"socketlab/labctl/scenario"
)

func validateCommand() *cobra.Command {
	var anyPath bool
	c := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check scenario files; print every problem with file:line:column (exit 2 if any)",
		Long: `validate reads each scenario as up would, strictly (unknown keys are errors),
and prints every problem it finds at once: where it is (file:line:column), the
element (nodes.alice.networks[1]), what is wrong and, when it can tell, how to
fix it, including host paths of files and mounts that do not exist or leave the
scenario's folder (--allow-host-paths lifts that). Exit status 0 when every file
is valid, 2 otherwise. No Docker needed.

It also warns (on stderr, without failing) about what is valid yet cannot work:
a step aimed at an address outside the lab, or at a network's gateway (the
host), from a node on no network with egress: true. A lab is sealed: its nodes
reach its own networks only.`,
		Example:           `  labctl validate scenarios/*.yaml`,
		Args:              args(cobra.MinimumNArgs(1)),
		ValidArgsFunction: completeYAML,
		RunE: func(cmd *cobra.Command, a []string) error {
			out, bad := cmd.OutOrStdout(), 0
			for _, path := range a {
				sc, err := scenario.Load(path)
				if err == nil {
					err = sc.ResolveHostPaths(anyPath)
				}
				if err != nil {
					bad++
					var errs scenario.Errors
					if errors.As(err, &errs) {
						for _, e := range errs {
							fmt.Fprintln(cmd.ErrOrStderr(), e)
						}
						continue
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", path, err)
					continue
				}
				for _, w := range sc.Warnings() {
					fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
				}
				fmt.Fprintf(out, "%s: ok (lab %s: %d networks, %d nodes, %d steps)\n", path, sc.Name, len(sc.Networks), len(sc.Nodes), len(sc.Steps))
			}
			if bad > 0 {
				return exitError{code: 2, err: fmt.Errorf("%d of %d files invalid", bad, len(a))}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&anyPath, "allow-host-paths", false, "accept files and mounts outside the scenario's folder")
	return c
}

func schemaCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of scenario files (for editors)",
		Long: `schema prints the JSON Schema generated from the scenario format's Go types.
The repository keeps it as scenarios/scenario.schema.json; a scenario's first
line points yaml-language-server (VS Code, Neovim...) at it:

  # yaml-language-server: $schema=./scenario.schema.json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := scenario.Schema()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
}
