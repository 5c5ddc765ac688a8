// Package lesson holds the contracts of socketlab's lessons as suites that
// labctl check runs against a learner's program: scenario files with a
// node named "program" that labctl fills in with the learner's program, steps
// that are the lesson's named checks, and, for each check, the likely causes
// of a failure in a learner's words with their fixes.
//
// A suite is a scenario file with one more top-level key, x-lesson (the
// scenario format ignores top-level keys that start with x-):
//
//	name: echo-server
//	x-lesson:
//	  summary: a TCP server that sends back every byte each client sends
//	  role: server            # server: the program listens; client: it connects
//	  transport: tcp          # tcp or udp: which sockets say the program's port
//	  port: 7                 # the lesson's usual port, preferred when it listens on several
//	  hints:                  # causes that come first, whichever check failed
//	    - {if: loopback only, cause: "...", fix: "bind to \"\" or \"::\""}
//	  checks:
//	    reachable over IPv6:  # a step's name; the first hint whose "if" the result shows
//	      - {if: refused, cause: "the server takes IPv4 only", fix: "bind to \"::\""}
//	      - {cause: "...", fix: "..."}
//	nodes:
//	  program: {image: toolbox, networks: [lab]}
//	  probe: {image: toolbox, networks: [lab], files: ["./probe.py:/probe/probe.py"]}
//	steps:
//	  - name: reachable over IPv6
//	    node: probe
//	    exec: [python3, /probe/probe.py, echo, "-6", program, "{port}"]
//
// In any step's exec, "{ipv6:NODE}" and "{ipv4:NODE}" are the node's
// addresses, once the lab is up. In a server lesson "{port}" in a step's
// exec is the port the program
// listens on, found from the program node's sockets once it runs. In a
// client lesson an exec that starts with "{program}" runs the learner's
// program (stopped after x-lesson's bound); the two words after it are the
// reference server's host and port, which the program's arguments get as
// {host} and {port}, or together as {hostport} ([fd00::2]:7 for an IPv6
// address), and {message} as x-lesson's message.
package lesson

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"socketlab/labctl/scenario"
)

//go:embed suites
var builtin embed.FS

// Role is which side of a connection a lesson's program is.
type Role string

// The roles.
const (
	Server Role = "server" // the program listens; the suite's probes connect to it
	Client Role = "client" // the program connects to the suite's reference servers
)

// ProgramNode is the node of a suite that runs the learner's program.
const ProgramNode = "program"

// Hint is one likely cause of a failed check and its fix.
type Hint struct {
	// If is text the failed check's result shows (its output, what came
	// back, the wire); "" matches any failure.
	If    string `yaml:"if,omitempty" json:"-"`
	Cause string `yaml:"cause" json:"cause"`
	Fix   string `yaml:"fix" json:"fix"`
}

// Suite is one lesson's contract.
type Suite struct {
	// Name is the lesson's name, e.g. echo-server.
	Name string
	// Summary is what the program must be, in one line.
	Summary string
	// Role says whether the program is a server or a client.
	Role Role
	// Transport is tcp or udp: the kind of socket a server listens with.
	Transport string
	// Port is the lesson's usual port (0: none).
	Port int
	// Args are a client program's arguments when none are given.
	Args []string
	// Message is what {message} stands for in a client's arguments.
	Message string
	// Bound is how long a client program may run in one check.
	Bound time.Duration
	// Checks are the names of the suite's checks, in order.
	Checks []string
	// Hints are each check's likely causes of failure, by check name.
	Hints map[string][]Hint
	// Always are causes that come before any check's own: a server on
	// loopback only fails every check for that one reason.
	Always []Hint
	// File is where the suite came from: "" for a built-in one.
	File string

	src []byte
}

// header is the part of a suite file labctl check reads itself.
type header struct {
	Name   string `yaml:"name"`
	Lesson *struct {
		Summary   string            `yaml:"summary"`
		Role      Role              `yaml:"role"`
		Transport string            `yaml:"transport"`
		Port      int               `yaml:"port"`
		Args      []string          `yaml:"args"`
		Message   string            `yaml:"message"`
		Bound     string            `yaml:"bound"`
		Hints     []Hint            `yaml:"hints"`
		Checks    map[string][]Hint `yaml:"checks"`
	} `yaml:"x-lesson"`
	Steps []struct {
		Name   string `yaml:"name"`
		Action string `yaml:"action"`
	} `yaml:"steps"`
}

// parse reads a suite's own part (x-lesson) from src; the scenario part is
// checked when the suite is made into a scenario.
func parse(src []byte, file string) (*Suite, error) {
	where := file
	if where == "" {
		where = "suite"
	}
	var h header
	if err := yaml.Unmarshal(src, &h); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	l := h.Lesson
	if l == nil {
		return nil, fmt.Errorf("%s: no x-lesson: a suite is a scenario with an x-lesson key saying the program's role (see labctl check --help)", where)
	}
	s := &Suite{Name: h.Name, Summary: l.Summary, Role: l.Role, Transport: l.Transport, Port: l.Port,
		Args: l.Args, Message: l.Message, Hints: l.Checks, Always: l.Hints, File: file, src: src, Bound: 10 * time.Second}
	var errs []error
	switch s.Role {
	case Server:
		if s.Transport != "tcp" && s.Transport != "udp" {
			errs = append(errs, fmt.Errorf("x-lesson.transport %q: want tcp or udp", s.Transport))
		}
	case Client:
		if len(s.Args) == 0 {
			s.Args = []string{"{host}", "{port}"}
		}
	default:
		errs = append(errs, fmt.Errorf("x-lesson.role %q: want server or client", s.Role))
	}
	if l.Bound != "" {
		d, err := time.ParseDuration(l.Bound)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("x-lesson.bound %q: want a duration such as 5s", l.Bound))
		}
		s.Bound = d
	}
	for _, st := range h.Steps {
		if st.Action == "" { // an action sets the lab up for a check
			s.Checks = append(s.Checks, st.Name)
		}
	}
	for name := range s.Hints {
		if !slices.Contains(s.Checks, name) {
			errs = append(errs, fmt.Errorf("x-lesson.checks: %q is not the name of a step", name))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %w", where, errors.Join(errs...))
	}
	return s, nil
}

// Lessons are the built-in suites, by name.
func Lessons() []*Suite {
	entries, err := fs.Glob(builtin, "suites/*.yaml")
	if err != nil {
		panic(err) // the pattern is constant
	}
	var out []*Suite
	for _, e := range entries {
		src, err := builtin.ReadFile(e)
		if err != nil {
			panic(err) // embedded
		}
		s, err := parse(src, "")
		if err != nil {
			panic(fmt.Sprintf("built-in suite %s: %v", e, err)) // a test loads them all
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *Suite) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Lookup returns the built-in suite of a lesson.
func Lookup(name string) (*Suite, error) {
	var names []string
	for _, s := range Lessons() {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	hint := "labctl check --list shows them"
	best, bestD := "", len(name)/2+2
	for _, n := range names {
		if d := distance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best != "" {
		hint = fmt.Sprintf("did you mean %q? (%s)", best, hint)
	}
	return nil, fmt.Errorf("no lesson %q: %s", name, hint)
}

// distance is the edit distance of a and b (Levenshtein, bytes).
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// ReadFile reads a suite from a file: a teacher's own, whose files are
// relative to its folder.
func ReadFile(path string) (*Suite, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("suite: %w", err)
	}
	return parse(src, path)
}

// Explain returns the likely cause of a failed check and its fix: the first
// hint whose If the text shows, of the suite's own (x-lesson.hints) then
// the check's, or nil.
func (s *Suite) Explain(check, text string) *Hint {
	for _, hs := range [][]Hint{s.Always, s.Hints[check]} {
		for _, h := range hs {
			if h.If == "" || strings.Contains(text, h.If) {
				return &h
			}
		}
	}
	return nil
}

// Program is what a check runs as the learner's program.
type Program struct {
	// Path is the program's file on this machine: a .py file runs with
	// python3, any other file as it is (it must be executable in the node).
	Path string
	// Image is an image that holds the program; with it, Path is empty and
	// the node runs the image's command, or Args when given.
	Image string
	// Mount bind-mounts a copy of the program's file into the node, for an
	// engine on this machine: no image is built for it (nor for the files
	// of a built-in suite). Otherwise the file becomes an image layer (any
	// engine, a second or two more a program).
	Mount bool
	// Args are the program's arguments; in a client lesson {host}, {port},
	// {hostport} and {message} stand for the reference server and the
	// message.
	Args []string
}

// argv is the command that runs p in its node.
func (p Program) argv() []string {
	if p.Image != "" {
		return slices.Clone(p.Args)
	}
	target := "/lab/" + filepath.Base(p.Path)
	if strings.HasSuffix(p.Path, ".py") {
		return append([]string{"python3", "-u", target}, p.Args...)
	}
	return append([]string{target}, p.Args...)
}

// Scenario makes the suite's lab for p: the suite file (and, for a built-in
// suite, the files beside it) written to dir, loaded and validated, with
// the program node running p. In a client lesson each "{program}" exec runs
// p with its arguments filled in; in a server lesson the steps still hold
// "{port}" until BindPort.
func (s *Suite) Scenario(p Program, dir string) (*scenario.Scenario, error) {
	file := s.File
	if file == "" {
		if err := fs.WalkDir(builtin, "suites", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := builtin.ReadFile(path)
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, filepath.Base(path)), b, 0o644)
			}
			return err
		}); err != nil {
			return nil, fmt.Errorf("suite %s: %w", s.Name, err)
		}
		file = filepath.Join(dir, s.Name+".yaml")
	}
	sc, err := scenario.Load(file)
	if err != nil {
		return nil, err
	}
	var node *scenario.Node
	for _, n := range sc.Nodes {
		if n.Name == ProgramNode {
			node = n
		}
		if p.Mount && s.File == "" {
			// The built-in suite's own files (probe.py, refserver.py),
			// written to dir readable by anyone, bind-mounted: no image is
			// made for them, nor removed under another lab that shares it.
			n.Mounts, n.Files = append(n.Mounts, n.Files...), nil
		}
	}
	if node == nil {
		return nil, fmt.Errorf("%s: the suite has no node %q, where the learner's program runs", file, ProgramNode)
	}
	if p.Image != "" {
		node.Image = p.Image
	} else {
		abs, err := filepath.Abs(p.Path)
		if err != nil {
			return nil, fmt.Errorf("program %s: %w", p.Path, err)
		}
		bind := scenario.Bind{Source: abs, Target: "/lab/" + filepath.Base(p.Path)}
		if p.Mount {
			// A copy the node's user may read (and run), whatever the
			// original's owner and mode.
			if bind.Source, err = copyProgram(abs, dir); err != nil {
				return nil, err
			}
			node.Mounts = append(node.Mounts, bind)
		} else {
			node.Files = append(node.Files, bind)
		}
	}
	if node.Env == nil {
		node.Env = map[string]string{}
	}
	node.Env["PYTHONUNBUFFERED"] = "1" // its prints reach the log as they happen
	node.Tmpfs = append(node.Tmpfs, "/tmp")
	switch s.Role {
	case Server:
		if argv := p.argv(); len(argv) > 0 {
			node.Command = argv
		}
		node.Ready = &scenario.Ready{None: true} // labctl check waits for its socket
	case Client:
		for _, st := range sc.Steps {
			x, ok := st.Kind.(*scenario.ExecStep)
			if !ok || len(x.Argv) == 0 || x.Argv[0] != "{program}" {
				continue
			}
			if len(x.Argv) != 3 || st.Node != ProgramNode {
				return nil, fmt.Errorf("%s:%d: an exec of {program} runs in node %q and names the server's host and port: [\"{program}\", HOST, PORT]", file, st.Line, ProgramNode)
			}
			x.Argv = s.clientArgv(p, x.Argv[1], x.Argv[2])
		}
	}
	return sc, nil
}

// copyProgram copies the program at path into dir, readable by anyone
// and, when it is, executable; it returns the copy's path.
func copyProgram(path, dir string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("program: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("program: %w", err)
	}
	mode := os.FileMode(0o644)
	if st.Mode()&0o111 != 0 {
		mode = 0o755
	}
	out := filepath.Join(dir, "program", filepath.Base(path))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", fmt.Errorf("program: %w", err)
	}
	if err := os.WriteFile(out, b, mode); err != nil {
		return "", fmt.Errorf("program: %w", err)
	}
	return out, os.Chmod(out, mode) // past the umask
}

// clientArgv runs the client program against host and port, stopped after
// the suite's bound: "timeout" exits 124 then (and kills it a second later
// if it ignores SIGTERM).
func (s *Suite) clientArgv(p Program, host, port string) []string {
	p.Args = slices.Clone(p.Args)
	if len(p.Args) == 0 {
		p.Args = slices.Clone(s.Args)
	}
	hostport := host + ":" + port
	if strings.HasPrefix(host, "{ipv6:") || strings.Contains(host, ":") && !strings.HasPrefix(host, "{") {
		hostport = "[" + host + "]:" + port
	}
	r := strings.NewReplacer("{hostport}", hostport, "{host}", host, "{port}", port, "{message}", s.Message)
	for i, a := range p.Args {
		p.Args[i] = r.Replace(a)
	}
	bound := strconv.FormatFloat(s.Bound.Seconds(), 'f', -1, 64)
	return append([]string{"timeout", "-k", "1", bound}, p.argv()...)
}

// BindAddresses puts each node's address in place of "{ipv4:NODE}" and
// "{ipv6:NODE}" in the steps' exec of sc: a server reached by its IPv6
// address is reached over IPv6 only, on any engine (Docker 20.10 gives an
// IPv6-only network IPv4 addresses too, and its DNS answers with them).
// addr returns a node's address of a family ("ipv4" or "ipv6"), "" when it
// has none.
func BindAddresses(sc *scenario.Scenario, addr func(node, family string) string) error {
	for _, st := range sc.Steps {
		argv := execArgv(st)
		for i, a := range argv {
			for _, fam := range []string{"ipv4", "ipv6"} {
				for {
					start := strings.Index(a, "{"+fam+":")
					if start < 0 {
						break
					}
					end := strings.IndexByte(a[start:], '}')
					if end < 0 {
						return fmt.Errorf("step %q: %q has no closing brace", st.Name, a)
					}
					node := a[start+len(fam)+2 : start+end]
					ip := addr(node, fam)
					if ip == "" {
						return fmt.Errorf("step %q: node %q has no %s address", st.Name, node, fam)
					}
					a = a[:start] + ip + a[start+end+1:]
				}
			}
			argv[i] = a
		}
	}
	return nil
}

// execArgv is an exec step's command (nil for other kinds), to fill in.
func execArgv(st *scenario.Step) []string {
	if x, ok := st.Kind.(*scenario.ExecStep); ok {
		return x.Argv
	}
	return nil
}

// BindPort puts port in place of "{port}" in the steps of sc.
func BindPort(sc *scenario.Scenario, port int) {
	for _, st := range sc.Steps {
		argv := execArgv(st)
		for i, a := range argv {
			argv[i] = strings.ReplaceAll(a, "{port}", strconv.Itoa(port))
		}
	}
}

// Describe is the suite's --list entry: its name, role and summary.
func (s *Suite) Describe() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%-15s %s", s.Name, s.Summary)
	return b.String()
}
