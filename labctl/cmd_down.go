package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"socketlab/labctl/lab"
)

func downCommand() *cobra.Command {
	var all, quiet bool
	c := &cobra.Command{
		Use:   "down NAME|FILE... | --all",
		Short: "Remove a lab's containers and networks",
		Long: `down removes every container and network of a lab, found by the lab's label:
the scenario file is not needed (given a file, down reads only the lab's name
from it). --all removes every socketlab lab on this Docker engine. Taking down
a lab that is not up is not an error.`,
		Example: `  labctl down default
  labctl down scenarios/default.yaml
  labctl down --all`,
		Args: args(func(cmd *cobra.Command, a []string) error {
			if all == (len(a) > 0) {
				return errors.New("give lab names or files, or --all")
			}
			return nil
		}),
		ValidArgsFunction: completeLabs,
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx := cmd.Context()
			names, err := downNames(cmd, a, all)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(names) == 0 {
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
			return errors.Join(errs...)
		},
	}
	c.Flags().BoolVar(&all, "all", false, "remove every lab")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the final line")
	return c
}

// downNames turns down's arguments into lab names.
func downNames(cmd *cobra.Command, a []string, all bool) ([]string, error) {
	if all {
		labs, err := listLabs(cmd.Context())
		if err != nil {
			return nil, err
		}
		var names []string
		for _, l := range labs {
			names = append(names, l.Name)
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
