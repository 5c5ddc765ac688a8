//go:build !linux

package load

import (
	"context"
	"errors"
	"net"
	"time"
)

// UDPFlood needs sendmmsg and recvmmsg, which only Linux has.
func UDPFlood(ctx context.Context, addr string, sockets, window, size int, d time.Duration) (float64, error) {
	return 0, errors.New("udp flood: Linux only")
}

// BatchUDPEcho needs recvmmsg and sendmmsg, which only Linux has.
func BatchUDPEcho(pc *net.UDPConn) error { return errors.New("batch udp echo: Linux only") }
