// Package netnstest runs test code inside a named network namespace (one
// that ip netns add made): sockets opened there stay there, so a test can
// serve or dial from a stand-in host, LAN or node.
package netnstest

import (
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// In runs fn on a thread of its own in the network namespace named ns
// (/var/run/netns/ns) and returns when fn does; it fails t when the
// namespace cannot be entered. The thread is never returned to the
// runtime's pool: it ends with fn's goroutine, namespace and all.
func In(t testing.TB, ns string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked, see above
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			t.Errorf("setns %s: %v", ns, err)
			return
		}
		fn()
	}()
	<-done
}
