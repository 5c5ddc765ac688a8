package backendtest

import "sync"

// rule fails or pauses calls of one method: the n-th from when it was
// set (n 0: every one).
type rule struct {
	method  string
	n, seen int
	err     error
	pause   chan struct{}
	at      chan struct{}
	reached sync.Once
}

// FailAt makes the n-th call of method from now (n 0: every call) fail
// with err, wrapped with the method and what it acted on.
func (f *Fake) FailAt(method string, n int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, &rule{method: method, n: n, err: err})
}

// PauseAt holds the n-th call of method from now (n 0: every call) until
// release is called (or the call's context ends). reached is closed when
// the first held call arrives.
func (f *Fake) PauseAt(method string, n int) (reached <-chan struct{}, release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := &rule{method: method, n: n, pause: make(chan struct{}), at: make(chan struct{})}
	f.rules = append(f.rules, r)
	var once sync.Once
	return r.at, func() { once.Do(func() { close(r.pause) }) }
}
