package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"socketlab/internal/result"
)

// ExplainUDP is Explain for a connected UDP socket talking to addr, where
// errors mean something else: a passed deadline is silence ("no reply from
// [::1]:7 within 2s", kind timeout), a refusal is an ICMP port unreachable
// that came back (kind refused), and EMSGSIZE is a message too big for one
// datagram (kind usage).
func ExplainUDP(err error, addr string, timeout time.Duration) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return &Error{result.Timeout, fmt.Sprintf("no reply from %s within %s", addr, timeout), err}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &Error{result.Refused, "connection refused by " + addr + " (ICMP port unreachable: nothing listens there)", err}
	case errors.Is(err, syscall.EMSGSIZE):
		return &Error{result.Usage, "the message does not fit in one UDP datagram to " + addr, err}
	}
	return Explain(err, addr, timeout)
}
