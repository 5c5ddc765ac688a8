package graph

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Mermaid writes g as a Mermaid flowchart: each network a parallelogram
// (its own shape, which every member links to), each node a box, each link
// labelled with the interface and its addresses. Identifiers are derived
// from the names with every character outside [a-z0-9] escaped, so names
// with dashes (and a node and a network of the same name) stay distinct;
// the names themselves appear in quoted labels.
func Mermaid(w io.Writer, g *Graph) error {
	if err := g.check(); err != nil {
		return err
	}
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "---\ntitle: %q\n---\n", g.Name)
	fmt.Fprintln(b, "flowchart TB")
	for _, n := range g.Networks {
		fmt.Fprintf(b, "    %s[/\"%s\"/]\n", mermaidID("net", n.Name), mermaidLabel(n.Name, networkFacts(n)))
	}
	for _, n := range g.Nodes {
		fmt.Fprintf(b, "    %s[\"%s\"]\n", mermaidID("node", n.Name), mermaidLabel(n.Name, nodeFacts(n)))
	}
	for _, l := range g.Links {
		from, to := mermaidID("node", l.Node), mermaidID("net", l.Network)
		if f := linkFacts(l); len(f) > 0 {
			fmt.Fprintf(b, "    %s ---|\"%s\"| %s\n", from, mermaidLines(f), to)
		} else {
			fmt.Fprintf(b, "    %s --- %s\n", from, to)
		}
	}
	fmt.Fprintln(b, "    classDef labnet fill:#ede7f6,stroke:#5e35b1,color:#311b92")
	fmt.Fprintln(b, "    classDef labnode fill:#ffffff,stroke:#455a64,color:#263238")
	if len(g.Networks) > 0 {
		ids := make([]string, len(g.Networks))
		for i, n := range g.Networks {
			ids[i] = mermaidID("net", n.Name)
		}
		fmt.Fprintf(b, "    class %s labnet\n", strings.Join(ids, ","))
	}
	if len(g.Nodes) > 0 {
		ids := make([]string, len(g.Nodes))
		for i, n := range g.Nodes {
			ids[i] = mermaidID("node", n.Name)
		}
		fmt.Fprintf(b, "    class %s labnode\n", strings.Join(ids, ","))
	}
	return b.Flush()
}

// mermaidID makes an identifier Mermaid accepts from kind and name: letters
// and digits stay, every other byte becomes _xx (its hex value), so the
// mapping is one to one.
func mermaidID(kind, name string) string {
	var s strings.Builder
	s.WriteString(kind)
	s.WriteByte('_')
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			s.WriteByte(c)
		} else {
			fmt.Fprintf(&s, "_%02x", c)
		}
	}
	return s.String()
}

// mermaidLabel is a node's label: its name in bold, then one line per fact.
func mermaidLabel(name string, facts []string) string {
	return mermaidLines(append([]string{"<b>" + mermaidText(name) + "</b>"}, escapeAll(facts)...))
}

func mermaidLines(lines []string) string {
	return strings.Join(lines, "<br/>")
}

func escapeAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = mermaidText(x)
	}
	return out
}

// mermaidText escapes text for a quoted Mermaid label: quotes, markup and
// the entity sign become Mermaid's #name; entities, newlines become spaces.
var mermaidText = strings.NewReplacer(
	`"`, "#quot;", "#", "#35;", "<", "#lt;", ">", "#gt;", "\n", " ", "\r", " ",
).Replace

// Dot writes g as an undirected Graphviz graph: each network a filled,
// rounded box, each node a box, each link an edge labelled with the
// interface and its addresses. Every identifier is a quoted string
// ("net:front", "node:web"), so any name is safe.
func Dot(w io.Writer, g *Graph) error {
	if err := g.check(); err != nil {
		return err
	}
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "graph %s {\n", dotQuote(g.Name))
	fmt.Fprintf(b, "  graph [label=%s, labelloc=t, fontname=\"sans-serif\", nodesep=0.4, ranksep=0.9];\n", dotQuote(g.Name))
	fmt.Fprintln(b, "  node [fontname=\"sans-serif\", fontsize=11, shape=box];")
	fmt.Fprintln(b, "  edge [fontname=\"monospace\", fontsize=9, color=\"#546e7a\"];")
	for _, n := range g.Networks {
		fmt.Fprintf(b, "  %s [label=%s, style=\"rounded,filled\", fillcolor=\"#ede7f6\", color=\"#5e35b1\", penwidth=2];\n",
			dotQuote("net:"+n.Name), dotQuote(strings.Join(append([]string{n.Name}, networkFacts(n)...), "\n")))
	}
	for _, n := range g.Nodes {
		color := "#455a64"
		if n.State != "" && n.State != "running" {
			color = "#c62828"
		}
		fmt.Fprintf(b, "  %s [label=%s, color=%s];\n",
			dotQuote("node:"+n.Name), dotQuote(strings.Join(append([]string{n.Name}, nodeFacts(n)...), "\n")), dotQuote(color))
	}
	for _, l := range g.Links {
		fmt.Fprintf(b, "  %s -- %s", dotQuote("node:"+l.Node), dotQuote("net:"+l.Network))
		if f := linkFacts(l); len(f) > 0 {
			fmt.Fprintf(b, " [label=%s]", dotQuote(strings.Join(f, "\n")))
		}
		fmt.Fprintln(b, ";")
	}
	fmt.Fprintln(b, "}")
	return b.Flush()
}

// dotQuote makes s a Graphviz double-quoted string; a newline becomes the
// \n escape, which Graphviz shows as a centred line break.
func dotQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", "").Replace(s) + `"`
}
