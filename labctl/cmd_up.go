package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"socketlab/labctl/lab"
)

func upCommand() *cobra.Command {
	var name string
	var recreate, quiet bool
	var timeout time.Duration
	var pool4, pool6 string
	c := &cobra.Command{
		Use:   "up FILE",
		Short: "Create a scenario's networks and nodes and wait until every node is healthy",
		Long: `up creates the scenario's networks (dual stack unless the scenario says otherwise,
with IPv4 and IPv6 subnets allocated where it gives none), creates each node's
container hardened (read-only root, no capabilities, no-new-privileges), joins
it to its networks, starts it and waits until it passes its image's healthcheck.
Then it prints where everything is.

up is idempotent: on a lab that is already up as the file says it changes nothing
and says so. If up fails, or you press Ctrl-C, it removes what it created.`,
		Example: `  labctl up scenarios/default.yaml
  labctl up --name mine scenarios/default.yaml   # a second copy, side by side
  labctl up --recreate scenarios/default.yaml    # after make images, or an edit`,
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: completeYAML,
		RunE: func(cmd *cobra.Command, a []string) error {
			sc, err := loadScenario(a[0])
			if err != nil {
				return err
			}
			if name == "" {
				name = sc.Name
			}
			ctx := cmd.Context()
			if recreate {
				if err := downLab(ctx, name); err != nil && !errors.Is(err, lab.ErrNoLab) {
					return err
				}
			}
			out := cmd.OutOrStdout()
			p := newProgress(out, quiet)
			began := time.Now()
			l, err := upLab(ctx, sc, lab.WithName(name), lab.WithProgress(p.event), lab.WithHealthTimeout(timeout),
				lab.WithPools(pool4, pool6))
			p.done()
			if err != nil {
				if ctx.Err() != nil {
					return exitError{code: 130, err: fmt.Errorf("up %s interrupted: what it had created is removed", name)}
				}
				return fmt.Errorf("up %s: %w", name, err)
			}
			if !l.Changed() {
				fmt.Fprintf(out, "lab %s is already up as %s says: nothing changed\n", name, a[0])
			} else {
				fmt.Fprintf(out, "lab %s is up in %.1fs: every node passed its healthcheck\n", name, time.Since(began).Seconds())
			}
			if quiet {
				return nil
			}
			st, err := l.Status(context.WithoutCancel(ctx))
			if err != nil {
				return err
			}
			fmt.Fprintln(out)
			writeTable(out, st, false)
			var others []string
			if labs, err := listLabs(ctx); err == nil {
				for _, s := range labs {
					if s.Name != name {
						others = append(others, s.Name)
					}
				}
			}
			fmt.Fprintln(out)
			writeHints(out, st, others)
			return nil
		},
	}
	c.Flags().StringVar(&name, "name", "", "name the lab (default: the scenario's name)")
	c.Flags().BoolVar(&recreate, "recreate", false, "take the lab down first if it is up")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the final line")
	c.Flags().DurationVar(&timeout, "timeout", lab.DefaultHealthTimeout, "how long a node may take to become healthy")
	c.Flags().StringVar(&pool4, "ipv4-pool", lab.DefaultPool4, "where IPv4 /24 subnets are taken from when the scenario gives none")
	c.Flags().StringVar(&pool6, "ipv6-pool", lab.DefaultPool6, "where IPv6 /64 subnets are taken from when the scenario gives none")
	return c
}
