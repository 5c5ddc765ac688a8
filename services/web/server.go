// Package web is seed 000's small web site and its raw-socket browser.
//
// The server speaks HTTP/1.1 (net/http) and tells each client the address,
// port and family it came from, as an HTML page and as plain text. The
// browser ("sock browse") writes its GET request by hand on a TCP socket and
// parses the response itself (ParseResponse), so that every step a browser
// takes is visible: name resolution, connecting, the request and the raw
// response with its framing.
package web

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"socketlab/services/internal/peer"
	"socketlab/services/internal/service"
)

// Port is the default web port.
const Port = 80

// Server limits: a client gets this long to send its request header, and an
// idle keep-alive connection is closed after IdleTimeout.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 60 * time.Second
	MaxHeaderBytes    = 16 << 10
)

// NewServer returns the web server with its limits set. log receives one
// line per request; nil logs nothing. Its Shutdown closes idle connections,
// including those that have not sent a request yet, and waits for requests
// in progress.
func NewServer(log *slog.Logger) *http.Server {
	s := &http.Server{
		Handler:           NewHandler(log),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
	// net/http waits up to 5 s before it counts a connection that has sent
	// nothing yet (a browser's preconnect, nc) as idle; a stopping server
	// need not wait for a request that has not started.
	var (
		mu    sync.Mutex
		fresh = make(map[net.Conn]struct{})
	)
	s.ConnState = func(c net.Conn, st http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		if st == http.StateNew {
			fresh[c] = struct{}{}
		} else {
			delete(fresh, c)
		}
	}
	s.RegisterOnShutdown(func() {
		mu.Lock()
		defer mu.Unlock()
		for c := range fresh {
			c.Close()
		}
	})
	return s
}

// NewHandler serves the site:
//
//	/         an HTML page naming the client's address, port and family
//	/whoami   the same as plain text, one "key: value" per line
//	/ip       the client's address alone
//	/chunked  a chunked body with a trailer (?n=1..100 chunks)
//	/close    a body that ends when the server closes the connection
//	/healthz  "ok"
//
// Only GET and HEAD are allowed. log receives one line per request.
func NewHandler(log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", page)
	mux.HandleFunc("/whoami", whoami)
	mux.HandleFunc("/ip", ip)
	mux.HandleFunc("/chunked", chunked)
	mux.HandleFunc("/close", closeDelimited)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		text(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		text(w, http.StatusNotFound, fmt.Sprintf("404 not found: %s\nTry / /whoami /ip /chunked /close /healthz\n", r.URL.Path))
	})
	return logRequests(log, onlyGet(mux))
}

// client is what the server saw of a request's connection.
type client struct {
	addr, ip, port, family, local string
	from                          netip.Addr
}

func clientOf(r *http.Request) client {
	var c client
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		c.addr, c.ip, c.port = ap.String(), ap.Addr().String(), strconv.Itoa(int(ap.Port()))
		c.from = ap.Addr()
		c.family = peer.FamilyOf(ap.Addr())
	} else {
		c.addr = r.RemoteAddr
	}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		c.local = peer.String(la)
	}
	return c
}

const pageTemplate = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>socketlab web</title>
<style>body{font-family:system-ui,sans-serif;max-width:42em;margin:2em auto;padding:0 1em}th{text-align:left;padding-right:1em}code,td{font-family:monospace}</style>
</head>
<body>
<h1>socketlab web</h1>
<p>You are <strong>%[1]s</strong> over <strong>%[4]s</strong>.</p>
<table>
<tr><th>your address</th><td>%[2]s</td></tr>
<tr><th>your port</th><td>%[3]s</td></tr>
<tr><th>family</th><td>%[4]s</td></tr>
<tr><th>server address</th><td>%[5]s</td></tr>
<tr><th>request</th><td>%[6]s</td></tr>
<tr><th>Host</th><td>%[7]s</td></tr>
<tr><th>User-Agent</th><td>%[8]s</td></tr>
</table>
<p>More: <a href="/whoami">/whoami</a> (the same as plain text),
<a href="/chunked">/chunked</a> (a chunked body with a trailer),
<a href="/close">/close</a> (a body that ends when the connection closes),
<a href="/healthz">/healthz</a>.</p>
</body>
</html>
`

func page(w http.ResponseWriter, r *http.Request) {
	c := clientOf(r)
	e := html.EscapeString
	body := fmt.Sprintf(pageTemplate, e(c.addr), e(c.ip), e(c.port), e(c.family), e(c.local),
		e(r.Method+" "+r.URL.RequestURI()+" "+r.Proto), e(r.Host), e(r.UserAgent()))
	write(w, http.StatusOK, "text/html; charset=utf-8", body)
}

// whoamiText is the plain-text answer of /whoami for client c.
func whoamiText(c client) string {
	return fmt.Sprintf("address: %s\nip: %s\nport: %s\nfamily: %s\nserver: %s\n", c.addr, c.ip, c.port, c.family, c.local)
}

func whoami(w http.ResponseWriter, r *http.Request) {
	text(w, http.StatusOK, whoamiText(clientOf(r)))
}

func ip(w http.ResponseWriter, r *http.Request) {
	text(w, http.StatusOK, clientOf(r).ip+"\n")
}

// chunked sends n lines, one chunk each, and the count in a trailer.
func chunked(w http.ResponseWriter, r *http.Request) {
	n := 5
	if v := r.URL.Query().Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 100 {
			text(w, http.StatusBadRequest, "n must be a number of chunks from 1 to 100\n")
			return
		}
	}
	c := clientOf(r)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Trailer", "X-Chunk-Count")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(w, "chunk %d of %d for %s over %s\n", i, n, c.addr, c.family)
		if err := rc.Flush(); err != nil {
			return
		}
	}
	w.Header().Set("X-Chunk-Count", strconv.Itoa(n))
}

// closeDelimited answers without Content-Length or chunking: the body ends
// when the server closes the connection, as in HTTP/1.0.
func closeDelimited(w http.ResponseWriter, r *http.Request) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		text(w, http.StatusInternalServerError, "cannot take over the connection\n")
		return
	}
	defer conn.Close()
	body := ""
	if r.Method != http.MethodHead {
		c := clientOf(r)
		body = fmt.Sprintf("This body has no length: it ends when the server closes the connection.\nYou are %s over %s.\n", c.addr, c.family)
	}
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
	_ = conn.SetWriteDeadline(time.Now().Add(WriteTimeout))
	n, _ := buf.WriteString(head + body)
	_ = buf.Flush()
	if rec, ok := w.(*recorder); ok {
		rec.status, rec.bytes = http.StatusOK, int64(max(n-len(head), 0))
	}
	// Shut down writing, then drain briefly: closing with unread input
	// would send a reset instead of a FIN.
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		var sink [512]byte
		for {
			if _, err := conn.Read(sink[:]); err != nil {
				break
			}
		}
	}
}

func text(w http.ResponseWriter, status int, body string) {
	write(w, status, "text/plain; charset=utf-8", body)
}

// write sends body with an explicit Content-Length, so the framing of a
// small page never depends on how net/http buffers.
func write(w http.ResponseWriter, status int, ctype, body string) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func onlyGet(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			text(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: use GET or HEAD\n")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// recorder notes the status and body bytes of a response for the log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and Hijack.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	if log == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if r.Method == http.MethodHead {
			rec.bytes = 0 // net/http swallows the body of a HEAD response
		}
		c := clientOf(r)
		log.LogAttrs(r.Context(), slog.LevelInfo, "request", service.HealthMark([]slog.Attr{
			slog.String("peer", c.addr),
			slog.String("local", c.local),
			slog.String("family", c.family),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("proto", r.Proto),
			slog.Int("status", rec.status),
			slog.Int64("bytes", rec.bytes),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		}, c.from)...)
	})
}

// Check is the healthcheck: GET /healthz at addr must answer 200.
func Check(ctx context.Context, addr string) error {
	c, err := service.DialCheck(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	req := "GET /healthz HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: " + UserAgent + " (healthcheck)\r\nConnection: close\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		return fmt.Errorf("send GET /healthz: %w", err)
	}
	resp, err := ParseResponse(c, http.MethodGet, Limits{MaxHeaderBytes: 16 << 10, MaxBodyBytes: 4 << 10})
	if err != nil {
		return fmt.Errorf("GET /healthz: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /healthz: %d %s", resp.StatusCode, resp.Reason)
	}
	return nil
}

// Spec describes the web server binary.
func Spec() service.Spec {
	var idle, header time.Duration
	return service.Spec{
		Name:  "web",
		Short: "A small HTTP/1.1 site that shows each client its address and family",
		Long: "web (seed 000) serves HTTP/1.1 on IPv4 and IPv6. The page / shows the client's\n" +
			"address, port and family as the server saw them (a client on 127.0.0.1 is IPv4 even\n" +
			"on a dual-stack socket); /whoami says the same in plain text, /ip gives the address\n" +
			"alone; /chunked sends a chunked body with a trailer, /close a body that ends when the\n" +
			"connection closes; /healthz answers ok. One JSON log line per request.\n\n" +
			"Try it: curl -4 http://localhost:80/whoami, curl -6 'http://[::1]:80/', or\n" +
			"sock browse http://localhost/.",
		Port: Port,
		Flags: func(fs *pflag.FlagSet) {
			fs.DurationVar(&idle, "idle-timeout", IdleTimeout, "close a keep-alive connection idle for this long")
			fs.DurationVar(&header, "read-header-timeout", ReadHeaderTimeout, "how long a client may take to send its request header")
		},
		Start: func(rt *service.Runtime) (service.Servers, error) {
			if idle <= 0 || header <= 0 {
				return service.Servers{}, fmt.Errorf("--idle-timeout and --read-header-timeout must be positive")
			}
			s := NewServer(rt.ConnLog)
			s.IdleTimeout, s.ReadHeaderTimeout = idle, header
			s.ErrorLog = slog.NewLogLogger(rt.Log.Handler(), slog.LevelWarn)
			return service.Servers{TCP: s}, nil
		},
		Check: Check,
	}
}
