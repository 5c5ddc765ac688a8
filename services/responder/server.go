// Package responder is seed 001's UDP server and its client: each datagram
// gets one whole line in reply naming the source address, port and family the
// server saw. The reply never exceeds 512 bytes whatever the request, each
// source address is rate limited (as DNS servers' response-rate limiting
// does), and datagrams from the ports of echo-like services are dropped, so
// the responder cannot be turned into an amplifier or a loop.
package responder

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"socketlab/services/internal/service"
)

// Port is the default responder port (UDP).
const Port = 9999

// MaxReply is the hard cap on a reply, newline included.
const MaxReply = 512

// DefaultReply is the reply template; see Config.Reply.
const DefaultReply = "you are {addr} over {family}; you sent {bytes} bytes"

// Config says how a responder answers.
type Config struct {
	// Reply is the template of the one-line reply (a newline is added):
	// {addr} (source address and port as seen, e.g. [::1]:53124), {host},
	// {port}, {family} (IPv4 or IPv6) and {bytes} (the request's size).
	// Filled in, it must fit in MaxReply bytes for any source.
	Reply string
	// Rate is how many replies per second a source address earns; 0 or less
	// means no limit.
	Rate float64
	// Burst is how many replies a source may get at once.
	Burst int
	// MaxSources bounds the rate limiter's table of source addresses.
	MaxSources int
}

// The widest value each placeholder can take: an IPv6 address with a zone
// (39 + 1 + 15) in brackets with a port, and so on.
var fieldWidth = map[string]int{
	"{addr}":   2 + 55 + 6,
	"{host}":   55,
	"{port}":   5,
	"{family}": 4,
	"{bytes}":  5,
}

type part struct {
	lit   string
	field string // one of the fieldWidth keys, or "" for a literal
}

func parse(tmpl string) ([]part, error) {
	if strings.ContainsAny(tmpl, "\r\n") {
		return nil, errors.New("reply template must be one line (no newlines)")
	}
	var parts []part
	width := 1 // the newline
	for tmpl != "" {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			parts = append(parts, part{lit: tmpl})
			width += len(tmpl)
			break
		}
		field := ""
		for f := range fieldWidth {
			if strings.HasPrefix(tmpl[i:], f) {
				field = f
			}
		}
		if field == "" { // not a placeholder: a literal brace
			parts = append(parts, part{lit: tmpl[:i+1]})
			width += i + 1
			tmpl = tmpl[i+1:]
			continue
		}
		if i > 0 {
			parts = append(parts, part{lit: tmpl[:i]})
		}
		parts = append(parts, part{field: field})
		width += i + fieldWidth[field]
		tmpl = tmpl[i+len(field):]
	}
	if width > MaxReply {
		return nil, fmt.Errorf("reply template can fill in to %d bytes, over the %d-byte limit", width, MaxReply)
	}
	return parts, nil
}

// render appends the reply to src's datagram of n bytes to b, without
// allocating.
func render(b []byte, parts []part, src netip.AddrPort, n int) []byte {
	for _, p := range parts {
		switch p.field {
		case "":
			b = append(b, p.lit...)
		case "{addr}":
			b = src.AppendTo(b)
		case "{host}":
			b = src.Addr().AppendTo(b)
		case "{port}":
			b = strconv.AppendUint(b, uint64(src.Port()), 10)
		case "{family}":
			if src.Addr().Is4() {
				b = append(b, "IPv4"...)
			} else {
				b = append(b, "IPv6"...)
			}
		case "{bytes}":
			b = strconv.AppendInt(b, int64(n), 10)
		}
	}
	b = append(b, '\n')
	if len(b) > MaxReply { // parse rules this out; keep the promise anyway
		b = append(b[:MaxReply-1], '\n')
	}
	return b
}

// NewServer returns a responder serving datagrams as cfg says: one whole
// line in reply to every datagram (an empty one too), at most MaxReply bytes,
// none to a source address over its rate or from the ports 7, 13, 19 and 37.
// The rate limit, not the reply's size, is what bounds abuse: a forger who
// puts a victim's address on its datagrams gets at most Burst replies to it
// at once and Rate a second after that, each at most MaxReply bytes, however
// much it sends.
func NewServer(cfg Config) (*service.Datagrams, error) {
	parts, err := parse(cfg.Reply)
	if err != nil {
		return nil, err
	}
	lim, err := NewLimiter(cfg.Rate, cfg.Burst, cfg.MaxSources)
	if err != nil {
		return nil, err
	}
	return &service.Datagrams{
		Name: "responder",
		Handle: func(src netip.AddrPort, in, out []byte) ([]byte, string) {
			if service.LoopPort(src.Port()) {
				return nil, "dropped: source port of a datagram service (loop)"
			}
			if !lim.Allow(src.Addr(), time.Now()) {
				return nil, "dropped: rate limited"
			}
			return render(out[:0], parts, src, len(in)), "replied"
		},
	}, nil
}

// Limiter is a token bucket per source address: each address may get Burst
// replies at once and earns Rate more per second. Its table holds at most
// MaxSources addresses: when full, the addresses not seen for longest are
// forgotten (they start again with a full bucket). It is safe for concurrent use.
type Limiter struct {
	rate, burst float64
	max         int

	mu       sync.Mutex
	cur, old map[netip.Addr]bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewLimiter returns a limiter; rate ≤ 0 means no limit.
func NewLimiter(rate float64, burst, maxSources int) (*Limiter, error) {
	if rate > 0 && burst < 1 {
		return nil, fmt.Errorf("rate limit burst %d: want 1 or more", burst)
	}
	if rate > 0 && maxSources < 2 {
		return nil, fmt.Errorf("rate limit table of %d sources: want 2 or more", maxSources)
	}
	return &Limiter{rate: rate, burst: float64(burst), max: maxSources,
		cur: make(map[netip.Addr]bucket), old: make(map[netip.Addr]bucket)}, nil
}

// Allow reports whether a datagram from src at time now may be answered, and
// spends a token if so.
func (l *Limiter) Allow(src netip.Addr, now time.Time) bool {
	if l.rate <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.cur[src]
	if !ok {
		// Two generations bound the table without a list per entry: when the
		// current one fills half the room, it becomes the old one and the
		// previous old one (addresses not seen since) is forgotten.
		if b, ok = l.old[src]; ok {
			delete(l.old, src)
		} else {
			b = bucket{tokens: l.burst, last: now}
		}
		if len(l.cur) >= l.max/2 {
			l.old, l.cur = l.cur, make(map[netip.Addr]bucket, len(l.cur))
		}
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.rate)
		b.last = now
	}
	allow := b.tokens >= 1
	if allow {
		b.tokens--
	}
	l.cur[src] = b
	return allow
}

// Len reports how many source addresses the limiter remembers.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.cur) + len(l.old)
}

// HealthProbe is the datagram the healthcheck sends.
const HealthProbe = "socketlab responder healthcheck"

// Check is the healthcheck: a datagram sent to addr gets a reply.
func Check(ctx context.Context, addr string) error {
	return service.CheckUDP(ctx, addr, []byte(HealthProbe))
}

// Spec describes the responder server binary.
func Spec() service.Spec {
	cfg := Config{}
	return service.Spec{
		Name:  "responder",
		Short: "Answer each UDP datagram with the address and family it came from",
		Long: "responder (seed 001) answers each UDP datagram, over IPv4 and IPv6, with one line naming\n" +
			"the source address, port and family it saw:\n\n" +
			"    you are [::1]:53124 over IPv6; you sent 6 bytes\n\n" +
			"Every datagram, however short (an empty one too), gets the whole line. It cannot be\n" +
			"abused as an amplifier: a reply is never more than 512 bytes, and each source\n" +
			"address gets at most --burst replies at once and --rate per second after that (as\n" +
			"DNS servers' response-rate limiting does), so a forged source address earns its\n" +
			"victim a few short lines a second, whatever the forger sends. Datagrams from the ports of echo,\n" +
			"daytime, chargen and time (7, 13, 19, 37) are dropped so that no two servers answer\n" +
			"each other forever. Dropped datagrams get no reply at all: that is what UDP does;\n" +
			"the log counts them once every 10 seconds instead of a line each.\n\n" +
			"Try it: nc -u localhost 9999 (type a line), or sock responder ::1.",
		Port: Port,
		Flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&cfg.Reply, "reply", DefaultReply, "reply template: {addr} {host} {port} {family} {bytes}; at most 512 bytes filled in")
			fs.Float64Var(&cfg.Rate, "rate", 10, "replies per second each source address earns (0: no limit)")
			fs.IntVar(&cfg.Burst, "burst", 20, "replies a source address may get at once")
			fs.IntVar(&cfg.MaxSources, "max-sources", 100000, "source addresses the rate limiter remembers (memory bound)")
		},
		Start: func(rt *service.Runtime) (service.Servers, error) {
			s, err := NewServer(cfg)
			if err != nil {
				return service.Servers{}, err
			}
			s.Log = rt.ConnLog
			return service.Servers{UDP: s}, nil
		},
		Check: Check,
	}
}
