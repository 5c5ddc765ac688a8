package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"socketlab/labctl/lab"
)

func upCommand() *cobra.Command {
	var name string
	var recreate, quiet bool
	var timeout time.Duration
	var pool4, pool6, pull string
	var anyPath bool
	c := &cobra.Command{
		Use:   "up FILE",
		Short: "Create a scenario's networks and nodes and wait until every node is healthy",
		Long: `up creates the scenario's networks (dual stack unless the scenario says otherwise,
with IPv4 and IPv6 subnets allocated where it gives none), creates each node's
container hardened (read-only root, no capabilities, no-new-privileges), joins
it to its networks, starts it and waits until it is ready: its image's
healthcheck, or the node's ready: check (a TCP port that accepts, a UDP port that
answers, a log line, a command); a node with neither is reported as running with
no readiness check. Then it prints where everything is.

Images are never pulled unless --pull missing says so (the socketlab images,
built here by make images and make toolbox, never are). Host paths in files and
mounts must stay inside the scenario's folder unless --allow-host-paths.

up is idempotent: on a lab that is already up as the file says it changes nothing
and says so. If up fails, or you press Ctrl-C, it removes what it created.`,
		Example: `  labctl up scenarios/default.yaml
  labctl up --name mine scenarios/default.yaml   # a second copy, side by side
  labctl up --recreate scenarios/default.yaml    # after make images, or an edit
  labctl --hosts hosts.yaml up scenarios/default.yaml   # across the hosts of a swarm (docs/multihost.md)`,
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: completeYAML,
		RunE: func(cmd *cobra.Command, a []string) error {
			if pull != "never" && pull != "missing" {
				return usageError{fmt.Errorf("up: --pull %q: want never or missing", pull)}
			}
			// Host paths are found here, once, so that a bad one is an exit
			// status 2 before the engine is asked anything.
			sc, err := loadScenario(a[0], anyPath)
			if err != nil {
				return err
			}
			if name == "" {
				name = sc.Name
			}
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			p := newProgress(out, quiet)
			began := time.Now()
			opts := []lab.UpOption{lab.WithName(name), lab.WithProgress(p.event), lab.WithHealthTimeout(timeout),
				lab.WithPools(pool4, pool6)}
			if pull == "missing" {
				opts = append(opts, lab.WithPullMissing())
			}
			if anyPath {
				opts = append(opts, lab.WithHostPathsAnywhere())
			}
			if recreate {
				opts = append(opts, lab.WithRecreate())
			}
			l, err := upLab(ctx, sc, opts...)
			p.done()
			if err != nil {
				if ctx.Err() != nil {
					return exitError{code: 130, err: fmt.Errorf("up %s interrupted: what it had created is removed", name)}
				}
				return fmt.Errorf("up %s: %w", name, err)
			}
			st, err := l.Status(context.WithoutCancel(ctx))
			if err != nil {
				return err
			}
			if !l.Changed() {
				fmt.Fprintf(out, "lab %s is already up as %s says: nothing changed\n", name, a[0])
			} else {
				fmt.Fprintf(out, "lab %s is up in %.1fs: %s\n", name, time.Since(began).Seconds(), readySummary(st))
			}
			if quiet {
				return nil
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
	c.Flags().StringVar(&pull, "pull", "never", "never, or missing: pull the images that are not there (never socketlab's)")
	c.Flags().BoolVar(&anyPath, "allow-host-paths", false, "let files and mounts name host paths outside the scenario's folder (for a scenario you trust)")
	return c
}

// readySummary says what up checked: how many nodes passed their image's
// healthcheck, how many their scenario's check, and how many only run.
func readySummary(st *lab.Status) string {
	var health, checked, none int
	for _, n := range st.Nodes {
		switch n.Ready {
		case "healthcheck":
			health++
		case "":
			none++
		default:
			checked++
		}
	}
	// its or their: "1 passed its ready: check", "2 passed their ready: checks".
	passed := func(n int, what string) string {
		if n == 1 {
			return fmt.Sprintf("1 passed its %s", what)
		}
		return fmt.Sprintf("%d passed their %ss", n, what)
	}
	var parts []string
	if health > 0 {
		parts = append(parts, passed(health, "image's healthcheck"))
	}
	if checked > 0 {
		parts = append(parts, passed(checked, "ready: check"))
	}
	if none > 0 {
		parts = append(parts, fmt.Sprintf("%d running (no readiness check)", none))
	}
	if len(parts) == 0 {
		return "no nodes"
	}
	return strings.Join(parts, ", ")
}
