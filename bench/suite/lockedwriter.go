package suite

import (
	"bytes"
	"sync"
)

// lockedWriter collects a process's stdout and stderr, which its two pipes
// copy from separate goroutines.
type lockedWriter struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() > 1<<20 { // a server that logs per connection: keep the start
		return len(p), nil
	}
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
