package scenario

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"gopkg.in/yaml.v3"

	"socketlab/helpers/impair/shape"
)

// StepKind is what a step does: run a client (RunStep), run a command
// (ExecStep), or act on the lab (StopStep, ConnectStep, ImpairStep...).
// The set is closed, as go/ast's Stmt is: each kind is a type of this
// package, decided once when the file is decoded, and keeps together how it
// is read from the file, validated, described and scheduled. Kinds that act
// on the lab are Actions.
type StepKind interface {
	// Key is how a scenario names the kind: "run", "exec", or the action,
	// "stop".
	Key() string
	// Describe names the step in reports when it has no name:
	// "welcome client → welcome", "stop server".
	Describe(st *Step) string
	// Explain says in a few words what the step does to the lab, for
	// learn mode (labctl test -v); "" when Describe says it all.
	Explain(st *Step) string
	// Cost is about how long the step holds up the steps after it, for
	// scheduling scenarios side by side (longest first).
	Cost(st *Step) time.Duration
	// validate checks the step against the lab as the steps before it
	// left it (v.state), at path, the step being steps[i].
	validate(v *validator, path string, i int, st *Step)
	// keys writes the kind's keys back as a scenario file does.
	keys(k *stepKeys)
}

// Action is a step kind that acts on the lab: it passes when Act succeeds.
type Action interface {
	StepKind
	// Act does the step to l within ctx.
	Act(ctx context.Context, l Controls, st *Step) error
}

// Controls is what actions need of a running lab.
type Controls interface {
	Stop(ctx context.Context, node string) error
	Kill(ctx context.Context, node string) error
	Start(ctx context.Context, node string) error
	Disconnect(ctx context.Context, node, network string) error
	Connect(ctx context.Context, node, network string) error
	// Impair degrades what node sends on network ("": every network).
	Impair(ctx context.Context, node, network string, s shape.Settings) error
	// Heal takes impairments away (node "": the whole lab; network "":
	// every network of node).
	Heal(ctx context.Context, node, network string) error
	// Fault adds f to the faults on what node sends (or receives) on
	// network ("": every network) and says, a line per link, what is in
	// force there.
	Fault(ctx context.Context, node, network string, f shape.Fault) ([]string, error)
	// ClearFaults takes faults away (node and network as for Heal) and
	// says, a line per fault, what each did.
	ClearFaults(ctx context.Context, node, network string) ([]string, error)
}

// Reporter is an Action that says what it did, for the step's report: a
// fault step what is in force, a heal step what the faults it cleared did.
type Reporter interface {
	Action
	// ActReport is Act, and what it did ("" for nothing to say).
	ActReport(ctx context.Context, l Controls, st *Step) (string, error)
}

// stepKind is one entry of stepKinds: the key that selects the kind in a
// file (run: and exec: by the key being there, an action by its name in
// action:), and how the kind is read from the step's keys.
type stepKind struct {
	key    string
	action bool
	decode func(s *stepDecoder) StepKind
}

// stepKinds lists every kind of step, one line each, in the order hints
// and the schema list them.
//
// To add a kind, say action: fault with fault: {match: ..., drop: true}:
//   - step_fault.go: type FaultStep with decodeFault (builds it from the
//     stepKeys), Key, Describe, Explain, Cost, keys, validate and, for an
//     action, Act. A key written for a step whose kind does not write it
//     back (keys) is reported for it (unused), so the other kinds need no
//     change for the new key;
//   - stepKeys (scenario.go): the new key (Fault *FaultRule
//     `yaml:"fault,omitempty"`) with its doc comment, which becomes the
//     schema's; the type of its value may live in step_fault.go, whose doc
//     comments the schema reads too (then go generate ./labctl/scenario);
//   - an action that needs a new operation of the lab: its method in
//     Controls, implemented by lab.Lab (check's test fake too);
//   - one line here.
//
// check runs every Action as it is; only a kind that is not an action
// (one that runs a program in a node, as run and exec do) needs its runner
// in check.runStep.
var stepKinds = []stepKind{
	{"run", false, decodeRun},
	{"exec", false, decodeExec},
	{"stop", true, decodeStop},
	{"kill", true, decodeKill},
	{"start", true, decodeStart},
	{"disconnect", true, decodeDisconnect},
	{"connect", true, decodeConnect},
	{"impair", true, decodeImpair},
	{"fault", true, decodeFault},
	{"heal", true, decodeHeal},
	{"sleep", true, decodeSleep},
}

// actionKeys are the names action: takes, in stepKinds' order.
func actionKeys() []string {
	var out []string
	for _, k := range stepKinds {
		if k.action {
			out = append(out, k.key)
		}
	}
	return out
}

var (
	stepType     = reflect.TypeFor[Step]()
	stepKeysType = reflect.TypeFor[stepKeys]()
)

// step decodes a step: its keys into stepKeys, then its kind from them.
func (d *decoder) step(n *yaml.Node, path string, v reflect.Value, depth int) {
	var k stepKeys
	d.mapping(n, path, reflect.ValueOf(&k).Elem(), depth)
	st := v.Addr().Interface().(*Step)
	st.Name, st.Node, st.Timeout = k.Name, k.Node, k.Timeout
	st.Kind = (&stepDecoder{d: d, path: path, k: &k}).kind()
}

// stepDecoder decides the kind of one step from its keys, reporting keys
// that do not go with it.
type stepDecoder struct {
	d        *decoder
	path     string
	k        *stepKeys
	reported map[string]bool // keys with an error already
}

// errorf reports a problem at key of the step ("" for the step itself).
func (s *stepDecoder) errorf(key, hint, format string, args ...any) {
	p := s.path
	if key != "" {
		p += "." + key
		if s.reported == nil {
			s.reported = map[string]bool{}
		}
		s.reported[key] = true
	}
	pos := s.d.src.where(p)
	s.d.errs = append(s.d.errs, &Error{File: s.d.file, Line: pos.line, Column: pos.column, Path: p,
		Reason: fmt.Sprintf(format, args...), Hint: hint})
}

// kind decides what the step is: nil, reported, when it cannot tell.
func (s *stepDecoder) kind() StepKind {
	k, src, p := s.k, s.d.src, s.path
	set := 0
	for _, on := range []bool{k.Run != "", len(k.Exec) > 0, k.Action != ""} {
		if on {
			set++
		}
	}
	switch {
	case set > 1:
		s.errorf("", "split it into steps of their own", "a step has one of run, exec or action, not several")
	case k.Run != "":
		return s.unused(kindByKey("run", false).decode(s))
	case len(k.Exec) > 0:
		return s.unused(kindByKey("exec", false).decode(s))
	case src.written(p + ".exec"):
		s.errorf("exec", "write the command as a list: [python3, /lab/client.py]", "exec is empty")
	case k.Action != "":
		s.only("", "action", "it belongs to run steps: remove it", map[string]bool{
			"target": k.Target != "", "family": k.Family != "", "args": len(k.Args) > 0, "expect": k.Expect != nil,
			"background": k.Background,
		})
		if kk := kindByKey(k.Action, true); kk != nil {
			return s.unused(kk.decode(s))
		}
		hint := didYouMean(k.Action, actions)
		switch k.Action {
		case "restart":
			hint = "stop, then start, in two steps"
		case "wait", "pause":
			hint = `did you mean "sleep"?`
		}
		if hint == "" {
			hint = "one of " + quoteList(actions)
		}
		s.errorf("action", hint, "action %q is not known", k.Action)
	case !src.isBad(p+".run") && !src.isBad(p+".action") && !src.isBad(p+".exec"):
		s.errorf("", "add run: with a client, exec: with a command, or action: with "+quoteList(actions), "the step has neither run, exec nor action")
	}
	return nil
}

func kindByKey(key string, action bool) *stepKind {
	for i := range stepKinds {
		if stepKinds[i].key == key && stepKinds[i].action == action {
			return &stepKinds[i]
		}
	}
	return nil
}

// only reports the keys of the step (under "" or "expect") that do not go
// with what it is (what): fields maps each key to whether it is set.
func (s *stepDecoder) only(under, what, hint string, fields map[string]bool) {
	for _, k := range setKeys(fields) {
		at := k
		if under != "" {
			at = under + "." + k
		}
		s.errorf(at, hint, "%s does not go with %s", k, what)
	}
}

// unused reports the keys written for the step that its kind (k) does not
// take, and that its decoding did not report already: the keys the kind
// does not write back. It returns k.
func (s *stepDecoder) unused(k StepKind) StepKind {
	var back stepKeys
	back.Name, back.Node, back.Timeout = s.k.Name, s.k.Node, s.k.Timeout
	k.keys(&back)
	was, now := reflect.ValueOf(s.k).Elem(), reflect.ValueOf(&back).Elem()
	for _, f := range yamlFields(stepKeysType) {
		if !was.FieldByIndex(f.index).IsZero() && now.FieldByIndex(f.index).IsZero() && !s.reported[f.key] {
			s.errorf(f.key, "remove it", "%s has no meaning in a %s step", f.key, k.Key())
		}
	}
	return k
}

// noMeaning reports network, impair and for in an action that takes none
// of them.
func (s *stepDecoder) noMeaning(action string, network, impair, sleep bool) {
	if !network && s.k.Network != "" {
		s.errorf("network", "remove it", "network has no meaning in a %s step", action)
	}
	if !impair && s.k.Impair != nil {
		s.errorf("impair", "remove it, or make it an impair step", "impair has no meaning in a %s step", action)
	}
	if !sleep && s.k.For != 0 {
		s.errorf("for", "remove it, or add a sleep step", "for has no meaning in a %s step", action)
	}
}

// InBackground reports whether the step runs in the background: it starts,
// and the next step follows at once (background: true).
func (st *Step) InBackground() bool {
	k, ok := st.Kind.(interface{ background() bool })
	return ok && k.background()
}

// MarshalYAML writes the step as a scenario file does.
func (st Step) MarshalYAML() (any, error) {
	k := stepKeys{Name: st.Name, Node: st.Node, Timeout: st.Timeout}
	if st.Kind != nil {
		st.Kind.keys(&k)
	}
	return k, nil
}
