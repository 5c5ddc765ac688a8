//go:build unix

package scenario

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestLoadSpecialFiles checks that Load refuses what is not a regular file,
// before reading from it: /dev/zero would be read without end, and opening a
// named pipe blocks until someone writes to it.
func TestLoadSpecialFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "lab.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tests := []struct{ path, want string }{
		{fifo, fifo + ": a named pipe, not a regular file (a scenario is read from a regular file: save it to one first)"},
		{"/dev/zero", "/dev/zero: a device, not a regular file (a scenario is read from a regular file: save it to one first)"},
		{dir, dir + ": a directory, not a regular file (give the scenario files in it: " + filepath.Join(dir, "*.yaml") + ")"},
	}
	for _, tt := range tests {
		done := make(chan error, 1)
		go func() {
			_, err := Load(tt.path)
			done <- err
		}()
		select {
		case err := <-done:
			var errs Errors
			if !errors.As(err, &errs) || err.Error() != tt.want {
				t.Errorf("Load(%s):\n%v\nwant\n%s", tt.path, err, tt.want)
			}
		case <-time.After(time.Minute):
			t.Fatalf("Load(%s) has not returned after a minute", tt.path)
		}
	}
}
