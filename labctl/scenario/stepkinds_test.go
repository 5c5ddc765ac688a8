package scenario

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"socketlab/helpers/impair/shape"
	"socketlab/internal/result"
)

// Every entry of stepKinds decodes into a kind of its own key, and an
// entry is an action exactly when its kind acts on the lab; action: takes
// the actions' names and nothing else.
func TestStepKindsRegistry(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range stepKinds {
		t.Run(e.key, func(t *testing.T) {
			k := &stepKeys{Node: "n"}
			switch {
			case e.key == "run":
				k.Run = "echo"
			case e.key == "exec":
				k.Exec = []string{"true"}
			default:
				k.Action = e.key
			}
			d := &decoder{file: "t.yaml", src: newSource()}
			kind := (&stepDecoder{d: d, path: "steps[0]", k: k}).kind()
			if kind == nil || kind.Key() != e.key {
				t.Fatalf("keys %+v decode to %#v, want a %s step (errors: %v)", k, kind, e.key, d.errs)
			}
			if _, acts := kind.(Action); acts != e.action {
				t.Errorf("%s: acts on the lab %v, registered as an action %v", e.key, acts, e.action)
			}
			if seen[e.key] {
				t.Errorf("%s is registered twice", e.key)
			}
			seen[e.key] = true
		})
	}
	if slices.Contains(actions, "run") || slices.Contains(actions, "exec") || len(actions) != len(stepKinds)-2 {
		t.Errorf("action: takes %s", strings.Join(actions, ", "))
	}
}

// Steps written back as YAML (Step.MarshalYAML) read back into the same
// steps: each kind writes the keys it was read from.
func TestStepsRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("../../scenarios/*.yaml")
	more, _ := filepath.Glob("testdata/valid/*.yaml")
	kinds := map[string]bool{}
	for _, file := range append(files, more...) {
		sc, err := Load(file)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(sc.Steps) == 0 {
			continue
		}
		b := withSteps(t, file, sc.Steps)
		again, err := Parse(file, b)
		if err != nil {
			t.Fatalf("%s written back does not parse: %v\n%s", file, err, b)
		}
		for i, st := range sc.Steps {
			kinds[st.Kind.Key()] = true
			a, b := *st, *again.Steps[i]
			a.Line, b.Line = 0, 0
			if !reflect.DeepEqual(a, b) {
				t.Errorf("%s: steps[%d] reads back as %+v, was %+v", file, i, b, a)
			}
		}
	}
	for _, e := range stepKinds {
		if !kinds[e.key] {
			t.Errorf("no scenario has a %s step: the round trip does not cover it", e.key)
		}
	}
}

// Steps built in code carry their kind; one without is an error, and each
// kind's facts (name, cost) hold without a file.
func TestStepKindsInCode(t *testing.T) {
	sc := &Scenario{
		Name:     "code",
		Networks: []*Network{{Name: "front"}},
		Nodes:    []*Node{{Name: "c", Image: "client", Networks: []*Attachment{{Network: "front"}}}, {Name: "e", Image: "echo", Networks: []*Attachment{{Network: "front"}}}},
		Steps: []*Step{
			{Node: "c", Kind: &RunStep{Client: "echo", Target: "e", Family: FamilyBoth, Expect: &Expect{Fail: result.Timeout}}, Timeout: Duration(2 * time.Second)},
			{Node: "e", Kind: KillStep{}},
			{Node: "e", Kind: StartStep{}},
			{Node: "c", Kind: ImpairStep{Network: "front", Settings: shape.Settings{Loss: 20}}},
			{Kind: HealStep{}},
			{Kind: SleepStep{For: Duration(time.Second)}},
			{Node: "c"},
		},
	}
	err := sc.Validate()
	if err == nil || err.Error() != "steps[6]: the step has no kind (give it a Kind: a RunStep, an ExecStep or an action such as StopStep)" {
		t.Errorf("Validate: %v", err)
	}
	cases := []struct {
		describe string
		cost     time.Duration
	}{
		{"echo c → e", 4 * time.Second}, // waits out its timeout, once per family
		{"kill e", 100 * time.Millisecond},
		{"start e", 100 * time.Millisecond},
		{"impair c:front (loss 20%)", 100 * time.Millisecond},
		{"heal the lab", 100 * time.Millisecond},
		{"sleep 1s", time.Second},
	}
	for i, c := range cases {
		st := sc.Steps[i]
		if d, cost := st.Kind.Describe(st), st.Kind.Cost(st); d != c.describe || cost != c.cost {
			t.Errorf("steps[%d]: %q costing %s, want %q costing %s", i, d, cost, c.describe, c.cost)
		}
	}
}

// withSteps is the file with its steps: replaced by steps, as YAML.
func withSteps(t *testing.T, file string, steps []*Step) []byte {
	t.Helper()
	data, err := readFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var written yaml.Node
	if err := written.Encode(steps); err != nil {
		t.Fatalf("%s: marshal the steps: %v", file, err)
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "steps" {
			root.Content[i+1] = &written
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// bareStep is a kind that takes no keys of its own.
type bareStep struct{}

func (bareStep) Key() string                             { return "bare" }
func (bareStep) Describe(*Step) string                   { return "bare" }
func (bareStep) Explain(*Step) string                    { return "" }
func (bareStep) Cost(*Step) time.Duration                { return 0 }
func (bareStep) validate(*validator, string, int, *Step) {}
func (bareStep) keys(*stepKeys)                          {}

// A key written for a step whose kind does not take it is an error even
// when the kind's decoding knows nothing of that key (a key that a kind
// added later brings): a new kind needs no change to the others.
func TestUnusedStepKeys(t *testing.T) {
	d := &decoder{file: "t.yaml", src: newSource()}
	d.src.pos["steps[0].network"] = position{3, 14}
	d.src.pos["steps[0].for"] = position{3, 30}
	s := &stepDecoder{d: d, path: "steps[0]", k: &stepKeys{Node: "n", Network: "front", For: Duration(time.Second), Timeout: Duration(time.Second)}}
	s.errorf("for", "", "for is reported already")
	s.unused(bareStep{})
	want := "t.yaml:3:30: steps[0].for: for is reported already\nt.yaml:3:14: steps[0].network: network has no meaning in a bare step (remove it)"
	if got := d.errs.Error(); got != want {
		t.Errorf("errors:\n%s\nwant:\n%s", got, want)
	}
}
