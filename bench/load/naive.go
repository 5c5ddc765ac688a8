// Package load holds socketlab's load generators, which drive a server over
// loopback and measure throughput and latency, and the naive reference
// servers our services are compared with.
package load

import (
	"errors"
	"io"
	"net"
)

// NaiveEcho serves l the way the Go tutorials write an echo server (it is
// the example in the net package's documentation): one goroutine per
// connection running io.Copy(c, c), then Close. No limits, no deadlines, no
// logs, no half-close. On Linux io.Copy between two TCP sockets splices
// through a pipe. It returns when Accept fails.
func NaiveEcho(l net.Listener) error {
	for {
		conn, err := l.Accept()
		if err != nil {
			return err
		}
		go func(c net.Conn) {
			io.Copy(c, c)
			c.Close()
		}(conn)
	}
}

// NaiveEchoBuf serves l the way the Python sockets tutorials write an echo
// server, in Go: one goroutine per connection reading into a 1 KiB buffer
// and writing back what it read.
func NaiveEchoBuf(l net.Listener) error {
	for {
		conn, err := l.Accept()
		if err != nil {
			return err
		}
		go func(c net.Conn) {
			defer c.Close()
			buf := make([]byte, 1024)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}(conn)
	}
}

// NaiveUDPEcho serves pc the way the tutorials write a UDP echo server:
// ReadFrom into a 1 KiB buffer, WriteTo the sender. It returns when the
// socket is closed.
func NaiveUDPEcho(pc net.PacketConn) error {
	buf := make([]byte, 1024)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			continue
		}
		pc.WriteTo(buf[:n], addr)
	}
}
