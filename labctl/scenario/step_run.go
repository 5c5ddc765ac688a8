package scenario

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"socketlab/internal/result"
)

// RunStep runs a sock client in a node against a target and judges its
// --json result: run: echo, target: echo, family: both.
type RunStep struct {
	// Client is the sock client: welcome, echo, responder, browse, chat or
	// lookup.
	Client string
	// Target is host or host:port (or, for browse, a URL).
	Target string
	// Family is the address family the client uses; FamilyBoth runs it
	// once per family.
	Family Family
	// Args are further arguments for the client, after the target.
	Args []string
	// Expect is what the client's run must show; nil: it must succeed.
	Expect *Expect
	// Background starts the client and goes on to the next step at once.
	Background bool
}

// stepFlags are the client flags a step sets from its own fields.
var stepFlags = map[string]string{
	"-4": "use family: ipv4 instead", "--ipv4": "use family: ipv4 instead",
	"-6": "use family: ipv6 instead", "--ipv6": "use family: ipv6 instead",
	"-t": "use the step's timeout: instead", "--timeout": "use the step's timeout: instead",
	"--json": "remove it: a step always reads the client's JSON",
}

func decodeRun(s *stepDecoder) StepKind {
	k := s.k
	s.only("", "run", "it belongs to actions: remove it", map[string]bool{"network": k.Network != "", "for": k.For != 0, "impair": k.Impair != nil})
	if e := k.Expect; e != nil {
		s.only("expect", "run", "it judges an exec step's command: remove it", map[string]bool{
			"stderr": e.Stderr != nil, "exit": e.Exit != nil,
		})
	}
	return &RunStep{Client: k.Run, Target: k.Target, Family: k.Family, Args: k.Args, Expect: k.Expect, Background: k.Background}
}

func (r *RunStep) keys(k *stepKeys) {
	k.Run, k.Target, k.Family, k.Args, k.Expect, k.Background = r.Client, r.Target, r.Family, r.Args, r.Expect, r.Background
}

func (r *RunStep) background() bool { return r.Background }

func (r *RunStep) expected() *Expect { return r.Expect }

// Key is "run".
func (r *RunStep) Key() string { return "run" }

// Describe is "echo client → echo": the client, its node and its target.
func (r *RunStep) Describe(st *Step) string {
	return fmt.Sprintf("%s %s → %s", r.Client, st.Node, r.Target)
}

// Explain is "": the command a run step ran says what it did.
func (r *RunStep) Explain(*Step) string { return "" }

// Cost is the step's timeout for each family when it expects a timeout or
// an unreachable host (it waits that out), a moment otherwise, nothing in
// the background.
func (r *RunStep) Cost(st *Step) time.Duration {
	runs := time.Duration(len(r.Families()))
	switch {
	case r.Background:
		return 0
	case r.Expect != nil && (r.Expect.Fail == result.Timeout || r.Expect.Fail == result.Unreachable):
		return st.TimeoutOrDefault() * runs
	}
	return 100 * time.Millisecond * runs
}

// Families are the families the step runs with, one run each: "" (the
// client's default), ipv4 or ipv6, or both in turn.
func (r *RunStep) Families() []Family {
	if r.Family == FamilyBoth {
		return []Family{FamilyIPv4, FamilyIPv6}
	}
	return []Family{r.Family}
}

// Argv is the command the step runs in its node, over family fam (one of
// Families), the client bounded by timeout.
func (r *RunStep) Argv(fam Family, timeout time.Duration) []string {
	argv := []string{"sock", r.Client, "--json", "--timeout", timeout.String()}
	switch fam {
	case FamilyIPv4:
		argv = append(argv, "-4")
	case FamilyIPv6:
		argv = append(argv, "-6")
	}
	argv = append(argv, r.Target)
	return append(argv, r.Args...)
}

func (v *validator) clientNodes() []string {
	var out []string
	for _, name := range v.names {
		if v.nodes[name].HasSock() {
			out = append(out, name)
		}
	}
	return out
}

func (r *RunStep) validate(v *validator, path string, _ int, st *Step) {
	if !slices.Contains(clients, r.Client) {
		hint := didYouMean(r.Client, clients)
		if r.Client == "web" || r.Client == "http" || r.Client == "curl" {
			hint = `the web client is "browse"`
		}
		if hint == "" {
			hint = "one of " + quoteList(clients)
		}
		v.errorf(path+".run", hint, "client %q is not known", r.Client)
	}
	hint := "add node: with the client node the step runs in"
	if cn := v.clientNodes(); len(cn) > 0 {
		hint = fmt.Sprintf("add node: %s", cn[0])
	}
	n := v.node(path, st, hint)
	if n != nil && !n.HasSock() {
		hint := "run steps in a node with image: client or toolbox, or run the command with exec:"
		if cn := v.clientNodes(); len(cn) > 0 {
			hint = fmt.Sprintf("run it in %s, or run a command of the image with exec:", quoteList(cn))
		}
		v.errorf(path+".node", hint, "node %q runs the %s image, which has no sock clients", n.Name, n.Image)
	}
	if n != nil {
		v.running(path, n)
	}
	if r.Family != FamilyAny && !slices.Contains(stepFamilies, string(r.Family)) {
		v.oneOf(path+".family", "family", string(r.Family), stepFamilies)
	}
	for j, a := range r.Args {
		if use, ok := stepFlags[a]; ok {
			v.errorf(fmt.Sprintf("%s.args[%d]", path, j), use, "the step sets %s itself", a)
		}
	}
	v.target(path, r, n)
	v.expect(path, r, st.TimeoutOrDefault())
	if r.Expect != nil {
		v.wire(path, r.Expect.Wire, r.Family)
	}
}

func (v *validator) expect(path string, r *RunStep, timeout time.Duration) {
	e := r.Expect
	if e == nil {
		return
	}
	ep := path + ".expect"
	if e.Fail != "" {
		if !slices.Contains(failKinds, string(e.Fail)) {
			v.oneOf(ep+".fail", "failure", string(e.Fail), failKinds)
		}
		for _, k := range setKeys(map[string]bool{
			"contains": e.Contains != "", "equals": e.Equals != nil, "matches": e.Matches != "",
			"family": e.Family != "", "within": e.Within != 0,
			"slower_than": e.SlowerThan != 0, "min_replies": e.MinReplies != 0, "max_replies": e.MaxReplies != 0,
		}) {
			v.errorf(ep+"."+k, "a failing client has no output to check: remove one", "%s does not go with fail", k)
		}
		return
	}
	v.textExpect(ep, e.Matches)
	if e.Family != "" {
		fp := ep + ".family"
		switch {
		case !slices.Contains(expectFamilies, string(e.Family)):
			v.oneOf(fp, "family", string(e.Family), expectFamilies)
		case r.Family == FamilyBoth:
			v.errorf(fp, "the step runs once per family: split it into two steps", "expect.family cannot go with family: both")
		case r.Family != FamilyAny && !strings.EqualFold(string(r.Family), string(e.Family)):
			v.errorf(fp, fmt.Sprintf("did you mean %q?", familyName(r.Family)),
				"the step runs over %s but expects %s", familyName(r.Family), e.Family)
		}
	}
	v.within(ep, e, timeout)
	v.expectLink(ep, e, r.Client, timeout)
}

// familyName is the name of a step family's one family: ipv4 → IPv4.
func familyName(f Family) string {
	switch f {
	case FamilyIPv4:
		return ipv4.name
	case FamilyIPv6:
		return ipv6.name
	}
	return string(f)
}
