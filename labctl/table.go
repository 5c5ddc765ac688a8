package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"socketlab/internal/images"
	"socketlab/labctl/lab"
)

// writeTable prints a lab's status for a person: its networks with their
// subnets, then each node with its state, what makes it ready (unless
// !health) and every address.
func writeTable(w io.Writer, st *lab.Status, health bool) {
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
		if n.Egress {
			stack += ", egress"
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
	hosts := slices.ContainsFunc(st.Nodes, func(n lab.NodeStatus) bool { return n.Host != "" })
	head := "NODE\tIMAGE\tSTATE\t"
	if hosts {
		head += "HOST\t"
	}
	if health {
		head += "READY\t"
	}
	fmt.Fprintln(tw, head+"NETWORK\tIPv4\tIPv6\t")
	for _, n := range st.Nodes {
		state := n.State
		if n.State == "exited" {
			state = fmt.Sprintf("exited (%d)", n.ExitCode)
		}
		image := strings.TrimSuffix(n.Image, ":latest")
		cols := n.Name + "\t" + image + "\t" + state + "\t"
		if hosts {
			cols += n.Host + "\t"
		}
		if health {
			cols += readyColumn(n) + "\t"
		}
		blank := strings.Repeat("\t", strings.Count(cols, "\t"))
		if len(n.Addresses) == 0 {
			fmt.Fprintf(tw, "%s-\t-\t-\t\n", cols)
		}
		for i, a := range n.Addresses {
			net := a.Network
			if len(a.Aliases) > 0 {
				net += " (" + strings.Join(a.Aliases, ", ") + ")"
			}
			lead := cols
			if i > 0 {
				lead = blank
			}
			fmt.Fprintf(tw, "%s%s\t%s\t%s\t\n", lead, net, dash(a.IPv4), dash(a.IPv6))
		}
	}
	tw.Flush()
	writeImpairments(w, st)
	writeFaults(w, st)
}

// readyColumn says what made the node ready, as up and status agree:
// Docker's view of the image's healthcheck, the scenario's check that up
// saw pass, or that nothing was checked.
func readyColumn(n lab.NodeStatus) string {
	switch n.Ready {
	case "healthcheck":
		return "healthcheck: " + n.Health
	case "":
		return "no readiness check"
	}
	return n.Ready + " (passed at up)"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeHints prints the commands a person can try next: a client for each
// service, run inside a client node that shares a network with it. others
// are the other labs that are up: with any, the commands name this one.
func writeHints(w io.Writer, st *lab.Status, others []string) {
	nets := map[string][]string{} // node -> networks
	var clients []string
	for _, n := range st.Nodes {
		for _, a := range n.Addresses {
			nets[n.Name] = append(nets[n.Name], a.Network)
		}
		if images.HasSock(imageName(n.Image)) {
			clients = append(clients, n.Name)
		}
	}
	labFlag := ""
	if labFlagNeeded(st.Lab, others, os.Getenv(labEnv)) {
		labFlag = " --lab " + st.Lab
	}
	fmt.Fprintln(w, "Try:")
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	for _, n := range st.Nodes {
		svc, ok := images.LookupService(imageName(n.Image))
		if !ok {
			continue
		}
		flags := ""
		if svc.Interactive {
			flags = " -i"
		}
		for _, c := range clients {
			if slices.ContainsFunc(nets[n.Name], func(s string) bool { return slices.Contains(nets[c], s) }) {
				fmt.Fprintf(tw, "  %s exec%s%s %s -- %s\t%s\n", prog, flags, labFlag, c, fmt.Sprintf(svc.Try, n.Name), svc.Comment)
				break
			}
		}
	}
	for _, n := range st.Nodes {
		if imageName(n.Image) == images.Toolbox {
			fmt.Fprintf(tw, "  %s exec -it%s %s -- bash\ta shell in the lab: python3, ip, ss, nc, curl, dig, tcpdump\n", prog, labFlag, n.Name)
			break
		}
	}
	fmt.Fprintf(tw, "  %s status %s\tevery address; what made each node ready\n", prog, st.Lab)
	fmt.Fprintf(tw, "  %s logs%s -f NODE\ta server's JSON log lines\n", prog, labFlag)
	fmt.Fprintf(tw, "  %s down %s\twhen you are done\n", prog, st.Lab)
	tw.Flush()
}

// labFlagNeeded reports whether the hints for lab must say --lab: unless
// $SOCKETLAB_LAB (env) names it, they must when it is not the default lab
// (which a person may start later) or when other labs are up, where a
// command without --lab cannot tell which lab is meant.
func labFlagNeeded(lab string, others []string, env string) bool {
	if env != "" {
		return env != lab
	}
	return lab != "default" || len(others) > 0
}

// imageName is the scenario's name of an image reference: socketlab/echo:latest -> echo.
func imageName(ref string) string {
	if name, ok := images.ShortName(ref); ok {
		return name
	}
	name, _, _ := strings.Cut(ref, ":")
	return name
}
