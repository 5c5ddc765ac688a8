package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"socketlab/labctl/graph"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

func graphCommand() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "graph [FILE|LAB]",
		Short: "Draw a lab: its networks, the nodes on them and every interface",
		Long: `graph draws a lab: each network as one shared segment (with its stack and
subnets), each node (image, ports) and a line for every interface that joins a
node to a network.

From a scenario FILE it draws what the lab will be, offline (the file is
validated first). From a running LAB (or, with no argument, the only lab that is
up) it draws what the lab is now: the interface names inside each node, the
addresses Docker gave them, and each node's state and health.

The output is text for a tool, or a picture:
  mermaid  (the default) a Mermaid flowchart: paste it into a ` + "```mermaid" + ` block of
           a Markdown file and GitHub, GitLab or an editor's preview draws it;
           the text itself reads as "node --- network" lines
  dot      Graphviz: labctl graph -o dot FILE | dot -Tpng > lab.png
  svg      a picture drawn by labctl itself (no Graphviz, no JavaScript); open
           it in a browser
  json     the graph as data, for scripts`,
		Example: `  labctl graph scenarios/default.yaml              # Mermaid text, for a Markdown file
  labctl graph -o svg scenarios/chat.yaml > chat.svg
  labctl graph -o svg default > default.svg        # the running lab, live addresses
  labctl graph -o dot default | dot -Tpng > lab.png
  labctl graph -o json default | jq '.links[] | {node, interface, ipv6}'`,
		Args:              args(cobra.MaximumNArgs(1)),
		ValidArgsFunction: completeLabs,
		RunE: func(cmd *cobra.Command, a []string) error {
			if !slices.Contains(graph.Formats, output) {
				return usageError{fmt.Errorf("graph: -o %q: want one of %s", output, strings.Join(graph.Formats, ", "))}
			}
			ctx := cmd.Context()
			var (
				g   *graph.Graph
				err error
			)
			if len(a) == 1 && isFile(a[0]) {
				g, err = fileGraph(a[0])
			} else {
				name := ""
				if len(a) == 1 {
					name = a[0]
				}
				g, err = liveGraph(ctx, name)
			}
			if err != nil {
				return err
			}
			// Whole or nothing: a graph that cannot be drawn prints no half.
			var b bytes.Buffer
			if err := graph.Write(&b, g, output); err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b.Bytes())
			return err
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "mermaid", "format: "+strings.Join(graph.Formats, ", "))
	c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(graph.Formats, cobra.ShellCompDirectiveNoFileComp))
	return c
}

// fileGraph is the graph of a scenario file; a file that is missing or
// does not validate is an exit status 2.
func fileGraph(path string) (*graph.Graph, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, exitError{code: 2, err: fmt.Errorf("graph: %w (give a scenario file, or the name of a lab that is up)", err)}
	}
	sc, err := loadScenario(path)
	if err != nil {
		return nil, err
	}
	return graph.FromScenario(sc), nil
}

// liveGraph is the graph of the lab called name (or of the only one up),
// as the engine holds it now. A lab that is not up is an exit status 2.
func liveGraph(ctx context.Context, name string) (*graph.Graph, error) {
	notUp := func(err error) error {
		return exitError{code: 2, err: fmt.Errorf("graph: %w; or give a scenario file to draw it offline", err)}
	}
	if name == "" {
		labs, err := listLabs(ctx)
		if err != nil {
			return nil, err
		}
		if len(labs) == 0 {
			return nil, notUp(fmt.Errorf("no lab is up: start one with %s up scenarios/default.yaml", prog))
		}
	}
	l, err := openLab(ctx, name)
	switch {
	case errors.Is(err, lab.ErrNoLab), errors.Is(err, lab.ErrInvalid):
		return nil, notUp(err)
	case err != nil:
		return nil, err
	}
	st, err := l.Status(ctx)
	if err != nil {
		return nil, err
	}
	return graph.FromStatus(st, labScenario(st)), nil
}

// labScenario is the scenario a running lab was brought up from, when its
// file is still there and still describes this lab; nil otherwise. It only
// adds what Docker does not keep (the ports a node serves).
func labScenario(st *lab.Status) *scenario.Scenario {
	if st.File == "" {
		return nil
	}
	sc, err := scenario.Load(st.File)
	if err != nil || len(sc.Nodes) != len(st.Nodes) {
		return nil
	}
	for i, n := range st.Nodes {
		if sc.Nodes[i].Name != n.Name {
			return nil
		}
	}
	return sc
}
