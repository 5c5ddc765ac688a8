package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"socketlab/labctl/lab"
)

// writeTable prints a lab's status for a person: its networks with their
// subnets, then each node with its state, health and every address.
func writeTable(w io.Writer, st *lab.Status) {
	fmt.Fprintf(w, "lab %s", st.Lab)
	if st.File != "" {
		fmt.Fprintf(w, " (%s)", st.File)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NETWORK\tSTACK\tIPv4 SUBNET\tIPv6 SUBNET\t")
	for _, n := range st.Networks {
		stack := n.Stack
		if n.Internal {
			stack += ", internal"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", n.Name, stack, dash(n.IPv4), dash(n.IPv6))
	}
	tw.Flush()
	for _, n := range st.Networks {
		if n.Note != "" {
			fmt.Fprintf(w, "  %s: %s\n", n.Name, n.Note)
		}
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tIMAGE\tSTATE\tHEALTH\tNETWORK\tIPv4\tIPv6\t")
	for _, n := range st.Nodes {
		state := n.State
		if n.State == "exited" {
			state = fmt.Sprintf("exited (%d)", n.ExitCode)
		}
		image := strings.TrimSuffix(n.Image, ":latest")
		if len(n.Addresses) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t-\t-\t-\t\n", n.Name, image, state, n.Health)
		}
		for i, a := range n.Addresses {
			net := a.Network
			if len(a.Aliases) > 0 {
				net += " (" + strings.Join(a.Aliases, ", ") + ")"
			}
			if i == 0 {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", n.Name, image, state, n.Health, net, dash(a.IPv4), dash(a.IPv6))
			} else {
				fmt.Fprintf(tw, "\t\t\t\t%s\t%s\t%s\t\n", net, dash(a.IPv4), dash(a.IPv6))
			}
		}
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// tries are commands to try against each service from a client node, over
// IPv6 (add -4 for IPv4); %s is the service node's name.
var tries = map[string]string{
	"welcome":   "sock welcome -6 %s",
	"echo":      "sock echo -6 %s hello",
	"responder": "sock responder -4 %s",
	"chat":      "sock chat -6 %s --nick ada   (interactive: add -i after exec)",
	"lookup":    "sock lookup -6 %s search socket",
	"web":       "sock browse -6 http://%s/",
}

// writeHints prints the commands a person can try next: a client for each
// service, run inside a client node that shares a network with it.
func writeHints(w io.Writer, st *lab.Status) {
	nets := map[string][]string{} // node -> networks
	var clients []string
	for _, n := range st.Nodes {
		for _, a := range n.Addresses {
			nets[n.Name] = append(nets[n.Name], a.Network)
		}
		if imageName(n.Image) == "client" {
			clients = append(clients, n.Name)
		}
	}
	fmt.Fprintln(w, "Try:")
	labFlag := ""
	if st.Lab != "default" {
		labFlag = " --lab " + st.Lab
	}
	for _, n := range st.Nodes {
		try, ok := tries[imageName(n.Image)]
		if !ok {
			continue
		}
		for _, c := range clients {
			if slices.ContainsFunc(nets[n.Name], func(s string) bool { return slices.Contains(nets[c], s) }) {
				fmt.Fprintf(w, "  %s exec%s %s -- %s\n", prog, labFlag, c, fmt.Sprintf(try, n.Name))
				break
			}
		}
	}
	fmt.Fprintf(w, "  %s status %s          every address, again\n", prog, st.Lab)
	fmt.Fprintf(w, "  %s logs%s -f NODE     a server's JSON log lines\n", prog, labFlag)
	fmt.Fprintf(w, "  %s down %s      when you are done\n", prog, st.Lab)
}

// imageName is the scenario's name of an image reference: socketlab/echo:latest -> echo.
func imageName(ref string) string {
	ref = strings.TrimPrefix(ref, "socketlab/")
	name, _, _ := strings.Cut(ref, ":")
	return name
}
