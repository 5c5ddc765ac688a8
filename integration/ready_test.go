package integration

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"socketlab/internal/images"
	"socketlab/internal/labtest"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// The sockets tutorial's echo server, with HOST set by the test: it serves
// one client and exits.
const tutorialServer = `import socket
HOST = %q
PORT = 65432
with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind((HOST, PORT))
    s.listen()
    conn, addr = s.accept()
    with conn:
        print(f"Connected by {addr}", flush=True)
        while True:
            data = conn.recv(1024)
            if not data:
                break
            conn.sendall(data)
`

// TestReadyTellsTheTruth: a tcp readiness check on real nodes. The
// tutorial's server bound to 127.0.0.1 fails up at once with what it found
// and the fix; bound to every address it is ready without being used up
// (its one client is the test's, which gets its echo); a server that
// crashes once it listens fails up with its traceback, never "up".
func TestReadyTellsTheTruth(t *testing.T) {
	t.Parallel()
	labtest.NeedImages(t, images.Toolbox, images.Client)
	scenarioOf := func(program string) *scenario.Scenario {
		t.Helper()
		sc, err := scenario.Parse("tutorial.yaml", []byte(`name: tutorial
networks: {net: {}}
nodes:
  server:
    image: toolbox
    networks: [net]
    command: [python3, -c, `+strings.ReplaceAll(program, "\n", `\n`)+`]
    ready: {tcp: 65432, timeout: 20s}
  client:
    image: client
    networks: [net]
`))
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	quote := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }
	tutorial := func(host string) string { return quote(strings.Replace(tutorialServer, "%q", `"`+host+`"`, 1)) }

	t.Run("loopback only", func(t *testing.T) {
		t.Parallel()
		name := labtest.Name(t)
		began := time.Now()
		_, err := labtest.Engine().Up(context.Background(), scenarioOf(tutorial("127.0.0.1")), lab.WithName(name))
		if !errors.Is(err, lab.ErrUnhealthy) {
			t.Fatalf("up: %v, want ErrUnhealthy", err)
		}
		for _, want := range []string{"it listens on tcp 127.0.0.1:65432 only, a loopback address", `bind every address instead: "" or "0.0.0.0"`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%v", want, err)
			}
		}
		if took := time.Since(began); took > 15*time.Second {
			t.Errorf("up took %s to fail: it should not wait out the 20s timeout", took)
		}
		if labtest.Exists(t, name) {
			t.Error("a failed up left resources")
		}
	})
	t.Run("one-shot server not used up", func(t *testing.T) {
		t.Parallel()
		name := labtest.Name(t)
		l, err := labtest.Engine().Up(context.Background(), scenarioOf(tutorial("")), lab.WithName(name))
		if err != nil {
			t.Fatalf("up: %v", err)
		}
		t.Cleanup(func() { labtest.Engine().Down(context.Background(), name) })
		var log bytes.Buffer
		l.Logs(context.Background(), "server", false, &log, &log)
		if strings.Contains(log.String(), "Connected by") {
			t.Errorf("the readiness check connected to the server: %s", log.String())
		}
		out, errb, code, err := l.Exec(context.Background(), "client", []string{"sock", "echo", "server:65432", "hello"})
		if err != nil || code != 0 || !strings.Contains(string(out), "hello") {
			t.Errorf("the test's client: exit %d, %v: %s%s; want its echo (the server's one client)", code, err, out, errb)
		}
	})
	t.Run("crashes once it listens", func(t *testing.T) {
		t.Parallel()
		name := labtest.Name(t)
		crash := quote("import socket, time\ns = socket.create_server(('', 65432))\ntime.sleep(0.15)\nprint(1 / 0)\n")
		_, err := labtest.Engine().Up(context.Background(), scenarioOf(crash), lab.WithName(name))
		if !errors.Is(err, lab.ErrUnhealthy) || !strings.Contains(err.Error(), "exited with code 1") || !strings.Contains(err.Error(), "ZeroDivisionError") {
			t.Errorf("up: %v\nwant ErrUnhealthy, exited with code 1, and the traceback", err)
		}
		if labtest.Exists(t, name) {
			t.Error("a failed up left resources")
		}
	})
}
