package lab

import (
	"sync"
	"time"
)

// emitter reports the events of one operation on a lab, one at a time.
type emitter struct {
	lab   string
	fn    func(Event)
	began time.Time
	mu    sync.Mutex
}

func newEmitter(lab string, fn func(Event)) *emitter {
	return &emitter{lab: lab, fn: fn, began: time.Now()}
}

func (e *emitter) emit(kind Kind, name string, ph Phase, detail string, err error) {
	if e.fn == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fn(Event{Lab: e.lab, Kind: kind, Name: name, Phase: ph, Detail: detail, Elapsed: time.Since(e.began), Err: err})
}
