package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"socketlab/internal/labtest"
)

// checkVerdicts is labctl check -o json, as far as these tests read it.
type checkVerdicts struct {
	Lesson   string `json:"lesson"`
	Programs []struct {
		Program string `json:"program"`
		Listens string `json:"listens"`
		Error   string `json:"error"`
		Passed  int    `json:"passed"`
		Total   int    `json:"total"`
		Checks  []struct {
			Name   string `json:"name"`
			Passed bool   `json:"passed"`
			Saw    string `json:"saw"`
			Cause  string `json:"cause"`
			Fix    string `json:"fix"`
		} `json:"checks"`
	} `json:"programs"`
}

// A program and what labctl check must find of it: which checks fail
// (by number, from 1), and words the first failure's explanation holds.
type graded struct {
	program string
	fails   []int
	why     string
}

// TestCheckLessons runs each lesson's suite against socketlab's own
// programs and the correct ones of examples/python, which must pass every
// check, and against the buggy ones of examples/python/buggy, each of
// which must fail exactly the checks of its bug, saying why in a learner's
// words. The programs of a lesson are graded side by side in one run, as a
// teacher grades a class.
func TestCheckLessons(t *testing.T) {
	labtest.NeedImages(t, "toolbox", "echo", "welcome", "responder", "lookup", "capture")
	sock := filepath.Join(t.TempDir(), "sock")
	if out, err := exec.Command("go", "build", "-o", sock, "../services/sock").CombinedOutput(); err != nil {
		t.Fatalf("go build sock: %v\n%s", err, out)
	}
	py := func(p string) string { return filepath.Join("..", "examples", "python", p) }
	cases := []struct {
		name, lesson string
		flags        []string // before the programs
		args         []string // after --
		programs     []graded
	}{
		{name: "echo-server", lesson: "echo-server", programs: []graded{
			{py("echo_multi_server.py"), nil, ""},
			{py("buggy/echo_one_recv.py"), []int{3, 4}, "one recv() was taken for the whole message"},
			{py("buggy/echo_localhost.py"), []int{1, 2, 3, 4, 5, 6}, `bind to "" or "::"`},
			{py("buggy/echo_ipv4_only.py"), []int{2}, "takes IPv4 only"},
			{py("echo_server.py"), []int{5}, "one client at a time"},
		}},
		{name: "echo-server/socketlab echo", lesson: "echo-server", flags: []string{"--image", "echo", "--port", "7"},
			programs: []graded{{"echo", nil, ""}}},
		{name: "welcome-server", lesson: "welcome-server", programs: []graded{
			{py("welcome_server.py"), nil, ""},
			{py("buggy/welcome_close_unread.py"), []int{4}, "close() with unread bytes"},
		}},
		{name: "welcome-server/socketlab welcome", lesson: "welcome-server", flags: []string{"--image", "welcome", "--port", "9999"},
			programs: []graded{{"welcome", nil, ""}}},
		{name: "udp-server", lesson: "udp-server", programs: []graded{
			{py("udp_receiver.py"), nil, ""},
			{py("buggy/udp_server_decode.py"), []int{6}, "UnicodeDecodeError"},
			{py("buggy/udp_server_small_buffer.py"), []int{5}, "recvfrom(n) keeps n bytes"},
		}},
		{name: "udp-server/socketlab echo", lesson: "udp-server", flags: []string{"--image", "echo", "--port", "7"},
			programs: []graded{{"echo", nil, ""}}},
		{name: "chat-server", lesson: "chat-server", programs: []graded{
			{py("chat_server.py"), nil, ""},
			{py("buggy/chat_recv_is_a_line.py"), []int{3, 4}, "each recv() was taken for one line"},
			{py("buggy/chat_blocking_send.py"), []int{4}, "sendall() to a full socket blocks"},
		}},
		{name: "lookup-server", lesson: "lookup-server", programs: []graded{
			{py("lookup_server.py"), nil, ""},
			{py("buggy/lookup_one_recv.py"), []int{3}, "parsed what its first recv() returned as the whole frame"},
		}},
		{name: "lookup-server/socketlab lookup", lesson: "lookup-server", flags: []string{"--image", "lookup", "--port", "65432"},
			programs: []graded{{"lookup", nil, ""}}},
		{name: "echo-client", lesson: "echo-client", programs: []graded{
			{py("echo_client.py"), nil, ""},
			{py("buggy/echo_client_reads_once.py"), []int{3, 4}, "only what its first recv() returned"},
		}},
		{name: "echo-client/sock", lesson: "echo-client", args: []string{"echo", "{hostport}", "{message}"},
			programs: []graded{{sock, nil, ""}}},
		{name: "welcome-client", lesson: "welcome-client", programs: []graded{
			{py("welcome_client.py"), nil, ""},
			{py("buggy/welcome_client_reads_once.py"), []int{3, 4}, "printed what its first recv() returned"},
		}},
		{name: "welcome-client/sock", lesson: "welcome-client", args: []string{"welcome", "{hostport}"},
			programs: []graded{{sock, nil, ""}}},
		{name: "udp-client", lesson: "udp-client", programs: []graded{
			{py("udp_sender.py"), nil, ""},
			{py("buggy/udp_client_no_timeout.py"), []int{3, 4, 5}, "waited for its reply forever"},
		}},
		{name: "udp-client/sock", lesson: "udp-client", args: []string{"responder", "-t", "3s", "--tries", "3", "{hostport}", "{message}"},
			programs: []graded{{sock, nil, ""}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			argv := append([]string{"check", "-q", "-o", "json", "-j", "3", "--name", labtest.Name(t), c.lesson}, c.flags...)
			for _, p := range c.programs {
				if !slices.Contains(c.flags, "--image") {
					argv = append(argv, p.program)
				}
			}
			if c.args != nil {
				argv = append(append(argv, "--"), c.args...)
			}
			code, stdout, stderr := labctl(t, argv...)
			var v checkVerdicts
			if err := json.Unmarshal([]byte(stdout), &v); err != nil {
				t.Fatalf("labctl %s: exit %d, %v; stdout:\n%s\nstderr:\n%s", strings.Join(argv, " "), code, err, stdout, stderr)
			}
			wantCode := 0
			for _, p := range c.programs {
				if len(p.fails) > 0 {
					wantCode = 1
				}
			}
			if code != wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, wantCode, stderr)
			}
			if len(v.Programs) != len(c.programs) {
				t.Fatalf("%d verdicts for %d programs:\n%s", len(v.Programs), len(c.programs), stdout)
			}
			for i, p := range c.programs {
				got := v.Programs[i]
				if got.Error != "" {
					t.Errorf("%s: could not be checked: %s", p.program, got.Error)
					continue
				}
				var fails []int
				for j, ch := range got.Checks {
					if !ch.Passed {
						fails = append(fails, j+1)
					}
				}
				if !slices.Equal(fails, p.fails) {
					t.Errorf("%s: checks %v failed, want %v; verdict:\n%+v", p.program, fails, p.fails, got)
					continue
				}
				if len(p.fails) > 0 {
					first := got.Checks[p.fails[0]-1]
					if !strings.Contains(first.Cause+" "+first.Fix, p.why) || first.Saw == "" {
						t.Errorf("%s: check %q failed saying %q (fix %q) after seeing %q; want the cause to say %q",
							p.program, first.Name, first.Cause, first.Fix, first.Saw, p.why)
					}
				}
			}
		})
	}
}

// A program that cannot run is not a failed check: exit 2, and why.
func TestCheckProgramThatWillNotRun(t *testing.T) {
	labtest.NeedImages(t, "toolbox", "capture")
	bad := filepath.Join(t.TempDir(), "server.py")
	if err := os.WriteFile(bad, []byte("import socket\nprint(\"listening\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := labctl(t, "check", "-q", "--listen-wait", "2s", "--name", labtest.Name(t), "echo-server", bad)
	if code != 2 || !strings.Contains(stdout, "could not be checked: ") || !strings.Contains(stdout, "SyntaxError") {
		t.Errorf("exit %d; want 2 and Python's SyntaxError; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}
