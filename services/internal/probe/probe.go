// Package probe is what every socketlab client shares: the -4/-6, --timeout and
// --json flags, name resolution that shows the A and AAAA answers, dialing
// each address in order, errors that say what happened where, and one Result
// that prints for a person or as one JSON object for a scenario step.
package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"socketlab/internal/result"
	"socketlab/services/internal/peer"
)

// Options are the flags every client shares.
type Options struct {
	V4, V6  bool
	Timeout time.Duration
	JSON    bool
	// Source is the local address Dial connects from when the target's
	// address is of its family; the zero value lets the kernel choose. No
	// flag sets it: the healthchecks do (service.HealthSource).
	Source netip.Addr
}

// Register adds -4, -6, --timeout and --json to fs.
func (o *Options) Register(fs *pflag.FlagSet) {
	fs.BoolVarP(&o.V4, "ipv4", "4", false, "use IPv4 only")
	fs.BoolVarP(&o.V6, "ipv6", "6", false, "use IPv6 only")
	fs.DurationVarP(&o.Timeout, "timeout", "t", 5*time.Second, "give up after this long")
	fs.BoolVar(&o.JSON, "json", false, "print one JSON object: what was sent and received, addresses, family, timings, error")
}

// Family reports the family the flags ask for: peer.IPv4, peer.IPv6 or "" for either.
func (o Options) Family() string {
	switch {
	case o.V4 && !o.V6:
		return peer.IPv4
	case o.V6 && !o.V4:
		return peer.IPv6
	}
	return ""
}

// Result is the outcome of one client run: the --json object (result.Result)
// and the clock its timings are measured on.
type Result struct {
	result.Result

	start time.Time
}

// New starts a result for client (e.g. "echo") talking network ("tcp", "udp") to target.
func New(client, network, target string) *Result {
	return &Result{Result: result.Result{Client: client, Network: network, Target: target}, start: time.Now()}
}

// Since reports milliseconds since the run started.
func (r *Result) Since() float64 {
	return float64(time.Since(r.start).Microseconds()) / 1000
}

// FirstByte records the time of the first byte received, once.
func (r *Result) FirstByte() {
	if r.Timings.FirstByte == 0 {
		r.Timings.FirstByte = r.Since()
	}
}

// Connected records the addresses and family of an open connection.
func (r *Result) Connected(c net.Conn) {
	r.Local = peer.String(c.LocalAddr())
	r.Remote = peer.String(c.RemoteAddr())
	r.Family = peer.Family(c.RemoteAddr())
	r.Timings.Connect = r.Since()
}

// Detail records a client-specific value.
func (r *Result) Detail(key string, v any) {
	if r.Details == nil {
		r.Details = make(map[string]any)
	}
	r.Details[key] = v
}

// Fail records err (the first one wins) and returns it.
func (r *Result) Fail(err error) error {
	if err == nil || r.Error != "" {
		return err
	}
	var e *Error
	if errors.As(err, &e) {
		r.ErrorKind = e.Kind
	} else {
		r.ErrorKind = result.IO
	}
	r.Error = err.Error()
	return err
}

// Report prints the result and returns the exit status: 0 when the run
// succeeded, 1 when it failed, 2 for a usage error. With --json, stdout gets
// one JSON object; otherwise human(stdout) prints what a person wants to see
// and the error goes to stderr.
func (r *Result) Report(o Options, stdout, stderr io.Writer, human func(w io.Writer)) int {
	r.Timings.Total = r.Since()
	r.OK = r.Error == ""
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(&r.Result)
	} else {
		if human != nil {
			human(stdout)
		}
		if r.Error != "" {
			fmt.Fprintf(stderr, "%s: %s\n", r.Client, r.Error)
		}
	}
	switch {
	case r.OK:
		return 0
	case r.ErrorKind == result.Usage:
		return 2
	default:
		return 1
	}
}

// Error is a client failure with its kind.
type Error struct {
	Kind result.Kind
	Msg  string
	Err  error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// Errorf makes an Error of kind with a formatted message.
func Errorf(kind result.Kind, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: kind, Msg: err.Error(), Err: errors.Unwrap(err)}
}

// ResetCause says what an RST from the peer usually means, for a person who
// got one.
const ResetCause = "it sent RST, as a kernel does when its program closes a socket with received bytes it has not read (or the program ends)"

// Explain turns a socket error on a connection with addr into an Error that
// says what happened where ("connection refused by [::1]:7"). The timeout is
// mentioned when the error is one.
func Explain(err error, addr string, timeout time.Duration) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return &Error{result.Refused, "connection refused by " + addr, err}
	case errors.Is(err, syscall.ECONNRESET):
		return &Error{result.Reset, "connection reset by " + addr + ": " + ResetCause, err}
	case errors.Is(err, syscall.EHOSTUNREACH):
		return &Error{result.Unreachable, "no route to host " + addr, err}
	case errors.Is(err, syscall.ENETUNREACH):
		return &Error{result.Unreachable, "network unreachable for " + addr, err}
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return &Error{result.Unreachable, "no local address can reach " + addr, err}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return &Error{result.Timeout, fmt.Sprintf("no answer from %s within %s", addr, timeout), err}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{result.Protocol, addr + " closed the connection early", err}
	}
	return &Error{result.IO, fmt.Sprintf("%s: %v", addr, err), err}
}

// Resolve looks up host (a name or an IP literal) and returns the addresses
// of the family o asks for, in the resolver's order. It records every answer
// in r.Resolved, so a person sees the A and AAAA records.
func Resolve(ctx context.Context, o Options, r *Result, host string) ([]netip.Addr, error) {
	defer func() { r.Timings.Resolve = r.Since() }()
	fam := o.Family()
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		r.Resolved = []string{ip.String()}
		if fam != "" && peer.FamilyOf(ip) != fam {
			return nil, Errorf(result.Usage, "%s is an %s address but %s was asked for", ip, peer.FamilyOf(ip), fam)
		}
		return []netip.Addr{ip}, nil
	}
	all, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return nil, &Error{result.Resolve, fmt.Sprintf("cannot resolve %s: no such host", host), err}
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, &Error{result.Timeout, fmt.Sprintf("cannot resolve %s: no answer from the resolver in time", host), err}
		}
		return nil, &Error{result.Resolve, fmt.Sprintf("cannot resolve %s: %v", host, err), err}
	}
	var want []netip.Addr
	for _, ip := range all {
		ip = ip.Unmap()
		r.Resolved = append(r.Resolved, ip.String())
		if fam == "" || peer.FamilyOf(ip) == fam {
			want = append(want, ip)
		}
	}
	if len(want) == 0 {
		rec := "AAAA"
		if fam == peer.IPv4 {
			rec = "A"
		}
		return nil, Errorf(result.Resolve, "no %s record for %s (it resolves to %v)", rec, host, r.Resolved)
	}
	return want, nil
}

// SplitTarget splits "host", "host:port" or "[v6]:port" and applies defPort
// when no port is given.
func SplitTarget(target string, defPort int) (host string, port int, err error) {
	if target == "" {
		return "", 0, Errorf(result.Usage, "no target given: name a host, e.g. echo or [::1]:7")
	}
	if ip, perr := netip.ParseAddr(target); perr == nil {
		return ip.String(), defPort, nil
	}
	h, p, serr := net.SplitHostPort(target)
	if serr != nil {
		// No port: the whole target is the host.
		return trimBrackets(target), defPort, nil
	}
	n, cerr := strconv.Atoi(p)
	if cerr != nil || n < 1 || n > 65535 {
		return "", 0, Errorf(result.Usage, "bad port %q in %s: want 1-65535", p, target)
	}
	return h, n, nil
}

func trimBrackets(s string) string {
	if len(s) > 1 && s[0] == '[' && s[len(s)-1] == ']' {
		return s[1 : len(s)-1]
	}
	return s
}

// Dial resolves target and connects over network ("tcp" or "udp") to each
// address in order until one answers, recording everything in r. For UDP,
// "connects" only fixes the peer; silence shows up on the first read.
func Dial(ctx context.Context, o Options, r *Result, network, target string, defPort int) (net.Conn, error) {
	host, port, err := SplitTarget(target, defPort)
	if err != nil {
		return nil, err
	}
	ips, err := Resolve(ctx, o, r, host)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	var errs []error
	for i, ip := range ips {
		addr := netip.AddrPortFrom(ip, uint16(port)).String()
		d.LocalAddr = nil
		if o.Source.IsValid() && o.Source.Is4() == ip.Is4() {
			d.LocalAddr = sourceAddr(network, o.Source)
		}
		actx, cancel, share := attemptContext(ctx, len(ips)-i)
		c, err := d.DialContext(actx, network, addr)
		cancel()
		if err == nil {
			r.Connected(c)
			return c, nil
		}
		errs = append(errs, Explain(err, addr, share))
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	// Report the last failure's kind, and every address tried.
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	last := errs[len(errs)-1].(*Error)
	return nil, &Error{Kind: last.Kind, Msg: strings.Join(msgs, "; "), Err: last}
}

// sourceAddr is the local address a dialer over network binds to.
func sourceAddr(network string, ip netip.Addr) net.Addr {
	if strings.HasPrefix(network, "udp") {
		return net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0))
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, 0))
}

// minAttempt is the least time one address gets when several share a timeout.
const minAttempt = 2 * time.Second

// attemptContext bounds one connection attempt when left addresses (this one
// included) share what remains of ctx's time, as net.Dialer does: each gets
// an equal share, at least minAttempt, so that a silent first address does not
// use up the time of the others. It returns the share, for error messages.
func attemptContext(ctx context.Context, left int) (context.Context, context.CancelFunc, time.Duration) {
	dl, ok := ctx.Deadline()
	if !ok {
		c, cancel := context.WithCancel(ctx)
		return c, cancel, 0
	}
	remaining := time.Until(dl)
	share := remaining / time.Duration(left)
	if share < minAttempt {
		share = min(minAttempt, remaining)
	}
	c, cancel := context.WithTimeout(ctx, share)
	return c, cancel, share.Round(100 * time.Millisecond)
}

// Context returns a context bounded by the --timeout flag.
func (o Options) Context(parent context.Context) (context.Context, context.CancelFunc) {
	if o.Timeout <= 0 {
		return context.WithCancel(parent)
	}
	return context.WithTimeout(parent, o.Timeout)
}

// Input returns the message to send: the arguments joined by spaces, or
// standard input when there are none (or the only one is "-").
func Input(args []string, stdin io.Reader) ([]byte, error) {
	if len(args) == 0 || len(args) == 1 && args[0] == "-" {
		if stdin == nil {
			stdin = os.Stdin
		}
		return io.ReadAll(stdin)
	}
	var b []byte
	for i, a := range args {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, a...)
	}
	return b, nil
}

// ExitError carries a client's exit status once it has reported its result.
type ExitError struct{ Code int }

func (e ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Exit returns nil for status 0 and an ExitError otherwise, for a cobra RunE.
func Exit(code int) error {
	if code == 0 {
		return nil
	}
	return ExitError{code}
}
