package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

func healthCommand(spec Spec, defPort int, envErr error) *cobra.Command {
	var (
		port    int
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Check that the server on this host answers (exit 0 healthy, 1 not)",
		Long: "healthcheck probes the server running on this host over loopback, IPv4 first, then IPv6.\n" +
			"It is what the container image's HEALTHCHECK runs: a scratch image has no shell.",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if envErr != nil && !cmd.Flags().Changed("port") {
				return envErr
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			check := spec.Check
			if check == nil {
				check = CheckTCP
			}
			var errs []error
			for _, host := range []string{"127.0.0.1", "::1"} {
				addr := net.JoinHostPort(host, strconv.Itoa(port))
				err := check(ctx, addr)
				if err == nil {
					fmt.Fprintf(cmd.OutOrStdout(), "healthy: %s answers on %s\n", spec.Name, addr)
					return nil
				}
				errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			}
			return fmt.Errorf("unhealthy: %w", errors.Join(errs...))
		},
	}
	cmd.Flags().IntVarP(&port, "port", "p", defPort, "port the server listens on (env PORT)")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Second, "how long to wait for an answer")
	if spec.CheckFlags != nil {
		spec.CheckFlags(cmd.Flags())
	}
	return cmd
}

// HealthSource is the address a healthcheck connects from, so that the
// server can tell its own checks from a person's connections and mark their
// log lines ("healthcheck": true) without the check saying anything on the
// wire: the protocol a check sees is exactly the one real clients see.
//
// Why an address: the check runs in the server's own network namespace
// (docker exec of the server's binary), and on Linux every address of
// 127.0.0.0/8 is local, so the check can bind one that no client uses by
// accident; a client elsewhere cannot send from a loopback address at all.
// Other marks were weighed and dropped: a first line or byte changes the
// protocol; a fixed source port stays in TIME_WAIT for a minute; how the
// check behaves (connect, FIN, nothing sent) is also what `nc -z` does.
// IPv6 has only ::1 on loopback, so a check that falls back to ::1 (a server
// listening on IPv6 only) is not marked: its lines show, which is the safe
// way round.
var HealthSource = netip.AddrFrom4([4]byte{127, 0, 72, 67}) // 72, 67: "HC"

// IsHealthCheck reports whether a connection or datagram from a came from
// this host's healthcheck (see HealthSource).
func IsHealthCheck(a netip.Addr) bool { return a.Unmap() == HealthSource }

// HealthAttr is the log field that marks a line about the healthcheck's own
// connection, datagram or request; lines about other peers do not carry it.
const HealthAttr = "healthcheck"

// HealthMark returns attrs with HealthAttr set when the peer a is this
// host's healthcheck, and attrs unchanged otherwise.
func HealthMark(attrs []slog.Attr, a netip.Addr) []slog.Attr {
	if IsHealthCheck(a) {
		attrs = append(attrs, slog.Bool(HealthAttr, true))
	}
	return attrs
}

// DialCheck connects to addr over network ("tcp" or "udp") for a health
// check, from HealthSource when addr is an IPv4 loopback address; every
// read and write on the connection ends by ctx's deadline.
func DialCheck(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	if ap, err := netip.ParseAddrPort(addr); err == nil && ap.Addr().Is4() && ap.Addr().IsLoopback() {
		if network == "udp" {
			d.LocalAddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(HealthSource, 0))
		} else {
			d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(HealthSource, 0))
		}
	}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil && d.LocalAddr != nil && errors.Is(err, syscall.EADDRNOTAVAIL) {
		// Not Linux: only 127.0.0.1 is local. Check unmarked rather than not at all.
		d.LocalAddr = nil
		c, err = d.DialContext(ctx, network, addr)
	}
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	return c, nil
}

// CheckTCP reports whether a TCP connection to addr is accepted and, once the
// check has sent its FIN, closed by the server in turn. Closing this way
// rather than at once keeps the server's log honest: a check that hung up on
// unread data would show as a reset.
func CheckTCP(ctx context.Context, addr string) error {
	c, err := DialCheck(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, io.LimitReader(c, 64<<10)); err != nil {
		return fmt.Errorf("connected, but no clean close: %w", err)
	}
	return nil
}

// CheckUDP sends probe to addr and reports whether any datagram comes back
// before ctx ends.
func CheckUDP(ctx context.Context, addr string, probe []byte) error {
	c, err := DialCheck(ctx, "udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write(probe); err != nil {
		return err
	}
	buf := make([]byte, 2048)
	if _, err := c.Read(buf); err != nil {
		return fmt.Errorf("no reply: %w", err)
	}
	return nil
}
