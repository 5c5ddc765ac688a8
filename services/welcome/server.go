// Package welcome is seed 001's first server and its client: the server greets
// every TCP client with one line naming the address and family it saw, then
// closes cleanly.
package welcome

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"socketlab/services/internal/peer"
	"socketlab/services/internal/service"
)

// Port is the default welcome port.
const Port = 9999

// DefaultGreeting is the greeting template; see Greet.
const DefaultGreeting = "Welcome to socketlab! You are {addr} over {family}."

// NewServer returns a welcome server that sends greeting (a template, see
// Greet) and then closes each connection cleanly: it shuts down its sending
// side and reads what the client still sends for up to linger, so a client
// that spoke first gets the greeting instead of a reset.
func NewServer(greeting string, linger time.Duration) *service.ConnServer {
	return &service.ConnServer{
		Name:        "welcome",
		IdleTimeout: linger,
		Handler: func(ctx context.Context, c *service.Conn) error {
			line := Greet(greeting, c.RemoteAddr(), c.LocalAddr()) + "\n"
			if _, err := io.WriteString(c, line); err != nil {
				return err
			}
			if err := c.CloseWrite(); err != nil {
				return err
			}
			// Drain until the client closes: closing a socket with unread
			// input makes the kernel send RST instead of FIN.
			_ = c.SetReadDeadline(time.Now().Add(linger))
			_, err := io.Copy(io.Discard, c)
			return err
		},
	}
}

// Greet fills in greeting's placeholders: {addr} (the client's address and
// port as the server saw them, e.g. [::1]:53124), {host}, {port}, {family}
// (IPv4 or IPv6) and {local} (the server's address and port).
func Greet(greeting string, remote, local net.Addr) string {
	host, port := peer.String(remote), ""
	if ap, ok := peer.AddrPort(remote); ok {
		host, port = ap.Addr().String(), strconv.Itoa(int(ap.Port()))
	}
	return strings.NewReplacer(
		"{addr}", peer.String(remote),
		"{host}", host,
		"{port}", port,
		"{family}", peer.Family(remote),
		"{local}", peer.String(local),
	).Replace(greeting)
}

// Spec describes the welcome server binary.
func Spec() service.Spec {
	var (
		greeting string
		linger   time.Duration
		maxConns int
	)
	return service.Spec{
		Name:  "welcome",
		Short: "Greet each TCP client with the address and family it came from",
		Long: "welcome (seed 001) accepts TCP connections on IPv4 and IPv6, sends one line naming\n" +
			"the client's address, port and family as the server saw them, then closes cleanly:\n" +
			"it shuts down its sending side (FIN) and drains what the client sent, so even a\n" +
			"client that spoke first receives the greeting rather than a reset.\n\n" +
			"Try it: nc localhost 9999, nc -6 ::1 9999, or sock welcome localhost.",
		Port: Port,
		Flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&greeting, "greeting", DefaultGreeting, "greeting template: {addr} {host} {port} {family} {local}")
			fs.DurationVar(&linger, "linger", 2*time.Second, "after greeting, how long to drain what the client sends before closing")
			fs.IntVar(&maxConns, "max-conns", 10000, "most connections served at once")
		},
		Start: func(rt *service.Runtime) (service.Servers, error) {
			if strings.ContainsAny(greeting, "\r\n") {
				return service.Servers{}, fmt.Errorf("--greeting must be one line (no newlines)")
			}
			s := NewServer(greeting, linger)
			s.Log, s.MaxConns = rt.ConnLog, maxConns
			return service.Servers{TCP: s}, nil
		},
	}
}
