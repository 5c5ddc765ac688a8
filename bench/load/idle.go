package load

import (
	"context"
	"fmt"
	"net"
	"sync"
)

// Idle opens n connections to addr, 64 at a time, and runs hello on each
// (a greeting exchange that leaves the connection idle and served). It
// returns the open connections; on error it closes them all.
func Idle(ctx context.Context, d *Dialer, addr string, n int, hello func(net.Conn) error) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := d.Dial(ctx, addr)
				if err == nil {
					if err = hello(c); err != nil {
						c.Close()
					}
				}
				if err != nil {
					mu.Lock()
					first = cmpErr(first, fmt.Errorf("connection %d of %d: %w", i+1, n, err))
					mu.Unlock()
					continue
				}
				conns[i] = c
			}
		}()
	}
	for i := range n {
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed || ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	if first != nil {
		CloseAll(conns)
		return nil, first
	}
	return conns, nil
}

// CloseAll closes every connection in conns that is not nil.
func CloseAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}
