package frame

import (
	"errors"
	"sync/atomic"
)

// ErrBusy means a Reader's Budget had no room for the content of a message.
var ErrBusy = errors.New("server busy")

// Budget is memory that Readers share for message content, so that what a
// server holds for requests in flight is bounded as a whole, however many
// connections send large requests and stall. A Reader takes from it as its
// content buffer grows (that is, as content arrives) and gives back when it
// drops the buffer. Messages of more than SmallContent bytes of content may
// take only three quarters of it: the last quarter is kept for small
// messages, so that large requests cannot lock ordinary ones out. A nil *Budget has no limit. It is
// safe for concurrent use.
type Budget struct {
	limit, large int64
	used         atomic.Int64
}

// SmallContent is the largest content that may use a Budget's reserve; it
// is also the largest content buffer a Reader keeps between messages.
const SmallContent = keepContent

// NewBudget returns a budget of limit bytes.
func NewBudget(limit int) *Budget {
	return &Budget{limit: int64(limit), large: int64(limit) - int64(limit)/4}
}

// InUse reports how many bytes Readers hold.
func (b *Budget) InUse() int {
	if b == nil {
		return 0
	}
	return int(b.used.Load())
}

// Limit reports the budget's size in bytes.
func (b *Budget) Limit() int {
	if b == nil {
		return 0
	}
	return int(b.limit)
}

// take reserves n more bytes for the content of a message of size bytes.
func (b *Budget) take(n, size int) bool {
	if b == nil || n <= 0 {
		return true
	}
	limit := b.limit
	if size > SmallContent {
		limit = b.large
	}
	for {
		u := b.used.Load()
		if u+int64(n) > limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+int64(n)) {
			return true
		}
	}
}

func (b *Budget) give(n int) {
	if b != nil && n > 0 {
		b.used.Add(-int64(n))
	}
}
