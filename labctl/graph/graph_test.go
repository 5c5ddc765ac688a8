package graph

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"socketlab/internal/labtest"
	"socketlab/labctl/scenario"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func loadGraph(t *testing.T, file string) *Graph {
	t.Helper()
	sc, err := scenario.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return FromScenario(sc)
}

// The default lab, drawn from its file, is exactly the golden files (go
// test -update rewrites them after a deliberate change; read the diff).
func TestGoldenDefaultLab(t *testing.T) {
	g := loadGraph(t, "../../scenarios/default.yaml")
	for _, f := range Formats {
		t.Run(f, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, g, f); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "default."+f)
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s output differs from %s (go test -update rewrites it):\n%s", f, golden, b.String())
			}
		})
	}
}

// The default lab's graph says what its file says: seven nodes on two
// dual-stack networks, the client on both, the services' ports.
func TestDefaultLabContent(t *testing.T) {
	g := loadGraph(t, "../../scenarios/default.yaml")
	if len(g.Networks) != 2 || g.Networks[0].Name != "front" || g.Networks[0].Stack != "dual" {
		t.Errorf("networks = %+v, want front and back, dual", g.Networks)
	}
	var client []string
	for _, l := range g.Links {
		if l.Node == "client" {
			client = append(client, l.Network)
		}
	}
	if strings.Join(client, " ") != "front back" {
		t.Errorf("client links = %v, want front and back", client)
	}
	ports := map[string]string{}
	for _, n := range g.Nodes {
		ports[n.Name] = strings.Join(n.Ports, ",")
	}
	for node, want := range map[string]string{"echo": "tcp/7,udp/7", "responder": "udp/9999", "web": "tcp/80", "client": ""} {
		if ports[node] != want {
			t.Errorf("%s ports = %q, want %q", node, ports[node], want)
		}
	}
}

// Every scenario of the library draws in every format, and each output is
// what its reader accepts: Graphviz for dot, the Mermaid syntax check,
// an XML parser for SVG, a JSON decoder for JSON.
func TestEveryScenario(t *testing.T) {
	files, err := filepath.Glob("../../scenarios/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios found: %v", err)
	}
	for _, file := range files {
		g := loadGraph(t, file)
		t.Run(g.Name, func(t *testing.T) { acceptedEverywhere(t, g) })
	}
}

// A live graph, with names that need quoting, a node and a network of the
// same name, three networks, a node spanning all three, a stopped node and
// an impairment, renders all of it.
func TestLiveGraph(t *testing.T) {
	g := &Graph{
		Name: "my-lab",
		Networks: []Network{
			{Name: "front-net", Stack: "dual", IPv4: "10.80.1.0/24", IPv6: "fd00:80:1::/64"},
			{Name: "router", Stack: "ipv4", IPv4: "10.80.2.0/24", Internal: true},
			{Name: "v6-only", Stack: "ipv6", IPv6: "fd00:80:3::/64"},
		},
		Nodes: []Node{
			{Name: "web-1", Image: "socketlab/web:latest", Ports: []string{"tcp/80"}, State: "running"},
			{Name: "router", Image: "client", State: "running"},
			{Name: "echo", Image: "echo", Ports: []string{"tcp/7", "udp/7"}, State: "exited"},
			{Name: "lonely", Image: "welcome"},
		},
		Links: []Link{
			{Node: "web-1", Network: "front-net", Interface: "eth0", IPv4: "10.80.1.5", IPv6: "fd00:80:1::5", Aliases: []string{"www"}},
			{Node: "router", Network: "front-net", Interface: "eth0", IPv4: "10.80.1.2", IPv6: "fd00:80:1::2"},
			{Node: "router", Network: "router", Interface: "eth1", IPv4: "10.80.2.2", Impairment: "loss 10%, delay 50ms"},
			{Node: "router", Network: "v6-only", Interface: "eth2", IPv6: "fd00:80:3::2"},
			{Node: "echo", Network: "v6-only", Interface: "eth0", IPv6: "fd00:80:3::7"},
		},
	}
	out := acceptedEverywhere(t, g)
	text := svgText(t, out["svg"])
	for _, want := range []string{"my-lab", "front-net", "10.80.1.0/24", "internal", "state: exited", "ports: tcp/7, udp/7",
		"10.80.1.5", "fd00:80:1::5", "aka www", "impaired: loss 10%, delay 50ms", "→ v6-only", "fd00:80:3::7", "lonely"} {
		if !strings.Contains(text, want) {
			t.Errorf("the SVG's text lacks %q:\n%s", want, text)
		}
	}
	for _, want := range []string{`"node:router" -- "net:router"`, `"node:web-1"`, `impaired: loss 10%, delay 50ms`} {
		if !strings.Contains(out["dot"], want) {
			t.Errorf("dot lacks %s:\n%s", want, out["dot"])
		}
	}
	for _, want := range []string{"node_web_2d1 ---|", "net_v6_2donly", "node_router ---|", "net_router"} {
		if !strings.Contains(out["mermaid"], want) {
			t.Errorf("mermaid lacks %s:\n%s", want, out["mermaid"])
		}
	}
	var back Graph
	if err := json.Unmarshal([]byte(out["json"]), &back); err != nil || len(back.Links) != 5 || back.Links[2].Impairment == "" {
		t.Errorf("json does not round-trip: %v %+v", err, back)
	}
}

// A graph that links to what it does not have is refused by every format,
// with an error naming the link.
func TestBrokenGraph(t *testing.T) {
	g := &Graph{Name: "x", Nodes: []Node{{Name: "a"}}, Networks: []Network{{Name: "n"}},
		Links: []Link{{Node: "a", Network: "nope"}}}
	for _, f := range []string{"mermaid", "dot", "svg"} {
		err := Write(io.Discard, g, f)
		if err == nil || !strings.Contains(err.Error(), `network "nope"`) {
			t.Errorf("%s: err = %v, want one naming network \"nope\"", f, err)
		}
	}
	if err := Write(io.Discard, g, "png"); err == nil || !strings.Contains(err.Error(), "mermaid") {
		t.Errorf("png: err = %v, want the list of formats", err)
	}
}

// A node's PORT variable or --port argument moves the ports it serves.
func TestPortsMove(t *testing.T) {
	for name, n := range map[string]*scenario.Node{
		"env":     {Image: "echo", Env: map[string]string{"PORT": "7007"}},
		"flag":    {Image: "echo", Args: []string{"--port", "7007"}},
		"flag=":   {Image: "echo", Args: []string{"--port=7007"}},
		"default": {Image: "echo"},
	} {
		want := "tcp/7007,udp/7007"
		if name == "default" {
			want = "tcp/7,udp/7"
		}
		if got := strings.Join(ports(n), ","); got != want {
			t.Errorf("%s: ports = %s, want %s", name, got, want)
		}
	}
}

// The Mermaid check is itself a test tool: it must reject what Mermaid
// rejects or misreads.
func TestMermaidCheckRejects(t *testing.T) {
	head := "flowchart TB\n"
	for name, src := range map[string]string{
		"dash in id":     head + "    a-b[\"x\"]\n",
		"raw quote":      head + "    a[\"say \"hi\"\"]\n",
		"undeclared":     head + "    a[\"x\"]\n    a --- b\n",
		"twice":          head + "    a[\"x\"]\n    a[\"y\"]\n",
		"stray hash":     head + "    a[\"#1 lab\"]\n",
		"keyword end":    head + "    end[\"x\"]\n",
		"no header":      "    a[\"x\"]\n",
		"unknown class":  head + "    a[\"x\"]\n    class a nope\n",
		"unquoted label": head + "    a[x]\n",
	} {
		if err := checkMermaid(src); err == nil {
			t.Errorf("%s: accepted:\n%s", name, src)
		}
	}
	if err := checkMermaid(head + "    a[\"x<br/>y #quot;q#quot;\"]\n    b[/\"n\"/]\n    a ---|\"eth0\"| b\n"); err != nil {
		t.Errorf("a valid diagram is rejected: %v", err)
	}
}

// acceptedEverywhere renders g in every format, checks each with its
// reader and returns the outputs by format.
func acceptedEverywhere(t *testing.T, g *Graph) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range Formats {
		var b bytes.Buffer
		if err := Write(&b, g, f); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = b.String()
	}
	if err := checkMermaid(out["mermaid"]); err != nil {
		t.Errorf("mermaid: %v\n%s", err, out["mermaid"])
	}
	svgText(t, out["svg"])
	var back Graph
	if err := json.Unmarshal([]byte(out["json"]), &back); err != nil || back.Name != g.Name {
		t.Errorf("json: %v (name %q)", err, back.Name)
	}
	t.Run("graphviz", func(t *testing.T) {
		dot := labtest.NeedCommand(t, "dot", "graphviz")
		cmd := exec.Command(dot, "-Tsvg")
		cmd.Stdin = strings.NewReader(out["dot"])
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		svg, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Fatalf("dot -Tsvg: %v: %s\n%s", err, stderr.String(), out["dot"])
		}
		// Graphviz drew every node and network.
		drawn := svgText(t, string(svg))
		for _, n := range g.Nodes {
			if !strings.Contains(drawn, "\nnode:"+n.Name+"\n") {
				t.Errorf("Graphviz's picture lacks node %s", n.Name)
			}
		}
	})
	return out
}

// svgText parses an SVG document with encoding/xml, fails the test if it
// is not well-formed or not SVG, and returns its text, one line per element.
func svgText(t *testing.T, doc string) string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	var text strings.Builder
	root := true
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("svg is not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root && (tok.Name.Local != "svg" || tok.Name.Space != "http://www.w3.org/2000/svg") {
				t.Fatalf("svg root is %v, want svg in the SVG namespace", tok.Name)
			}
			root = false
		case xml.CharData:
			text.Write(tok)
		case xml.EndElement:
			text.WriteByte('\n')
		}
	}
	return text.String()
}

// TestLongFactsStayInTheBox: a node's image that is longer than its box
// (a node with files: "socketlab/toolbox:latest + files") goes on over the
// next lines, each short enough for the box, and the box grows to hold them.
func TestLongFactsStayInTheBox(t *testing.T) {
	g := &Graph{Name: "files", Networks: []Network{{Name: "lab", Stack: "dual"}},
		Nodes: []Node{{Name: "server", Image: "socketlab/toolbox:latest + files", Ports: []string{"tcp/65432"}, State: "running"},
			{Name: "other", Image: "registry.example.org/a-very-long-team-name/an-even-longer-image-name:2026.12.07"}},
		Links: []Link{{Node: "server", Network: "lab", Interface: "eth0"}, {Node: "other", Network: "lab", Interface: "eth0"}}}
	var b bytes.Buffer
	if err := SVG(&b, g); err != nil {
		t.Fatal(err)
	}
	type text struct {
		Y    int    `xml:"y,attr"`
		Body string `xml:",chardata"`
	}
	var doc struct {
		G []struct {
			Title string `xml:"title"`
			Rect  struct {
				Y int `xml:"y,attr"`
				H int `xml:"height,attr"`
			} `xml:"rect"`
			Text []text `xml:"text"`
		} `xml:"g"`
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, g := range doc.G {
		if !strings.HasPrefix(g.Title, "node ") {
			continue
		}
		for _, tx := range g.Text {
			all = append(all, tx.Body)
			if n := len([]rune(tx.Body)); n > factChars {
				t.Errorf("%s: line %q has %d characters; the box holds %d", g.Title, tx.Body, n, factChars)
			}
			if tx.Y > g.Rect.Y+g.Rect.H-4 {
				t.Errorf("%s: line %q at y=%d is below its box (y %d, height %d)", g.Title, tx.Body, tx.Y, g.Rect.Y, g.Rect.H)
			}
		}
	}
	joined := strings.Join(all, "\n")
	for _, want := range []string{"image: socketlab/\n  toolbox:latest + files", "state: running"} {
		if !strings.Contains(joined, want) {
			t.Errorf("the boxes' lines lack %q:\n%s", want, joined)
		}
	}
}
