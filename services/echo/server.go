// Package echo is the echo service of RFC 862 (seeds 002 and 003) and its
// client: over TCP the server sends back every byte it receives until the
// client closes, and honours a half-close; over UDP it sends back each
// datagram as it came.
package echo

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"time"

	"github.com/spf13/pflag"

	"socketlab/services/internal/service"
)

// Port is the echo port of RFC 862, for TCP and UDP alike.
const Port = 7

// Buffer sizes of a TCP connection: it starts small, so that thousands of
// idle connections cost little memory, and doubles up to MaxBuffer while the
// client fills it, so that a bulk stream moves in large reads and writes.
// (256 KiB rather than 64: a loopback stream runs about 20% faster, see
// make bench; only a connection that fills every read grows that far.)
const (
	MinBuffer = 4 << 10
	MaxBuffer = 256 << 10
)

// DefaultMaxPerIP is the binary's cap on TCP connections from one IPv4
// address or IPv6 /64: with the default --max-conns, one host can hold at
// most 1% of the slots, and the other 99% stay for everyone else.
const DefaultMaxPerIP = 100

// NewServer returns a TCP echo server. Each connection gets one buffer,
// reused for every read and write: the hot path allocates nothing. When the
// client half-closes (sends FIN), the server has already sent back everything
// it read, so it shuts down its own side (FIN) and the connection ends
// cleanly. idle closes a connection whose client neither sends nor reads for
// that long (0: never).
func NewServer(maxConns int, idle time.Duration) *service.ConnServer {
	return &service.ConnServer{
		Name:        "echo",
		MaxConns:    maxConns,
		IdleTimeout: idle,
		Handler: func(ctx context.Context, c *service.Conn) error {
			return serveConn(c, idle)
		},
	}
}

func serveConn(c *service.Conn, idle time.Duration) error {
	buf := make([]byte, MinBuffer)
	var writeBy time.Time
	for {
		n, rerr := c.Read(buf)
		if n > 0 {
			// A client that stops reading would block this write forever
			// and keep its slot: give it as long as an idle one. As for
			// reads, the deadline moves only when less than that is left.
			if idle > 0 {
				if now := time.Now(); writeBy.Sub(now) < idle {
					writeBy = now.Add(idle + idle/8)
					_ = c.SetWriteDeadline(writeBy)
				}
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return err
			}
			if n == len(buf) && len(buf) < MaxBuffer {
				buf = make([]byte, 2*len(buf))
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				// Half-close: everything read has been echoed; say we are done too.
				if err := c.CloseWrite(); err != nil {
					return err
				}
				return nil
			}
			return rerr
		}
	}
}

// NewPacketServer returns a UDP echo server: one datagram back per datagram,
// with the same bytes. Datagrams from the source ports of echo, daytime,
// chargen and time (7, 13, 19, 37) are dropped, so that two such servers
// cannot answer each other forever.
func NewPacketServer() *service.Datagrams {
	return &service.Datagrams{
		Name: "echo",
		Handle: func(src netip.AddrPort, in, _ []byte) ([]byte, string) {
			if service.LoopPort(src.Port()) {
				return nil, "dropped: source port of a datagram service (loop)"
			}
			return in, "echoed"
		},
	}
}

// HealthProbe is the datagram the healthcheck sends over UDP.
const HealthProbe = "socketlab echo healthcheck"

// Check is the healthcheck: a TCP connection is accepted at addr and a UDP
// datagram sent there comes back.
func Check(ctx context.Context, addr string) error {
	if err := service.CheckTCP(ctx, addr); err != nil {
		return err
	}
	if err := service.CheckUDP(ctx, addr, []byte(HealthProbe)); err != nil {
		return err
	}
	return nil
}

// Spec describes the echo server binary: TCP and UDP on the same port.
func Spec() service.Spec {
	var (
		maxConns, maxPerIP int
		idle               time.Duration
		checkPerIP         func() error
	)
	return service.Spec{
		Name:  "echo",
		Short: "Send back every byte (TCP) and every datagram (UDP), RFC 862",
		Long: "echo (seeds 002, 003; RFC 862) serves TCP and UDP on the same port, IPv4 and IPv6.\n" +
			"TCP: every byte a client sends comes back, until the client closes. When the client\n" +
			"half-closes (shutdown of its sending side, FIN), the server sends back what is left\n" +
			"and then closes its own side: the client reads everything, then end of file.\n" +
			"UDP: one datagram back for each datagram, with the same bytes. Datagrams from the\n" +
			"ports 7, 13, 19 and 37 are dropped, so two servers cannot answer each other forever.\n\n" +
			"Try it: nc localhost 7, nc -u ::1 7, or sock echo localhost hello.",
		Port: Port,
		Flags: func(fs *pflag.FlagSet) {
			fs.IntVar(&maxConns, "max-conns", 10000, "most TCP connections served at once; more are closed at once (0: no limit)")
			checkPerIP = service.IntVarEnv(fs, &maxPerIP, "max-per-ip", "MAX_PER_IP", DefaultMaxPerIP, 0,
				"most TCP connections from one IPv4 address or IPv6 /64; more are closed at once (0: no limit)")
			fs.DurationVar(&idle, "idle-timeout", 5*time.Minute, "close a TCP connection whose client neither sends nor reads for this long (0: never)")
		},
		Start: func(rt *service.Runtime) (service.Servers, error) {
			if maxConns < 0 {
				return service.Servers{}, errors.New("--max-conns must be 0 (no limit) or more")
			}
			if err := checkPerIP(); err != nil {
				return service.Servers{}, err
			}
			if idle < 0 {
				return service.Servers{}, errors.New("--idle-timeout must be 0 (never) or more")
			}
			tcp := NewServer(maxConns, idle)
			tcp.Log, tcp.MaxPerSource = rt.ConnLog, maxPerIP
			udp := NewPacketServer()
			udp.Log = rt.ConnLog
			return service.Servers{TCP: tcp, UDP: udp}, nil
		},
		Check: Check,
	}
}
