package lookup

import (
	"net"
	"testing"

	"socketlab/services/internal/svctest"
	"socketlab/services/lookup/frame"
)

// BenchmarkRequests measures search requests per second over 127.0.0.1 with
// 64 concurrent clients: on kept-alive connections, with a connection per
// request (connect, request, response, close, as the tutorial's client
// does), and with 16 requests pipelined per write.
func BenchmarkRequests(b *testing.B) {
	s := NewServer(Config{})
	addr := svctest.ServeTCP(b, s, "127.0.0.1")
	req := encode(b, NewSearch(ActionSearch, "TCP"))
	var batch []byte
	for range 16 {
		batch = append(batch, req...)
	}
	roundTrip := func(b *testing.B, c net.Conn, fr *frame.Reader, wire []byte, n int) {
		if _, err := c.Write(wire); err != nil {
			b.Error(err)
			return
		}
		for range n {
			if _, err := fr.Next(); err != nil {
				b.Error(err)
				return
			}
		}
	}
	clients := func(b *testing.B, body func(pb *testing.PB)) {
		b.SetParallelism(32) // 32 × GOMAXPROCS(2) = 64 clients on this machine
		b.ReportAllocs()
		b.RunParallel(body)
	}
	b.Run("keep-alive", func(b *testing.B) {
		clients(b, func(pb *testing.PB) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Error(err)
				return
			}
			defer c.Close()
			fr := frame.NewReader(c)
			for pb.Next() {
				roundTrip(b, c, fr, req, 1)
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
	b.Run("connection-per-request", func(b *testing.B) {
		clients(b, func(pb *testing.PB) {
			for pb.Next() {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Error(err)
					return
				}
				roundTrip(b, c, frame.NewReader(c), req, 1)
				c.Close()
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
	b.Run("pipelined-16", func(b *testing.B) {
		clients(b, func(pb *testing.PB) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Error(err)
				return
			}
			defer c.Close()
			fr := frame.NewReader(c)
			for pb.Next() {
				roundTrip(b, c, fr, batch, 16)
			}
		})
		b.ReportMetric(16*float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
}
