package scenario

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	catalog "socketlab/internal/images"
)

var update = flag.Bool("update", false, "rewrite the golden files (testdata/broken/*.err, scenarios/scenario.schema.json)")

// TestBroken parses every broken scenario and compares the errors, as
// `labctl validate` prints them, with the golden .err file beside it.
func TestBroken(t *testing.T) {
	files, err := filepath.Glob("testdata/broken/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("%d broken scenarios; the golden set needs at least 30", len(files))
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			sc, err := Parse(name, data)
			if err == nil {
				t.Fatalf("Parse accepted a broken scenario: %+v", sc)
			}
			if sc != nil {
				t.Errorf("Parse returned a scenario with its errors")
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("Parse returned %T %v, want Errors", err, err)
			}
			for _, e := range errs {
				if e.File != name || e.Reason == "" {
					t.Errorf("error without file or reason: %#v", e)
				}
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

func strp(s string) *string { return &s }

// TestParseValid decodes valid scenarios into exactly the expected values,
// defaults filled in, in file order.
func TestParseValid(t *testing.T) {
	tests := []struct {
		file string
		want *Scenario
	}{
		{"testdata/valid/full.yaml", &Scenario{
			Name:        "full",
			Description: "every field",
			Networks: []*Network{
				{Name: "front", Stack: Dual, IPv4: netip.MustParsePrefix("10.80.1.0/24"), IPv6: netip.MustParsePrefix("fd00:80:1::/64"), Line: 6},
				{Name: "back", Stack: IPv4Only, Internal: true, Line: 10},
				{Name: "v6", Stack: IPv6Only, Line: 13},
				{Name: "plain", Stack: Dual, Line: 15},
			},
			Nodes: []*Node{
				{Name: "server", Image: "echo", Line: 17,
					Networks: []*Attachment{
						{Network: "front", IPv4: netip.MustParseAddr("10.80.1.10"), IPv6: netip.MustParseAddr("fd00:80:1::10"), Aliases: []string{"ping", "ping.lab"}},
						{Network: "back"},
					},
					Env:    map[string]string{"PORT": "7", "GREETING": "hello", "EMPTY": ""},
					Args:   []string{"--port", "7", "--quiet"},
					Memory: 64 << 20, Pids: 32,
				},
				{Name: "client", Image: "client", Line: 32,
					Networks: []*Attachment{{Network: "front"}, {Network: "back"}, {Network: "v6"}}},
			},
			Steps: []*Step{
				{Name: "echo by alias", Node: "client", Timeout: Duration(5 * time.Second), Line: 36,
					Kind: &RunStep{Client: "echo", Target: "ping.lab:7", Family: "ipv6", Args: []string{"hello"},
						Expect: &Expect{Contains: "hello", Equals: strp("hello\n"), Matches: "^hel+o", Family: "IPv6",
							Within: Duration(1500 * time.Millisecond)}}},
				{Node: "server", Kind: DisconnectStep{Network: "back"}, Timeout: Duration(DefaultTimeout), Line: 49},
				{Node: "client", Kind: &RunStep{Client: "echo", Target: "10.80.1.10", Expect: &Expect{Fail: "any"}},
					Timeout: Duration(DefaultTimeout), Line: 52},
				{Kind: SleepStep{For: Duration(90 * time.Second)}, Timeout: Duration(DefaultTimeout), Line: 56},
				{Node: "server", Kind: ConnectStep{Network: "back"}, Timeout: Duration(DefaultTimeout), Line: 58},
				{Node: "server", Kind: StopStep{}, Timeout: Duration(DefaultTimeout), Line: 61},
				{Node: "server", Kind: StartStep{}, Timeout: Duration(DefaultTimeout), Line: 62},
				{Node: "client", Kind: &RunStep{Client: "echo", Target: "[fd00:80:1::10]:7", Family: "ipv6", Expect: &Expect{Equals: strp("")}},
					Timeout: Duration(DefaultTimeout), Line: 63},
			},
		}},
		{"testdata/valid/merge.yaml", &Scenario{
			Name:     "merge",
			Networks: []*Network{{Name: "front", Stack: Dual, Line: 6}},
			Nodes: []*Node{
				{Name: "one", Image: "echo", Memory: 32 << 20, Networks: []*Attachment{{Network: "front"}}, Line: 8},
				{Name: "two", Image: "echo", Memory: 64 << 20, Networks: []*Attachment{{Network: "front"}}, Line: 9},
				{Name: "three", Image: "welcome", Memory: 32 << 20, Pids: 20, Networks: []*Attachment{{Network: "front"}}, Line: 12},
			},
		}},
		{"testdata/valid/empty-values.yaml", &Scenario{
			Name:     "empty-values",
			Networks: []*Network{{Name: "front", Stack: Dual, Line: 5}},
			Nodes:    []*Node{{Name: "a", Image: "client", Networks: []*Attachment{{Network: "front"}}, Line: 9}},
			Steps:    []*Step{{Kind: SleepStep{For: Duration(time.Second)}, Timeout: Duration(DefaultTimeout), Line: 17}},
		}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			t.Parallel()
			got, err := Load(tt.file)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.want.File = tt.file
			got.src = nil
			if !reflect.DeepEqual(got, tt.want) {
				g, _ := yaml.Marshal(got)
				w, _ := yaml.Marshal(tt.want)
				t.Errorf("decoded scenario differs\n--- got\n%s--- want\n%s", g, w)
				for i := range min(len(got.Steps), len(tt.want.Steps)) {
					if !reflect.DeepEqual(got.Steps[i], tt.want.Steps[i]) {
						t.Errorf("steps[%d]: got %+v, want %+v", i, got.Steps[i], tt.want.Steps[i])
					}
				}
			}
		})
	}
}

// TestScenarios checks that every scenario shipped under scenarios/ is
// valid and points editors at the schema.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("../../scenarios/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenarios under scenarios/")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			sc, err := Load(file)
			if err != nil {
				t.Fatalf("invalid scenario:\n%v", err)
			}
			if sc.Description == "" {
				t.Errorf("%s has no description for a learner", file)
			}
			data, _ := os.ReadFile(file)
			if first, _, _ := strings.Cut(string(data), "\n"); first != "# yaml-language-server: $schema=./scenario.schema.json" {
				t.Errorf("first line %q does not point editors at the schema", first)
			}
		})
	}
}

// TestDefaultLab checks the topology the README and compose.yaml promise.
func TestDefaultLab(t *testing.T) {
	sc, err := Load("../../scenarios/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range append(catalog.Services(), catalog.Client) {
		if n := sc.Node(img); n == nil || n.Image != img {
			t.Errorf("no node %q running image %q", img, img)
		}
	}
	onBoth := func(n *Node) bool { return len(n.Networks) == 2 }
	if c := sc.Node("client"); c == nil || !onBoth(c) {
		t.Errorf("the client must join both networks")
	}
	if sc.Node("echo").Networks[0].Network == sc.Node("web").Networks[0].Network {
		t.Errorf("echo and web must sit on different networks")
	}
	for _, n := range sc.Networks {
		if n.Stack != Dual || n.IPv4.IsValid() || n.IPv6.IsValid() {
			t.Errorf("network %s: want dual stack with subnets left to the engine, got %+v", n.Name, n)
		}
	}
}

// TestValidateInCode checks scenarios built in Go: errors without
// positions; Validate changes nothing, and the zero values read as the
// defaults.
func TestValidateInCode(t *testing.T) {
	sc := &Scenario{
		Name:     "code",
		Networks: []*Network{{Name: "front"}},
		Nodes:    []*Node{{Name: "c", Image: "client", Networks: []*Attachment{{Network: "front"}}}},
		Steps:    []*Step{{Kind: SleepStep{For: Duration(time.Second)}}},
	}
	if err := sc.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if sc.Networks[0].Stack != "" || sc.Steps[0].Timeout != 0 {
		t.Errorf("Validate changed the scenario: stack %q, timeout %v", sc.Networks[0].Stack, sc.Steps[0].Timeout)
	}
	if st := sc.Networks[0].Stack; !st.HasIPv4() || !st.HasIPv6() || sc.Steps[0].TimeoutOrDefault() != DefaultTimeout {
		t.Errorf("zero values do not read as the defaults: stack %q, timeout %v", st, sc.Steps[0].TimeoutOrDefault())
	}
	if err := sc.Validate(); err != nil {
		t.Errorf("a validated scenario no longer validates: %v", err)
	}

	sc.Nodes = append(sc.Nodes, &Node{Name: "c", Image: "echo"}, nil)
	sc.Steps = append(sc.Steps, &Step{Node: "c", Kind: &RunStep{Client: "echo", Target: "nobody"}})
	err := sc.Validate()
	want := `nodes.c: node "c" is defined twice (node names must be unique)
nodes[2]: the node is nil
steps[1].target: node "nobody" is not defined (name a node, an alias or an address)`
	if err == nil || err.Error() != want {
		t.Errorf("Validate:\n%v\nwant:\n%s", err, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/no-such-file.yaml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load of a missing file: %v, want os.ErrNotExist", err)
	}
	var errs Errors
	if errors.As(err, &errs) {
		t.Errorf("a read error is not a scenario error: %v", err)
	}
}

func TestTooLarge(t *testing.T) {
	data := []byte("name: big\ndescription: " + strings.Repeat("x", MaxFileSize) + "\n")
	_, err := Parse("big.yaml", data)
	if err == nil || err.Error() != "big.yaml: the file is larger than 1024 KiB (a scenario is a short text file)" {
		t.Errorf("Parse: %v", err)
	}
}

// TestLoadReadsAtMost checks that Load reads no more of a file than Parse
// accepts: a 1 GiB (sparse) file costs a few MiB, not a GiB.
func TestLoadReadsAtMost(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = Load(path)
	runtime.ReadMemStats(&after)
	if want := path + ": the file is larger than 1024 KiB (a scenario is a short text file)"; err == nil || err.Error() != want {
		t.Errorf("Load: %v, want %s", err, want)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("Load of a 1 GiB file allocated %d MiB", alloc>>20)
	}
}

// TestManyValues checks that a file with too many values, but no aliases,
// is not told that aliases repeat it.
func TestManyValues(t *testing.T) {
	data := "name: big\nnetworks: {front: {}}\nnodes: {n: {image: echo, networks: [front], args: [" +
		strings.Repeat("a,", 150_000) + "a]}}\n"
	_, err := Parse("big.yaml", []byte(data))
	want := "big.yaml:3:200032: nodes.n.args[99990]: the file holds more than 100000 values (a scenario is a short text file)"
	if err == nil || err.Error() != want {
		t.Errorf("Parse: %.300v\nwant %s", err, want)
	}
}

// TestAliasBomb checks that aliases cannot expand a small file into a huge
// scenario.
func TestAliasBomb(t *testing.T) {
	tests := map[string]string{
		// Each level merges the one before ten times: 10^9 merges if followed.
		"merge": func() string {
			var b strings.Builder
			b.WriteString("name: bomb\nx-0: &m0 {image: echo}\n")
			for l := 1; l <= 9; l++ {
				fmt.Fprintf(&b, "x-%d: &m%d {<<: [", l, l)
				for i := range 10 {
					if i > 0 {
						b.WriteString(", ")
					}
					fmt.Fprintf(&b, "*m%d", l-1)
				}
				b.WriteString("]}\n")
			}
			b.WriteString("networks: {front: {}}\nnodes:\n  n: {<<: *m9, networks: [front]}\n")
			return b.String()
		}(),
		// Steps repeating one large step: 1000 × 1000 values.
		"steps": func() string {
			var b strings.Builder
			b.WriteString("name: bomb\nx-args: &a [" + strings.Repeat("a, ", 999) + "a]\n")
			b.WriteString("x-step: &s {action: sleep, for: 1s, args: *a}\n")
			b.WriteString("networks: {front: {}}\nnodes: {n: {image: echo, networks: [front]}}\nsteps: [")
			b.WriteString(strings.Repeat("*s, ", 999) + "*s]\n")
			return b.String()
		}(),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := Parse("bomb.yaml", []byte(data))
			if err == nil || !strings.Contains(err.Error(), "expands to more than") {
				t.Errorf("Parse: %.500v", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("Parse took %v", d)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "default.yaml", Line: 12, Column: 7, Path: "nodes.alice.networks[1]", Reason: `network "bak" is not defined`, Hint: `did you mean "back"?`},
			`default.yaml:12:7: nodes.alice.networks[1]: network "bak" is not defined (did you mean "back"?)`},
		{Error{File: "a.yaml", Line: 3, Reason: "YAML syntax: did not find expected key"}, "a.yaml:3: YAML syntax: did not find expected key"},
		{Error{Path: "name", Reason: "the lab has no name"}, "name: the lab has no name"},
		{Error{File: "a.yaml", Reason: "the file holds no scenario"}, "a.yaml: the file holds no scenario"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
	es := Errors{&tests[0].e, &tests[1].e}
	if got := es.Error(); got != tests[0].want+"\n"+tests[1].want {
		t.Errorf("Errors.Error() = %q", got)
	}
}

func TestDidYouMean(t *testing.T) {
	keys := []string{"name", "description", "networks", "nodes", "steps"}
	tests := []struct{ word, want string }{
		{"netwroks", "networks"},
		{"node", "nodes"},
		{"descripton", "description"},
		{"nmae", "name"},
		{"step", "steps"},
		{"NODES", "nodes"},
		{"banana", ""},
		{"x", ""},
		{"image", ""},
	}
	for _, tt := range tests {
		if got := closest(tt.word, keys); got != tt.want {
			t.Errorf("closest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}

func TestDuration(t *testing.T) {
	var d Duration
	if err := yaml.Unmarshal([]byte("1m30s"), &d); err != nil || time.Duration(d) != 90*time.Second {
		t.Errorf("yaml.Unmarshal: %v, %v", d, err)
	}
	if err := d.UnmarshalText([]byte("5")); err == nil || err.Error() != "scenario: duration 5 has no unit" {
		t.Errorf("UnmarshalText(5): %v", err)
	}
	if b, _ := Duration(1500 * time.Millisecond).MarshalText(); string(b) != "1.5s" {
		t.Errorf("MarshalText = %s", b)
	}
}

// TestBytes checks sizes as a scenario writes them, and back.
func TestBytes(t *testing.T) {
	for s, want := range map[string]Bytes{"": 0, "64m": 64 << 20, "1G": 1 << 30, "512k": 512 << 10, "7000000": 7000000, "100b": 100} {
		var got Bytes
		if err := got.UnmarshalText([]byte(s)); err != nil || got != want {
			t.Errorf("UnmarshalText(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	var b Bytes
	if err := b.UnmarshalText([]byte("lots")); err == nil ||
		err.Error() != `scenario: memory "lots" is not a size (write a number with b, k, m or g, e.g. 64m)` {
		t.Errorf("UnmarshalText(lots): %v", err)
	}
	for b, want := range map[Bytes]string{0: "0", 64 << 20: "64m", 1 << 30: "1g", 1536 << 20: "1536m", 512 << 10: "512k", 100: "100b", 7000000: "7000000b"} {
		if got := b.String(); got != want {
			t.Errorf("Bytes(%d).String() = %q, want %q", int64(b), got, want)
		}
		var back Bytes
		if err := back.UnmarshalText([]byte(b.String())); err != nil || back != b {
			t.Errorf("Bytes(%d) does not read back from %q: %d, %v", int64(b), b.String(), back, err)
		}
	}
}

// TestMarshalYAML checks that YAML writes the typed values as a scenario
// file does: yaml.v3 alone would leave out every netip value.
func TestMarshalYAML(t *testing.T) {
	sc, err := Load("testdata/valid/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := yaml.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ipv4: 10.80.1.0/24", "ipv6: fd00:80:1::/64", "ipv4: 10.80.1.10", "ipv6: fd00:80:1::10",
		"memory: 64m", "family: ipv6", "family: IPv6", "fail: any", "action: disconnect", "timeout: 5s"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("yaml.Marshal lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "invalid") {
		t.Errorf("yaml.Marshal writes a zero netip value:\n%s", b)
	}
}

// BenchmarkParseMergeBomb parses testdata/broken/merge-wide.yaml: 800
// bytes whose merge keys would expand to 40 million entries.
func BenchmarkParseMergeBomb(b *testing.B) {
	data, err := os.ReadFile("testdata/broken/merge-wide.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Parse("merge-wide.yaml", data); err == nil {
			b.Fatal("the bomb parsed")
		}
	}
}

func BenchmarkParseDefault(b *testing.B) {
	data, err := os.ReadFile("../../scenarios/default.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("default.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
