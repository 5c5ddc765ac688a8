//go:build !linux

package load

import (
	"context"
	"errors"
	"time"
)

// UDPFlood needs sendmmsg and recvmmsg, which only Linux has.
func UDPFlood(ctx context.Context, addr string, sockets, window, size int, d time.Duration) (float64, error) {
	return 0, errors.New("udp flood: Linux only")
}
