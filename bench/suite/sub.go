package suite

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync/atomic"
	"time"

	"socketlab/bench/load"
)

// ServeNaive serves a naive reference server of style "copy" or "buf" (TCP
// echo), "udp" (UDP echo) or "udp-batch" (UDP echo with recvmmsg/sendmmsg) on addr until ctx ends.
func ServeNaive(ctx context.Context, style, addr string) error {
	switch style {
	case "copy", "buf":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("naive %s: %w", style, err)
		}
		go func() { <-ctx.Done(); ln.Close() }()
		if style == "copy" {
			load.NaiveEcho(ln)
		} else {
			load.NaiveEchoBuf(ln)
		}
	case "udp", "udp-batch":
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return fmt.Errorf("naive udp: %w", err)
		}
		go func() { <-ctx.Done(); pc.Close() }()
		if style == "udp" {
			load.NaiveUDPEcho(pc)
		} else {
			load.BatchUDPEcho(pc.(*net.UDPConn))
		}
	default:
		return fmt.Errorf("naive: unknown style %q (copy, buf or udp)", style)
	}
	return nil
}

// Spin keeps every CPU busy until ctx ends; run at the lowest priority, it
// keeps idle vCPUs from halting between the round trips of a latency
// measurement.
func Spin(ctx context.Context) {
	var stop atomic.Bool
	for range runtime.NumCPU() {
		go func() {
			for !stop.Load() {
			}
		}()
	}
	<-ctx.Done()
	stop.Store(true)
}

// LoadUDP floods the UDP server at addr for d (see load.UDPFlood) and
// returns the replies per second; `make bench` runs it in a process of its
// own, pinned to one CPU.
func LoadUDP(ctx context.Context, addr string, d time.Duration) (float64, error) {
	return load.UDPFlood(ctx, addr, 4, 32, 64, d)
}
