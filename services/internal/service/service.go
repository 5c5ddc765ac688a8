// Package service is the main function every socketlab server shares: flags
// (with the PORT environment variable), dual-stack listeners, graceful shutdown
// on SIGTERM and SIGINT, the healthcheck sub-command, and structured logs.
//
// A server binary is a screen long:
//
//	func main() { service.Main(echo.Spec()) }
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Spec describes one server binary.
type Spec struct {
	// Name is the service and binary name, e.g. "echo".
	Name string
	// Short is the one-line description shown by --help.
	Short string
	// Long explains what the service does on the wire, for --help.
	Long string
	// Port is the default port; --port and the PORT environment variable override it.
	Port int
	// Flags registers the service's own flags. Optional.
	Flags func(fs *pflag.FlagSet)
	// Start builds the servers once flags are parsed. The runtime opens a TCP
	// listener for Servers.TCP and a UDP socket for Servers.UDP, both on Port.
	Start func(rt *Runtime) (Servers, error)
	// Check probes a running instance at addr (host:port on loopback) for the
	// healthcheck sub-command. Nil means: a TCP connection is accepted.
	Check func(ctx context.Context, addr string) error
	// CheckFlags registers the flags the healthcheck sub-command takes too
	// (the port of an ExtraServer, so that Check can reach it). Optional.
	CheckFlags func(fs *pflag.FlagSet)
}

// Servers are what a service runs: a stream server, a datagram server, or both.
type Servers struct {
	TCP StreamServer
	UDP PacketServer
	// Extra are more stream servers, each on a port of its own (chat's line
	// mode); a Port of 0 leaves one out.
	Extra []ExtraServer
}

// ExtraServer is a stream server on a port of its own.
type ExtraServer struct {
	Port   int
	Server StreamServer
}

// StreamServer serves connections from a listener until Shutdown; *http.Server
// and *ConnServer satisfy it.
type StreamServer interface {
	Serve(l net.Listener) error
	Shutdown(ctx context.Context) error
}

// PacketServer serves datagrams from a packet socket until Shutdown.
type PacketServer interface {
	ServePacket(pc net.PacketConn) error
	Shutdown(ctx context.Context) error
}

// Runtime is what Start gets to build its servers with.
type Runtime struct {
	// Name is the service name.
	Name string
	// Log receives service events (listening, shutdown) as JSON lines.
	Log *slog.Logger
	// ConnLog receives one line per connection or datagram; nil with --quiet.
	ConnLog *slog.Logger
}

// ErrServerClosed is returned by Serve and ServePacket after Shutdown.
var ErrServerClosed = errors.New("server closed")

// Main runs the server binary described by spec and exits with its status.
func Main(spec Spec) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := Run(ctx, spec, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Run parses args and serves until ctx ends (Main ends it on SIGTERM or
// SIGINT), then shuts down within the drain time. It returns the exit status:
// 0 after a clean shutdown, 1 when serving failed, 2 for bad usage.
func Run(ctx context.Context, spec Spec, args []string, stdout, stderr io.Writer) int {
	var (
		port   int
		listen string
		drain  time.Duration
		quiet  bool

		cpuProfile, memProfile string
	)
	defPort, envErr := envPort(spec.Port)
	root := &cobra.Command{
		Use:   spec.Name + " [flags]",
		Short: spec.Short,
		Long:  spec.Long + portHelp(spec),
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if envErr != nil && !cmd.Flags().Changed("port") {
				return envErr
			}
			if err := checkPort(port); err != nil {
				return err
			}
			stopProfiles, err := startProfiles(cpuProfile, memProfile)
			if err != nil {
				return usageError{err}
			}
			err = serve(ctx, spec, listen, port, drain, quiet, stdout)
			return errors.Join(err, stopProfiles())
		},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.Flags().IntVarP(&port, "port", "p", defPort, "port to serve on (env PORT)")
	root.Flags().StringVar(&listen, "listen", "", "address to listen on (default: every IPv4 and IPv6 address)")
	root.Flags().DurationVar(&drain, "drain", 5*time.Second, "on SIGTERM, how long in-flight work may take before connections are closed")
	root.Flags().BoolVarP(&quiet, "quiet", "q", false, "no per-connection or per-datagram log lines")
	root.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile (pprof) to this file until shutdown")
	root.Flags().StringVar(&memProfile, "memprofile", "", "write an allocation profile (pprof) to this file at shutdown")
	_ = root.Flags().MarkHidden("cpuprofile")
	_ = root.Flags().MarkHidden("memprofile")
	if spec.Flags != nil {
		spec.Flags(root.Flags())
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(healthCommand(spec, defPort, envErr))
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.CompletionOptions.HiddenDefaultCmd = true
	if err := root.Execute(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", spec.Name, err)
		var u usageError
		if errors.As(err, &u) {
			return 2
		}
		return 1
	}
	return 0
}

func portHelp(spec Spec) string {
	return fmt.Sprintf("\n\nThe port is %d unless --port or the PORT environment variable says otherwise.\n"+
		"Logs are JSON lines on stdout; when stdout does not keep up, lines are dropped\n"+
		"(and counted in a \"log lines dropped\" line), never the service. SIGTERM or Ctrl-C\n"+
		"stops accepting, lets in-flight work finish within --drain, and exits 0.\n\n"+
		"Inside a container, '%s healthcheck' checks the running server (scratch images have no shell).",
		spec.Port, spec.Name)
}

// usageError marks an error in how the binary was called (exit status 2).
type usageError struct{ error }

// usageArgs marks a failed argument check as a usage error (exit 2).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func envPort(def int) (int, error) {
	v, ok := os.LookupEnv("PORT")
	if !ok || v == "" {
		return def, nil
	}
	p, err := strconv.Atoi(v)
	if err != nil || p < 0 || p > 65535 {
		return def, usageError{fmt.Errorf("environment PORT=%q is not a port number (0-65535); unset it or pass --port", v)}
	}
	return p, nil
}

func checkPort(p int) error {
	if p < 0 || p > 65535 {
		return usageError{fmt.Errorf("--port %d is out of range (0-65535)", p)}
	}
	return nil
}

func serve(ctx context.Context, spec Spec, host string, port int, drain time.Duration, quiet bool, stdout io.Writer) error {
	// Serving never waits for the log: see logQueue.
	lq := newLogQueue(stdout, logQueueSize, spec.Name)
	defer lq.Close(time.Second)
	log := slog.New(slog.NewJSONHandler(lq, nil)).With("service", spec.Name)
	rt := &Runtime{Name: spec.Name, Log: log}
	if !quiet {
		rt.ConnLog = log
	}
	srv, err := spec.Start(rt)
	if err != nil {
		return usageError{err}
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	errc := make(chan error, 2+len(srv.Extra))
	// Every socket is bound before the first "listening" line, so that a
	// line says the whole server is reachable (tests and people wait for it).
	var closers []io.Closer
	fail := func(err error) error {
		for _, c := range closers {
			c.Close()
		}
		if srv.TCP != nil {
			_ = srv.TCP.Shutdown(context.Background())
		}
		if srv.UDP != nil {
			_ = srv.UDP.Shutdown(context.Background())
		}
		for _, x := range srv.Extra {
			_ = x.Server.Shutdown(context.Background())
		}
		return listenError(err)
	}
	var ln net.Listener
	if srv.TCP != nil {
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fail(err)
		}
		closers = append(closers, ln)
	}
	var pc net.PacketConn
	if srv.UDP != nil {
		if pc, err = net.ListenPacket("udp", addr); err != nil {
			return fail(err)
		}
		closers = append(closers, pc)
	}
	type extraListener struct {
		ln  net.Listener
		srv StreamServer
	}
	var extras []extraListener
	for _, x := range srv.Extra {
		if x.Port == 0 {
			continue
		}
		xl, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(x.Port)))
		if err != nil {
			return fail(err)
		}
		closers = append(closers, xl)
		extras = append(extras, extraListener{xl, x.Server})
	}
	if ln != nil {
		log.Info("listening", "network", "tcp", "addr", ln.Addr().String())
		go func() { errc <- srv.TCP.Serve(ln) }()
	}
	if pc != nil {
		log.Info("listening", "network", "udp", "addr", pc.LocalAddr().String())
		go func() { errc <- srv.UDP.ServePacket(pc) }()
	}
	var extra []StreamServer
	for _, x := range extras {
		log.Info("listening", "network", "tcp", "addr", x.ln.Addr().String())
		extra = append(extra, x.srv)
		go func() { errc <- x.srv.Serve(x.ln) }()
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
		if errors.Is(serveErr, ErrServerClosed) {
			serveErr = nil
		}
	}
	start := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	var shutErr error
	if srv.TCP != nil {
		shutErr = errors.Join(shutErr, srv.TCP.Shutdown(sctx))
	}
	if srv.UDP != nil {
		shutErr = errors.Join(shutErr, srv.UDP.Shutdown(sctx))
	}
	for _, x := range extra {
		shutErr = errors.Join(shutErr, x.Shutdown(sctx))
	}
	log.Info("shutdown", "took_ms", msSince(start), "forced", shutErr != nil)
	if serveErr != nil {
		return fmt.Errorf("serve: %w", serveErr)
	}
	return nil
}

// listenError is the error of a listen that failed: net's own (which names
// the network and address: "listen tcp :7: bind: address already in use")
// with a hint for the usual causes.
func listenError(err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%w (another program serves that port: stop it, or pick another with --port or PORT)", err)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%w (ports below 1024 need root or CAP_NET_BIND_SERVICE outside a container: pick another with --port or PORT)", err)
	}
	return err
}

func msSince(t time.Time) float64 {
	return float64(time.Since(t).Microseconds()) / 1000
}
