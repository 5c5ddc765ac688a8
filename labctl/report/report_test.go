package report

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"socketlab/labctl/check"
	"socketlab/labctl/graph"
	"socketlab/labctl/ladder"
	"socketlab/labctl/scenario"
)

// sampleRun is a run of two scenarios: the default lab, captured, every
// step passing; and a partition lab with a failed step, a step that could
// not run, hostile text in its description and no capture.
func sampleRun(t *testing.T, dir string) *Run {
	t.Helper()
	sc, err := scenario.Load("../../scenarios/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "default.pcapng"), []byte("\x0a\x0d\x0d\x0a"), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := &check.Report{Scenario: "default", File: "scenarios/default.yaml", Seconds: 4.2, Results: []*check.Result{
		{Index: 1, Name: "welcome over IPv4", Node: "client", Target: "welcome", Run: "welcome", Family: "ipv4", Outcome: check.Pass,
			Seconds: 0.12, Expected: `over IPv4, output contains "over IPv4"`, Got: `"Welcome! You are 10.80.1.8:41000 over IPv4." from 10.80.1.2:9999 over IPv4 in 1.2 ms`,
			Command: "sock welcome --json --timeout 10s -4 welcome", Output: "Welcome! You are 10.80.1.8:41000 over IPv4.\n",
			Ladder: sampleLadder()},
		{Index: 2, Name: "echo across the lab over IPv6", Node: "client", Target: "echo", Run: "echo", Family: "ipv6", Outcome: check.Pass,
			Seconds: 0.09, Expected: `output contains "hello socketlab"`, Got: `"hello socketlab" from [fd00:80:1::3]:7 over IPv6 in 0.8 ms`,
			Command: "sock echo --json --timeout 10s -6 echo hello socketlab", Output: "hello socketlab"},
	}}
	part := &check.Report{Scenario: "partition", File: "scenarios/partition.yaml", Seconds: 7.5, Results: []*check.Result{
		{Index: 1, Name: "disconnect echo from lab", Node: "echo", Action: "disconnect", Outcome: check.Pass, Seconds: 0.3},
		{Index: 2, Name: "echo is cut off", Node: "client", Target: "echo", Run: "echo", Outcome: check.Fail, Seconds: 2.0,
			Expected: "failure: timeout", Got: "success: \"hi\" from 10.201.2.3:7 over IPv4 in 0.7 ms",
			Command: "sock echo --json --timeout 2s echo hi", Output: strings.Repeat("a line of output that goes on\n", 40)},
		{Index: 3, Name: "reconnect", Node: "echo", Action: "connect", Outcome: check.Error, Seconds: 0.1,
			Message: `connect echo to lab: network "lab" not found`},
		{Index: 4, Name: "the server runs", Node: "server", Outcome: check.Fail, Seconds: 0.1,
			Expected: "exit 0", Got: `exit 1, stdout "", stderr 3 lines ending "ZeroDivisionError: division by zero" in 40.0 ms`,
			Command: "python3 /lab/echo-server.py", Exec: []string{"python3", "/lab/echo-server.py"},
			Stderr: "Traceback (most recent call last):\n  File \"/lab/echo-server.py\", line 3, in <module>\nZeroDivisionError: division by zero\n"},
	}}
	return &Run{
		Title:   "labctl test scenarios/default.yaml scenarios/partition.yaml",
		Started: time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC),
		Scenarios: []Scenario{
			{Report: ok, Description: sc.Description, Graph: graph.FromScenario(sc), Capture: "default.pcapng",
				Packets: [][]string{
					{"0.000000 client:front 10.80.1.8:41000 → 10.80.1.2:9999 TCP [S] seq=0 len=0",
						"0.000051 client:front 10.80.1.2:9999 → 10.80.1.8:41000 TCP [S.] seq=0 ack=1 len=0",
						"0.000390 client:front 10.80.1.2:9999 → 10.80.1.8:41000 TCP [P.] len=44 \"Welcome! You are …\""},
					{},
				}},
			{Report: part, Description: "Cut echo off <script>alert(1)</script> & see.\n\nThen bring it back.",
				Graph: &graph.Graph{Name: "partition", Networks: []graph.Network{{Name: "lab", Stack: "dual"}},
					Nodes: []graph.Node{{Name: "echo", Image: "echo", State: "running"}, {Name: "client", Image: "client"}},
					Links: []graph.Link{{Node: "echo", Network: "lab", Interface: "eth0"}, {Node: "client", Network: "lab", Interface: "eth0"}}}},
		},
	}
}

// sampleLadder is a refused connection: the client's SYN, the server's RST.
func sampleLadder() *ladder.Ladder {
	t := time.Date(2026, 12, 1, 9, 30, 1, 0, time.UTC)
	one := uint32(1)
	return &ladder.Ladder{Conversations: []*ladder.Conversation{{
		ID: 1, Proto: "TCP", Family: 4, Start: t, End: t.Add(time.Millisecond),
		A:       ladder.Endpoint{Addr: netip.MustParseAddrPort("10.80.1.8:41000"), Node: "client"},
		B:       ladder.Endpoint{Addr: netip.MustParseAddrPort("10.80.1.2:9998"), Node: "welcome"},
		Initial: [2]string{ladder.Closed, ladder.Closed},
		Arrows: []*ladder.Arrow{
			{From: 0, Sent: t, Kind: "TCP", Flags: "SYN"},
			{From: 1, Sent: t.Add(time.Millisecond), Kind: "TCP", Flags: "RST,ACK", Seq: 1, Ack: &one},
		},
		States: []ladder.StateChange{{End: 0, State: ladder.SynSent, Time: t, Arrow: 0}, {End: 0, State: ladder.Closed, Time: t.Add(time.Millisecond), Arrow: 1}},
		Close:  "rst", CloseBy: "b",
	}}}
}

// The page is one self-contained file: no scripts, no external resource,
// text escaped, the graph inline.
func TestSelfContained(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	if err := Render(&b, dir, sampleRun(t, dir)); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		if n.Data == "script" || n.Data == "link" || n.Data == "iframe" || n.Data == "img" {
			t.Errorf("the page has a <%s> element", n.Data)
		}
		for _, a := range n.Attr {
			if (a.Key == "href" || a.Key == "src") && strings.Contains(a.Val, "//") {
				t.Errorf("<%s %s=%q> reaches outside the file", n.Data, a.Key, a.Val)
			}
		}
	}
	page := b.String()
	// A traceback is a block of lines, not one line with \n in it.
	if want := "<div class=\"label\">stderr</div><pre class=\"output stderr\">Traceback (most recent call last):\n  File &#34;/lab/echo-server.py&#34;, line 3, in &lt;module&gt;\nZeroDivisionError: division by zero\n</pre>"; !strings.Contains(page, want) {
		t.Errorf("the page lacks the stderr block %q", want)
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt; &amp; see.", "<svg xmlns=", "<code>labctl exec client -- sock welcome welcome</code>", "no packets crossed the wire", "@media print", "@media (max-width"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// Write replaces the report whole: a failed write leaves the last report
// and no stray file; a DIR that cannot be written is a clear error.
func TestWriteWholeOrNothing(t *testing.T) {
	dir := t.TempDir()
	path, err := Write(dir, sampleRun(t, dir))
	if err != nil || path != filepath.Join(dir, FileName) {
		t.Fatalf("Write = %q, %v", path, err)
	}
	before, _ := os.ReadFile(path)
	bad := sampleRun(t, dir)
	bad.Scenarios[0].Capture = "../elsewhere.pcapng"
	if _, err := Write(dir, bad); err == nil || !strings.Contains(err.Error(), "inside the report directory") {
		t.Errorf("a capture outside DIR: err = %v", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("a failed Write changed the last report")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != FileName && e.Name() != "default.pcapng" {
			t.Errorf("stray file %s left in DIR", e.Name())
		}
	}

	file := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(file, nil, 0o644)
	_, err = Write(filepath.Join(file, "reports"), sampleRun(t, dir))
	if err == nil || !strings.Contains(err.Error(), "a-file/reports") || !strings.Contains(err.Error(), "directory you can write") {
		t.Errorf("unwritable DIR: err = %v, want one naming it and what to do", err)
	}
}

// A capture file named but not in DIR is said to be missing, not linked.
func TestMissingCapture(t *testing.T) {
	dir := t.TempDir()
	run := sampleRun(t, dir)
	os.Remove(filepath.Join(dir, "default.pcapng"))
	var b bytes.Buffer
	if err := Render(&b, dir, run); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), `href="default.pcapng"`) || !strings.Contains(b.String(), "default.pcapng is missing") {
		t.Error("a missing capture is linked or not reported missing")
	}
}
