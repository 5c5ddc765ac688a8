package integration

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"socketlab/internal/images"
	"socketlab/internal/labtest"
	"socketlab/labctl/backend"
	"socketlab/labctl/backend/docker"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// TestEngineOverSSH: an ssh:// endpoint reaches the engine through the
// system's ssh, which runs docker system dial-stdio on the host, as the
// docker CLI does. Here "ssh" is a stand-in on PATH that records its
// arguments and runs the command it was given on this machine (a real
// sshd is not the point: the connection over a process's stdio is). An
// exec with stdin crosses it both ways and sees its end.
func TestEngineOverSSH(t *testing.T) {
	labtest.NeedImages(t, images.Toolbox)
	labtest.NeedCommand(t, "docker", "docker.io")
	dir := t.TempDir()
	argsLog := filepath.Join(dir, "args")
	fake := "#!/bin/sh\necho \"$@\" >> " + argsLog + "\nwhile [ \"$1\" != -- ]; do shift; done\nshift 2\nexec \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "ssh"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))

	l := labtest.Up(t, &scenario.Scenario{Name: "ssh", Networks: []*scenario.Network{{Name: "net"}},
		Nodes: []*scenario.Node{{Name: "box", Image: images.Toolbox, Networks: attach("net")}}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	be, err := docker.NewAt(ctx, "ssh://learner@lab-host:2222", nil)
	if err != nil {
		t.Fatalf("connect over ssh: %v", err)
	}
	defer be.Close()
	ctrs, _, err := be.List(ctx, backend.Selector{lab.LabelLab: l.Name(), lab.LabelRole: lab.RoleNode})
	if err != nil || len(ctrs) != 1 {
		t.Fatalf("list the lab's nodes over ssh: %v, %v", ctrs, err)
	}
	var out bytes.Buffer
	code, err := be.Exec(ctx, ctrs[0].ID, []string{"cat"}, backend.Streams{Stdin: strings.NewReader("across ssh\n"), Stdout: &out})
	if err != nil || code != 0 || out.String() != "across ssh\n" {
		t.Errorf("cat over ssh: exit %d, %v, stdout %q; want exit 0 and the input back", code, err, out.String())
	}
	args, _ := os.ReadFile(argsLog)
	if !strings.Contains(string(args), "-o ConnectTimeout=30 -T -l learner -p 2222 -- lab-host docker system dial-stdio") {
		t.Errorf("ssh ran with %q", args)
	}
}
