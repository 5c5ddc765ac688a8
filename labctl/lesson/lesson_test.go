package lesson

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"socketlab/labctl/check"
)

// Every built-in suite is a valid scenario with a program node, explains
// every check it has, and turns a program into the node's command.
func TestBuiltinSuitesLoad(t *testing.T) {
	prog := filepath.Join(t.TempDir(), "my prog.py")
	if err := os.WriteFile(prog, []byte("print('hi')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := []string{"chat-server", "echo-client", "echo-server", "lookup-server", "udp-client", "udp-server", "welcome-client", "welcome-server"}
	var names []string
	for _, s := range Lessons() {
		names = append(names, s.Name)
		t.Run(s.Name, func(t *testing.T) {
			if s.Summary == "" || len(s.Checks) == 0 {
				t.Errorf("summary %q, %d checks", s.Summary, len(s.Checks))
			}
			for _, c := range s.Checks {
				if len(s.Hints[c]) == 0 {
					t.Errorf("check %q has no hint: a failure would not say why", c)
				}
			}
			sc, err := s.Scenario(Program{Path: prog, Args: []string{"::", "7"}}, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			var node []string
			for _, n := range sc.Nodes {
				if n.Name == ProgramNode {
					node = n.Command
					if len(n.Files) == 0 || n.Files[len(n.Files)-1].Target != "/lab/my prog.py" {
						t.Errorf("program files %+v", n.Files)
					}
				}
			}
			// On a local engine nothing becomes an image: every file is a mount.
			mounted, err := s.Scenario(Program{Path: prog, Mount: true}, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range mounted.Nodes {
				if len(n.Files) > 0 || n.Name == ProgramNode && len(n.Mounts) == 0 {
					t.Errorf("mounted: node %s has files %v, mounts %v", n.Name, n.Files, n.Mounts)
				}
			}
			switch s.Role {
			case Server:
				if !slices.Equal(node, []string{"python3", "-u", "/lab/my prog.py", "::", "7"}) {
					t.Errorf("server command %q", node)
				}
			case Client:
				for _, st := range sc.Steps {
					if st.Node == ProgramNode && (execArgv(st)[0] != "timeout" || !slices.Contains(execArgv(st), "/lab/my prog.py")) {
						t.Errorf("step %q runs %q", st.Name, execArgv(st))
					}
				}
			}
		})
	}
	if !slices.Equal(names, want) {
		t.Errorf("lessons %q, want %q", names, want)
	}
}

func TestLookup(t *testing.T) {
	if _, err := Lookup("echo-server"); err != nil {
		t.Fatal(err)
	}
	for typo, want := range map[string]string{
		"echo-srv":   `no lesson "echo-srv": did you mean "echo-server"?`,
		"udp-clinet": `did you mean "udp-client"?`,
		"tcp":        `no lesson "tcp": labctl check --list shows them`,
	} {
		if _, err := Lookup(typo); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Lookup(%q): %v; want %q", typo, err, want)
		}
	}
}

// A client's arguments: the lesson's by default, {host} {port} {hostport}
// {message} filled in, an IPv6 address in brackets in {hostport}, and the
// program stopped at the bound.
func TestClientArgv(t *testing.T) {
	s, err := Lookup("echo-client")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		p          Program
		host, port string
		want       []string
	}{
		{"default args", Program{Path: "c.py"}, "echo4", "7",
			[]string{"timeout", "-k", "1", "5", "python3", "-u", "/lab/c.py", "echo4", "7", "hello socketlab"}},
		{"hostport of a name", Program{Path: "/x/sock", Args: []string{"echo", "{hostport}"}}, "echo4", "7",
			[]string{"timeout", "-k", "1", "5", "/lab/sock", "echo", "echo4:7"}},
		{"hostport of an IPv6 address", Program{Path: "/x/sock", Args: []string{"{hostport}"}}, "{ipv6:echo6}", "7",
			[]string{"timeout", "-k", "1", "5", "/lab/sock", "[{ipv6:echo6}]:7"}},
	}
	for _, c := range cases {
		if got := s.clientArgv(c.p, c.host, c.port); !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// /proc/net as a node shows it: a dual-stack listener, a loopback one,
// Docker's DNS (not the program's), a connected socket, UDP.
const procNet = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0B00007F:A2F1 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 10001        0 2 1 0 100 0 0 10 0
   2: 030010AC:0007 020010AC:D2F0 01 00000000:00000000 00:00000000 00000000 10001        0 3 1 0 20 4 30 10 -1
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0007 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 10001        0 4 1 0 100 0 0 10 0
   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  1: 0B00007F:8B3C 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5 2 0 0
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  2: 00000000000000000000000001000000:270F 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000 10001        0 6 2 0 0
`

func TestListening(t *testing.T) {
	got := Listening(procNet)
	want := []Socket{
		{"tcp", netip.MustParseAddrPort("127.0.0.1:8080")},
		{"tcp", netip.MustParseAddrPort("[::]:7")},
		{"udp", netip.MustParseAddrPort("[::1]:9999")},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Listening: %v, want %v", got, want)
	}
	echo, _ := Lookup("echo-server")
	if port, on := echo.PickPort(got); port != 7 || len(on) != 1 {
		t.Errorf("echo-server picks %d %v, want 7, the lesson's port", port, on)
	}
	welcome, _ := Lookup("welcome-server")
	if port, _ := welcome.PickPort(got); port != 7 {
		t.Errorf("welcome-server picks %d, want 7, the lowest (9999 is not listened on)", port)
	}
	udp, _ := Lookup("udp-server")
	port, on := udp.PickPort(got)
	if port != 9999 || !strings.Contains(Describe(on), "loopback only") {
		t.Errorf("udp-server picks %d: %s; want 9999 on loopback only", port, Describe(on))
	}
	if d := Describe(got[:1]); !strings.Contains(d, "127.0.0.1:8080 (loopback only") {
		t.Errorf("Describe: %s", d)
	}
}

func TestBindAddresses(t *testing.T) {
	s, _ := Lookup("echo-client")
	sc, err := s.Scenario(Program{Path: "/x/sock", Args: []string{"echo", "{hostport}"}}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	err = BindAddresses(sc, func(node, fam string) string {
		switch {
		case node == "echo" && fam == "ipv6":
			return "fd00::2"
		case node == "echo" && fam == "ipv4":
			return "10.1.2.3"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, st := range sc.Steps {
		if slices.Contains(execArgv(st), "[fd00::2]:7") {
			found = true
		}
	}
	if !found {
		t.Errorf("no step reaches [fd00::2]:7: %v", sc.Steps)
	}
	if err := BindAddresses(sc, func(string, string) string { return "" }); err != nil {
		t.Errorf("bound twice: %v", err) // nothing left to bind
	}
}

// A failure is explained by the suite's own hints first (a server on
// loopback fails every check for that), then by the check's, the first
// whose text shows; a client stopped at the bound is told so.
func TestJudge(t *testing.T) {
	s, _ := Lookup("echo-server")
	rep := &check.Report{Results: []*check.Result{
		{Name: "reachable from another node over IPv4", Outcome: check.Pass},
		{Name: "reachable over IPv6", Outcome: check.Fail, Output: "connect to fd00::2 port 7 over IPv6: refused",
			Got: `exit 1, stdout "...", stderr "" in 3 ms; wire.handshake false (1 connection(s))`},
		{Name: "1 MB comes back whole and in order", Outcome: check.Fail, Output: "then the connection was reset (RST)", Got: "exit 1, stdout"},
	}}
	v := s.Judge("a.py", "tcp listens on 0.0.0.0:7 (IPv4 only)", rep)
	if v.Passed != 1 || v.Total != 6 || v.OK() {
		t.Errorf("passed %d of %d", v.Passed, v.Total)
	}
	if c := v.Checks[1]; !strings.Contains(c.Cause, "IPv4 only") || !strings.Contains(c.Saw, "on the wire: wire.handshake false") || strings.Contains(c.Saw, `stdout "`) {
		t.Errorf("IPv6 check: cause %q, saw %q", c.Cause, c.Saw)
	}
	if c := v.Checks[2]; !strings.Contains(c.Cause, "one recv() was taken") {
		t.Errorf("1 MB check: cause %q", c.Cause)
	}
	loop := s.Judge("b.py", "tcp listens on 127.0.0.1:7 (loopback only: no other node can reach it)", rep)
	if c := loop.Checks[1]; !strings.Contains(c.Fix, `bind to "" or "::"`) {
		t.Errorf("loopback server, IPv6 check: fix %q", c.Fix)
	}
	if got := exitOf(`exit 124, stdout "", stderr ""`); !strings.Contains(got, "stopped") {
		t.Errorf("exitOf(124) = %q", got)
	}
}

// The suite in docs/check-suites.md is a valid suite.
func TestDocumentedSuite(t *testing.T) {
	b, err := os.ReadFile("../../docs/check-suites.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```yaml\n")
	src, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/check-suites.md has no yaml block")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "daytime.yaml")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Scenario(Program{Path: file}, dir); err != nil {
		t.Fatal(err)
	}
	if s.Role != Server || len(s.Checks) != 2 || s.Explain("one line over IPv4", "connect: refused").Fix != `bind to "" or "::", not to 127.0.0.1` {
		t.Errorf("suite %+v", s)
	}
}
