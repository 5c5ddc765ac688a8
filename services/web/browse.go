package web

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"socketlab/internal/result"
	"socketlab/services/internal/peer"
	"socketlab/services/internal/probe"
)

// UserAgent is the User-Agent the browser sends.
const UserAgent = "socketlab-browse/1.0"

// maxJSONBody is the largest body --json carries as text; larger or binary
// bodies are reported by their length only.
const maxJSONBody = 1 << 20

// ClientCommand is "sock browse": seed 000's browser, a GET written by hand
// on a TCP socket.
func ClientCommand() *cobra.Command {
	var (
		o                        probe.Options
		bo                       BrowseOptions
		head, headOnly, bodyOnly bool
		quiet, fail              bool
	)
	cmd := &cobra.Command{
		Use:   "browse URL",
		Short: "Fetch a page with a hand-written HTTP/1.1 GET, showing every step (TCP 80)",
		Long: "browse is a browser without a browser library: it parses the URL (http only; the\n" +
			"host is a name, an IPv4 address or a bracketed IPv6 address; the port defaults to 80),\n" +
			"resolves the name and shows its A and AAAA answers, connects to each address in\n" +
			"order until one answers (or only over IPv4 or IPv6 with -4/-6), sends the request\n" +
			"(lines starting with >), and prints the raw response as it arrived, then a summary.\n" +
			"Bodies framed by Content-Length, chunked transfer coding (with trailers) and the\n" +
			"end of the connection are all understood; a malformed response is rejected with\n" +
			"what was wrong and where.",
		Example: "  sock browse http://localhost/\n" +
			"  sock browse -6 web/whoami\n" +
			"  sock browse --body-only 'http://[::1]:8080/chunked?n=3'\n" +
			"  sock browse --json http://web/",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if headOnly && bodyOnly {
				return probe.Exit(usage(o, cmd, "--head-only and --body-only exclude each other"))
			}
			if head {
				bo.Method = "HEAD"
			}
			out := cmd.OutOrStdout()
			if !o.JSON && !quiet && !bodyOnly {
				bo.Trace = out
			}
			ctx, cancel := o.Context(cmd.Context())
			defer cancel()
			r, pg := Browse(ctx, o, args[0], bo)
			if fail && r.Error == "" && pg.Response != nil && pg.Response.StatusCode >= 400 {
				r.Fail(probe.Errorf(result.Protocol, "HTTP %d %s from %s", pg.Response.StatusCode, pg.Response.Reason, r.Remote))
			}
			return probe.Exit(r.Report(o, out, cmd.ErrOrStderr(), func(w io.Writer) {
				printPage(w, r, pg, headOnly, bodyOnly, bo.Trace != nil)
			}))
		},
	}
	o.Register(cmd.Flags())
	fs := cmd.Flags()
	fs.BoolVarP(&head, "head", "I", false, "send HEAD instead of GET")
	fs.BoolVar(&headOnly, "head-only", false, "print the status line and header fields only")
	fs.BoolVar(&bodyOnly, "body-only", false, "print the body only (decoded from its framing), nothing else")
	fs.BoolVarP(&quiet, "quiet", "q", false, "print the raw response only, without the * and > lines")
	fs.BoolVarP(&fail, "fail", "f", false, "exit 1 when the status is 400 or more")
	fs.StringArrayVarP(&bo.Header, "header", "H", nil, "extra request header field, e.g. -H 'Accept: text/plain' (repeatable)")
	fs.Int64Var(&bo.Limits.MaxBodyBytes, "max-body", DefaultMaxBodyBytes, "largest body accepted, in bytes")
	fs.IntVar(&bo.Limits.MaxHeaderBytes, "max-header", DefaultMaxHeaderBytes, "largest header section accepted, in bytes")
	return cmd
}

func usage(o probe.Options, cmd *cobra.Command, msg string) int {
	r := probe.New("browse", "tcp", "")
	r.Fail(probe.Errorf(result.Usage, "%s", msg))
	return r.Report(o, cmd.OutOrStdout(), cmd.ErrOrStderr(), nil)
}

// printPage prints what a person asked to see of a fetched page.
func printPage(w io.Writer, r *probe.Result, pg *Page, headOnly, bodyOnly, summary bool) {
	resp := pg.Response
	switch {
	case bodyOnly:
		if resp != nil {
			w.Write(resp.Body)
		}
		return
	case headOnly && resp != nil && resp.HeadBytes <= len(pg.Raw):
		w.Write(pg.Raw[:resp.HeadBytes])
	default:
		w.Write(pg.Raw)
		if len(pg.Raw) > 0 && pg.Raw[len(pg.Raw)-1] != '\n' {
			io.WriteString(w, "\n")
		}
	}
	if summary && resp != nil && resp.StatusCode != 0 && r.Error == "" {
		fmt.Fprintf(w, "* %d %s: %s, %s, %d bytes received over %s in %.1f ms\n",
			resp.StatusCode, resp.Reason, describeBody(resp), framingText(resp), r.BytesReceived, r.Family, r.Since())
		if warn, ok := r.Details["warning"].(string); ok {
			fmt.Fprintf(w, "* warning: %s\n", warn)
		}
	}
}

func describeBody(resp *Response) string {
	if resp.Framing == FramingNone {
		return "no body"
	}
	return fmt.Sprintf("%d-byte body", len(resp.Body))
}

func framingText(resp *Response) string {
	switch resp.Framing {
	case FramingLength:
		return "framed by Content-Length"
	case FramingChunked:
		s := "chunked (" + plural(resp.Chunks, "chunk")
		if len(resp.Trailer) > 0 {
			s += ", " + plural(len(resp.Trailer), "trailer field")
		}
		return s + ")"
	case FramingClose:
		return "ended by the server closing the connection"
	}
	return "as a response to HEAD, and a 1xx, 204 or 304, has none"
}

// BrowseOptions tune one fetch.
type BrowseOptions struct {
	// Method is GET (the default) or HEAD.
	Method string
	// Header holds extra request header fields, "Name: value" each.
	Header []string
	// Limits cap the response; zero fields take the defaults.
	Limits Limits
	// Trace receives progress lines for a person as they happen (resolving,
	// each connection attempt, the request); nil for none.
	Trace io.Writer
}

// Page is what one Browse run sent and received.
type Page struct {
	// Request is the request as sent.
	Request string
	// Raw holds the bytes received, as they arrived, up to the limits.
	Raw []byte
	// Response is the parsed response, complete or as far as it parsed; nil
	// when nothing was received.
	Response *Response
}

// Target is where a URL points.
type Target struct {
	// Host is the name or IP address, without brackets.
	Host string
	// Port is the TCP port, 80 unless the URL says otherwise.
	Port int
	// HostHeader is the Host field to send: the URL's host and port as written.
	HostHeader string
	// Path is the request target: the path and query, "/" at least.
	Path string
}

// ParseURL parses an http URL; "http://" may be left out. Errors are
// result.Usage.
func ParseURL(raw string) (Target, error) {
	bad := func(format string, args ...any) (Target, error) {
		return Target{}, probe.Errorf(result.Usage, format, args...)
	}
	if raw == "" {
		return bad("no URL given: e.g. http://web/ or http://[::1]:8080/whoami")
	}
	s := raw
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return bad("bad URL %q: %v", raw, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
	case "https":
		return bad("%s: https is not supported: this browser speaks plain HTTP only (use http://)", raw)
	default:
		return bad("%s: scheme %q is not supported: want http://HOST[:PORT]/PATH", raw, u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return bad("%s: no host in the URL: want http://HOST[:PORT]/PATH", raw)
	}
	if u.User != nil {
		return bad("%s: user information in the URL is not supported", raw)
	}
	host := u.Hostname()
	if strings.Contains(host, ":") && !strings.HasPrefix(u.Host, "[") {
		return bad("%s: put an IPv6 address in brackets, e.g. http://[::1]/", raw)
	}
	port := Port
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return bad("%s: bad port %q: want 1-65535", raw, p)
		}
		port = n
	}
	hostHeader := u.Host
	if i := strings.Index(hostHeader, "%"); i >= 0 {
		// An IPv6 zone means nothing to the server: leave it out of Host.
		if j := strings.LastIndex(hostHeader, "]"); j > i {
			hostHeader = hostHeader[:i] + hostHeader[j:]
		}
	}
	return Target{Host: host, Port: port, HostHeader: hostHeader, Path: u.RequestURI()}, nil
}

// attempt is one connection attempt, as --json reports it.
type attempt struct {
	Addr   string      `json:"addr"`
	Family string      `json:"family"`
	Ms     float64     `json:"ms"`
	Error  string      `json:"error,omitempty"`
	Kind   result.Kind `json:"error_kind,omitempty"`
}

// Browse fetches rawURL: it resolves the host, connects to each address in
// order (of the family o asks for) until one answers, sends the request with
// Host, User-Agent and Connection: close, and parses the response. The result
// records the answers (Details "answers"), every attempt, the status, header
// and trailer fields, the framing and the body (Received, when it is text of
// at most 1 MiB; Details "body_bytes" always).
func Browse(ctx context.Context, o probe.Options, rawURL string, bo BrowseOptions) (*probe.Result, *Page) {
	r := probe.New("browse", "tcp", rawURL)
	pg := &Page{}
	tr := tracer{bo.Trace}
	t, err := ParseURL(rawURL)
	if err != nil {
		r.Fail(err)
		return r, pg
	}
	method := strings.ToUpper(bo.Method)
	if method == "" {
		method = "GET"
	}
	if method != "GET" && method != "HEAD" {
		r.Fail(probe.Errorf(result.Usage, "method %q is not supported: GET or HEAD", bo.Method))
		return r, pg
	}
	pg.Request, err = buildRequest(method, t, bo.Header)
	if err != nil {
		r.Fail(err)
		return r, pg
	}
	r.Target = net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	r.Detail("url", rawURL)

	ips, err := probe.Resolve(ctx, o, r, t.Host)
	answers := splitAnswers(r.Resolved)
	if _, lerr := netip.ParseAddr(t.Host); lerr == nil {
		tr.printf("* %s is an IP address: nothing to resolve\n", t.Host)
	} else if len(r.Resolved) > 0 {
		r.Detail("answers", answers)
		tr.printf("* resolved %s in %.1f ms: A %s; AAAA %s\n", t.Host, r.Timings.Resolve,
			orNone(answers["A"]), orNone(answers["AAAA"]))
	}
	if err != nil {
		r.Fail(err)
		return r, pg
	}

	c, err := dialEach(ctx, o, r, tr, ips, t.Port)
	if err != nil {
		r.Fail(err)
		return r, pg
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}

	for line := range strings.SplitSeq(strings.TrimSuffix(pg.Request, "\r\n"), "\r\n") {
		tr.printf("> %s\n", line)
	}
	n, err := io.WriteString(c, pg.Request)
	r.Sent, r.BytesSent = pg.Request, int64(n)
	if err != nil {
		r.Fail(probe.Explain(err, r.Remote, o.Timeout))
		return r, pg
	}

	lim := bo.Limits.orDefaults()
	w := &wire{r: c, max: lim.MaxHeaderBytes + int(min(lim.MaxBodyBytes, 1<<30)) + 64<<10, first: r.FirstByte}
	br := bufio.NewReader(w)
	resp, err := ParseResponse(br, method, lim)
	pg.Raw, pg.Response = w.raw, resp
	r.BytesReceived = w.n
	record(r, resp)
	if err != nil {
		r.Fail(explainRead(ctx, err, r.Remote, w.n, o.Timeout))
		return r, pg
	}
	if extra := br.Buffered(); extra > 0 {
		r.Detail("warning", fmt.Sprintf("%d more bytes arrived after the end of the response", extra))
	}
	return r, pg
}

// buildRequest writes the request head by hand.
func buildRequest(method string, t Target, extra []string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, t.Path)
	fmt.Fprintf(&b, "Host: %s\r\n", t.HostHeader)
	fmt.Fprintf(&b, "User-Agent: %s\r\n", UserAgent)
	fmt.Fprintf(&b, "Accept: */*\r\n")
	for _, h := range extra {
		if strings.ContainsAny(h, "\r\n") {
			return "", probe.Errorf(result.Usage, "header %q: a header field is one line", h)
		}
		if _, err := parseField(h); err != nil {
			return "", probe.Errorf(result.Usage, "header %q: %v", h, err)
		}
		fmt.Fprintf(&b, "%s\r\n", h)
	}
	b.WriteString("Connection: close\r\n\r\n")
	return b.String(), nil
}

// dialEach connects to each address in order until one answers. With a
// deadline, each attempt gets an equal share of the time left, but at least
// two seconds, as net.Dialer does, so one silent address cannot use it all.
func dialEach(ctx context.Context, o probe.Options, r *probe.Result, tr tracer, ips []netip.Addr, port int) (net.Conn, error) {
	var (
		d        net.Dialer
		errs     []error
		attempts []attempt
	)
	defer func() { r.Detail("attempts", attempts) }()
	for i, ip := range ips {
		addr := netip.AddrPortFrom(ip, uint16(port)).String()
		fam := peer.FamilyOf(ip)
		tr.printf("* trying %s (%s)... ", addr, fam)
		actx, cancel := ctx, context.CancelFunc(func() {})
		timeout := o.Timeout
		if dl, ok := ctx.Deadline(); ok {
			left := time.Until(dl)
			share := max(left/time.Duration(len(ips)-i), 2*time.Second)
			timeout = min(share, left)
			actx, cancel = context.WithTimeout(ctx, timeout)
		}
		start := time.Now()
		c, err := d.DialContext(actx, "tcp", addr)
		cancel()
		a := attempt{Addr: addr, Family: fam, Ms: float64(time.Since(start).Microseconds()) / 1000}
		if err == nil {
			attempts = append(attempts, a)
			r.Connected(c)
			tr.printf("connected from %s in %.1f ms\n", r.Local, a.Ms)
			return c, nil
		}
		err = probe.Explain(err, addr, timeout)
		a.Error = err.Error()
		var pe *probe.Error
		if errors.As(err, &pe) {
			a.Kind = pe.Kind
		}
		attempts = append(attempts, a)
		tr.printf("%s\n", err)
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	last := errs[len(errs)-1]
	kind := result.IO
	var pe *probe.Error
	if errors.As(last, &pe) {
		kind = pe.Kind
	}
	return nil, &probe.Error{Kind: kind, Msg: strings.Join(msgs, "; "), Err: last}
}

// explainRead says what went wrong while reading the response from addr.
func explainRead(ctx context.Context, err error, addr string, got int64, timeout time.Duration) error {
	var pe *ParseError
	if errors.As(err, &pe) {
		if got == 0 {
			return probe.Errorf(result.Protocol, "%s closed the connection without answering", addr)
		}
		return &probe.Error{Kind: result.Protocol, Msg: "bad response from " + addr + ": " + pe.Msg, Err: err}
	}
	var ne net.Error
	timedOut := errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() || ctx.Err() != nil
	if timedOut && got > 0 {
		return &probe.Error{Kind: result.Timeout, Msg: fmt.Sprintf("%s sent %d bytes, then nothing more within %s", addr, got, timeout), Err: err}
	}
	if timedOut {
		return &probe.Error{Kind: result.Timeout, Msg: fmt.Sprintf("no answer from %s within %s", addr, timeout), Err: err}
	}
	return probe.Explain(err, addr, timeout)
}

// record copies what the response says into the result's details.
func record(r *probe.Result, resp *Response) {
	if resp == nil || resp.StatusCode == 0 {
		return
	}
	r.Detail("status", resp.StatusCode)
	r.Detail("reason", resp.Reason)
	r.Detail("proto", resp.Proto)
	r.Detail("headers", fieldLines(resp.Header))
	if len(resp.Trailer) > 0 {
		r.Detail("trailers", fieldLines(resp.Trailer))
	}
	if len(resp.Interim) > 0 {
		r.Detail("interim", resp.Interim)
	}
	if resp.Framing == "" {
		return
	}
	r.Detail("framing", resp.Framing)
	if resp.Framing == FramingChunked {
		r.Detail("chunks", resp.Chunks)
	}
	r.Detail("body_bytes", len(resp.Body))
	switch {
	case len(resp.Body) > maxJSONBody:
		r.Detail("body_omitted", "larger than 1 MiB")
	case !utf8.Valid(resp.Body):
		r.Detail("body_omitted", "not UTF-8 text")
	default:
		r.Received = string(resp.Body)
	}
}

func fieldLines(fs []Field) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name + ": " + f.Value
	}
	return out
}

// splitAnswers sorts resolved addresses into A and AAAA answers.
func splitAnswers(resolved []string) map[string][]string {
	m := map[string][]string{"A": {}, "AAAA": {}}
	for _, s := range resolved {
		if ip, err := netip.ParseAddr(s); err == nil && ip.Is4() {
			m["A"] = append(m["A"], s)
		} else {
			m["AAAA"] = append(m["AAAA"], s)
		}
	}
	return m
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func orNone(ss []string) string {
	if len(ss) == 0 {
		return "(none)"
	}
	return strings.Join(ss, ", ")
}

// tracer prints progress for a person; its zero value prints nothing.
type tracer struct{ w io.Writer }

func (t tracer) printf(format string, args ...any) {
	if t.w != nil {
		fmt.Fprintf(t.w, format, args...)
	}
}

// wire reads from a connection, keeps a copy of the first max bytes as they
// arrived, and notes the first byte's time.
type wire struct {
	r     io.Reader
	raw   []byte
	max   int
	n     int64
	first func()
}

func (w *wire) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if n > 0 {
		if w.n == 0 && w.first != nil {
			w.first()
		}
		w.n += int64(n)
		if keep := min(n, w.max-len(w.raw)); keep > 0 {
			w.raw = append(w.raw, p[:keep]...)
		}
	}
	return n, err
}
