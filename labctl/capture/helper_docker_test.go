package capture_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"socketlab/internal/labtest/need"
	"socketlab/internal/packet"
	"socketlab/labctl/capture"
)

func docker(t *testing.T, args ...string) string {
	t.Helper()
	b, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return strings.TrimSpace(string(b))
}

// TestCaptureInContainer runs the helper image the way labctl does: in a
// node's network namespace, NET_RAW only, read-only, no-new-privileges; and
// reads its stream as labctl does.
func TestCaptureInContainer(t *testing.T) {
	need.DockerImages(t, "socketlab/capture:latest", "socketlab/welcome:latest")
	name := fmt.Sprintf("cap-%d-welcome", os.Getpid())
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", name, name+"-capture").Run() })
	id := docker(t, "run", "-d", "--name", name, "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "socketlab/welcome:latest")
	ip := docker(t, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id)
	for deadline := time.Now().Add(20 * time.Second); docker(t, "inspect", "-f", "{{.State.Health.Status}}", id) != "healthy"; {
		if time.Now().After(deadline) {
			t.Fatal("welcome did not become healthy in 20 s")
		}
		time.Sleep(200 * time.Millisecond)
	}

	cmd := exec.Command("docker", "run", "--rm", "--name", name+"-capture", "--network", "container:"+id,
		"--cap-drop", "ALL", "--cap-add", "NET_RAW", "--read-only", "--security-opt", "no-new-privileges",
		"socketlab/capture:latest")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s, err := capture.NewStream(stdout, "welcome", map[string]string{"eth0": "bridge"})
	if err != nil {
		t.Fatalf("%v\nstderr: %s", err, stderr.String())
	}
	// What a client does: read the greeting until the server's FIN, then close.
	c, err := net.DialTimeout("tcp", ip+":9999", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	greeting, _ := bufio.NewReader(c).ReadString('\n')
	_, _ = io.Copy(io.Discard, c)
	c.Close()
	time.Sleep(100 * time.Millisecond)
	docker(t, "stop", "-t", "5", name+"-capture")

	var pkts []capture.Packet
	for {
		p, err := s.Next()
		if err != nil {
			break
		}
		pkts = append(pkts, p)
	}
	_ = cmd.Wait()
	if !strings.Contains(stderr.String(), `"event":"end"`) || !strings.Contains(stderr.String(), `"dropped":0`) {
		t.Errorf("stderr has no end line with 0 dropped:\n%s", stderr.String())
	}
	tcp, _ := packet.ParseFilter("tcp port 9999")
	var conn []capture.Packet
	var f capture.Formatter
	for _, p := range pkts {
		if d := packet.Decode(p.Data); tcp.Match(&d) {
			conn = append(conn, p)
			t.Log(f.Line(p))
		}
	}
	yes := true
	w := capture.Analyze(conn)
	if m := (capture.Expect{Handshake: &yes, Close: packet.CloseFIN, CloseBy: packet.SideServer}).Check(w); len(m) != 0 {
		t.Errorf("greeting %q; on the wire: %v", greeting, m)
	}
	if !w.Close.Both || !w.Close.ByNode {
		t.Errorf("close %+v: want FIN both ways, first sent by the captured node", w.Close)
	}
	if len(conn) > 0 && conn[0].Where.String() != "welcome:bridge" {
		t.Errorf("packets at %s, want welcome:bridge", conn[0].Where)
	}
}
