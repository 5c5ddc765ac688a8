package lookup

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"socketlab/services/internal/svctest"
	"socketlab/services/lookup/frame"
)

// ReferenceEnv names the folder holding the tutorial's app-server.py,
// app-client.py, libserver.py and libclient.py (from realpython/materials,
// python-sockets-tutorial). The reference code is not part of this
// repository; the interop test runs only when the folder is given.
const ReferenceEnv = "LOOKUP_REFERENCE_DIR"

func reference(t *testing.T) (python, dir string) {
	dir = os.Getenv(ReferenceEnv)
	if dir == "" {
		t.Skipf("set %s to a folder with the tutorial's app-server.py and app-client.py to run the interop test", ReferenceEnv)
	}
	for _, f := range []string{"app-server.py", "app-client.py", "libserver.py", "libclient.py"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("%s=%s: %v", ReferenceEnv, dir, err)
		}
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("%s is set but python3 is missing: %v", ReferenceEnv, err)
	}
	return python, dir
}

// Our client against the tutorial's server, the tutorial's client against
// ours, and the same bytes to both servers.
func TestInteropWithTutorial(t *testing.T) {
	python, dir := reference(t)
	port := strconv.Itoa(svctest.FreePort(t))
	refAddr := net.JoinHostPort("127.0.0.1", port)
	srv := exec.Command(python, "-u", "app-server.py", "127.0.0.1", port)
	srv.Dir = dir
	var srvOut bytes.Buffer
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Kill()
		srv.Wait()
		t.Logf("tutorial server output:\n%s", srvOut.String())
	})
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", refAddr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tutorial server did not start: %v\n%s", err, srvOut.String())
		}
	}

	t.Run("our client, their server", func(t *testing.T) {
		for _, c := range []struct {
			name string
			req  []string
			want string
		}{
			{"search", []string{"search", "ring"}, "In the caves beneath the Misty Mountains. \U0001f48d\n"},
			{"search emoji", []string{"search", "\U0001f436"}, "\U0001f43e Playing ball! \U0001f3d0\n"},
			{"no match", []string{"search", "TCP"}, "No match for 'TCP'.\n"},
			{"unknown action", []string{"--action", "dance", "search", "x"}, "Error: invalid action 'dance'.\n"},
			{"binary", []string{"binary", "hello"}, "First 10 bytes of request: binaryhell\n"},
		} {
			out, errs, code := runClient("", append([]string{refAddr}, c.req...)...)
			if code != 0 || out != c.want {
				t.Errorf("%s: exit %d, %q %s; want %q", c.name, code, out, errs, c.want)
			}
		}
	})

	ours, _ := startServer(t, testConfig, "127.0.0.1")
	t.Run("their client, our server", func(t *testing.T) {
		host, oport, _ := net.SplitHostPort(ours)
		tcp, _ := DefaultGlossary.Lookup("TCP")
		for _, c := range []struct {
			action, value string
			want          string
		}{
			{"search", "tcp", "Got result: " + tcp.Definition + "\n"},
			{"search", "\U0001f436", "Got result: \U0001f43e Playing ball! \U0001f3d0"},
			{"search", "ring", "Got result: In the caves beneath the Misty Mountains. \U0001f48d"},
			{"binary", "hello", "Got response: b'First 10 bytes of request: binaryhell'\n"},
			{"double", "x", "Got response: b'First 10 bytes of request: doublex'\n"},
		} {
			cl := exec.Command(python, "app-client.py", host, oport, c.action, c.value)
			cl.Dir = dir
			b, err := cl.CombinedOutput()
			if err != nil || !strings.Contains(string(b), c.want) || strings.Contains(string(b), "error") {
				t.Errorf("app-client.py %s %s: %v\n%s\nwant %q", c.action, c.value, err, b, c.want)
			}
		}
	})

	t.Run("same bytes from both servers", func(t *testing.T) {
		req := []byte(pyBinaryHello)
		if frame.NativeByteOrder != "little" {
			req = bytes.Replace(req, []byte(`"little"`), []byte(`"`+frame.NativeByteOrder+`"`), 1)
		}
		theirs, ours := askRaw(t, refAddr, req), askRaw(t, ours, req)
		if !bytes.Equal(theirs, ours) {
			t.Errorf("tutorial server: %q\nour server:      %q", theirs, ours)
		}
	})
}

// askRaw sends req, half-closes, and returns everything until the server closes.
func askRaw(t *testing.T, addr string, req []byte) []byte {
	c := dial(t, addr)
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	// The tutorial's server closes after its response; ours once we do.
	var got []byte
	buf := make([]byte, 4096)
	for len(got) < len(pyBinaryAnswer) {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	return got
}
