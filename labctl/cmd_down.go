package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"socketlab/labctl/lab"
)

func downCommand() *cobra.Command {
	var all, everyone, quiet, images bool
	c := &cobra.Command{
		Use:   "down NAME|FILE... | --all | --images",
		Short: "Remove a lab's containers and networks",
		Long: `down removes every container and network of a lab, found by the lab's label:
the scenario file is not needed (given a file, down reads only the lab's name
from it). --all removes every lab you brought up on this Docker engine (each
lab records who created it); other people's labs on a shared engine stay, unless
you add --everyone, which asks first on a terminal. Taking down a lab that is
not up is not an error.

A node with files runs an image made for them, socketlab/node-files:<hash>, one
per version of its files: down removes the lab's, unless another lab runs the
same. --images removes every such image no container runs (with or without
labs to take down): up makes them again when it needs them.`,
		Example: `  labctl down default
  labctl down scenarios/default.yaml
  labctl down --all                 # your labs
  labctl down --images              # the images of nodes' files that no lab runs`,
		Args: args(func(cmd *cobra.Command, a []string) error {
			if all == (len(a) > 0) && !(images && len(a) == 0 && !all) {
				return errors.New("give lab names or files, or --all, or --images")
			}
			if everyone && !all {
				return errors.New("--everyone goes with --all")
			}
			return nil
		}),
		ValidArgsFunction: completeLabs,
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx := cmd.Context()
			names, err := downNames(cmd, a, all, everyone)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(names) == 0 && !images {
				fmt.Fprintln(out, "no lab is up")
				return nil
			}
			var errs []error
			for _, name := range names {
				p := newProgress(out, quiet)
				began := time.Now()
				err := downLab(ctx, name, lab.WithProgress(p.event))
				p.done()
				if errors.Is(err, lab.ErrNoLab) {
					fmt.Fprintf(out, "lab %s is not up: nothing to do\n", name)
					continue
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(out, "lab %s is down in %.1fs\n", name, time.Since(began).Seconds())
			}
			if images {
				errs = append(errs, removeFilesImages(cmd))
			}
			return errors.Join(errs...)
		},
	}
	c.Flags().BoolVar(&all, "all", false, "remove every lab you brought up")
	c.Flags().BoolVar(&everyone, "everyone", false, "with --all: every socketlab lab on the engine, other users' too")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the final line")
	c.Flags().BoolVar(&images, "images", false, "also remove every image of nodes' files (socketlab/node-files) that no container runs")
	return c
}

// removeFilesImages is down --images: the images of nodes' files that no
// container runs go, and down says how many.
func removeFilesImages(cmd *cobra.Command) error {
	e, err := engine(cmd.Context())
	if err != nil {
		return err
	}
	removed, err := e.RemoveFilesImages(cmd.Context())
	what := "images"
	if len(removed) == 1 {
		what = "image"
	}
	fmt.Fprintf(cmd.OutOrStdout(), "removed %d %s of nodes' files (socketlab/node-files); those a lab runs stay\n", len(removed), what)
	return err
}

// downNames turns down's arguments into lab names.
func downNames(cmd *cobra.Command, a []string, all, everyone bool) ([]string, error) {
	if all {
		labs, err := listLabs(cmd.Context())
		if err != nil {
			return nil, err
		}
		names, others := pickLabs(labs, lab.Creator(), everyone)
		if len(others) > 0 && isTerminal(cmd.OutOrStdout()) {
			fmt.Fprintf(cmd.OutOrStdout(), "remove %d labs of other users: %s? [y/N] ", len(others), strings.Join(others, ", "))
			answer, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
			if a := strings.TrimSpace(strings.ToLower(answer)); a != "y" && a != "yes" {
				return nil, exitError{code: 1, err: errors.New("nothing removed")}
			}
		}
		return names, nil
	}
	var names []string
	for _, arg := range a {
		if !isFile(arg) {
			names = append(names, arg)
			continue
		}
		sc, err := loadScenario(arg)
		if err != nil {
			return nil, err
		}
		names = append(names, sc.Name)
	}
	return names, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "creator unknown"
	}
	return s
}

// pickLabs chooses what down --all removes: the labs me created, and with
// everyone the others too (others lists those, naming their creators).
func pickLabs(labs []lab.Summary, me string, everyone bool) (names, others []string) {
	for _, l := range labs {
		switch {
		case l.Creator == me:
			names = append(names, l.Name)
		case everyone:
			names = append(names, l.Name)
			others = append(others, fmt.Sprintf("%s (%s)", l.Name, orUnknown(l.Creator)))
		}
	}
	return names, others
}
