// Package chat is seed 003's chat made real: an IRC server speaking the
// client-protocol core of RFC 1459/2812 (so stock IRC clients, IRC libraries
// and Wireshark's IRC dissector work with it), and the "sock chat" client for
// people and scenario steps.
//
// The server is built to stay fast and fair under load: a channel message is
// encoded once and its bytes shared by every recipient; each client has a
// bounded send queue drained by a writer that exists only while there is
// something to write, so one client that stops reading is cut off with
// "ERROR :SendQ exceeded" and never slows the others down.
package chat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"socketlab/services/chat/irc"
	"socketlab/services/internal/peer"
	"socketlab/services/internal/service"
)

// Port is the IRC port.
const Port = 6667

// Version is the server's version string in RPL_YOURHOST and RPL_MYINFO.
const Version = "socketlab-chat-1"

// DefaultMOTD is the message of the day; {addr} and {family} are the client's
// address and family as the server saw them.
var DefaultMOTD = []string{
	"Welcome to socketlab chat, an IRC server for the socket lab.",
	"You came from {addr} over {family}.",
	"Join the lab's channel with /join #lab, then just type to talk.",
}

// Server is an IRC server. Its limits are fields, read when Serve starts;
// zero values mean "no limit" except where a field says otherwise.
type Server struct {
	// Name is the server name in prefixes and numerics; default "chat.socketlab".
	Name string
	// MOTD lines; none means the server answers 422 (no MOTD).
	MOTD []string
	// Channels always exist, even when empty (default: none).
	Channels []string
	// Topic is the initial topic of the Channels.
	Topic string
	// SendQ is how many bytes may wait for a client that reads slower than
	// it is sent to; past it the client is disconnected ("SendQ exceeded").
	// Default 128 KiB.
	SendQ int
	// FloodBurst lines may arrive at once; after them a client is read at
	// FloodRate lines per second (it is throttled: nothing is dropped).
	// FloodRate 0 turns flood control off.
	FloodBurst int
	FloodRate  float64
	// RegisterTimeout closes a connection that has not registered (NICK and
	// USER) in time. Default 30s.
	RegisterTimeout time.Duration
	// PingInterval is how long a client may be silent before the server
	// sends it a PING; PingTimeout is how long it then has to say anything.
	// Defaults 90s and 60s.
	PingInterval, PingTimeout time.Duration
	// SendBuffer sets each connection's kernel send buffer (SO_SNDBUF),
	// which turns off its autotuning: what a client that stops reading can
	// hold up is then about SendQ plus twice this, instead of megabytes of
	// kernel memory. Default 64 KiB; negative leaves the kernel's autotuning.
	SendBuffer int
	// MaxConns caps connections; MaxPerIP caps connections from one IPv4
	// address or one IPv6 /64.
	MaxConns, MaxPerIP int
	// MaxChannels caps the channels one client may be in. Default 20.
	MaxChannels int
	// MaxServerChannels caps the channels that exist at once, server-wide.
	// Default 10000.
	MaxServerChannels int
	// WriteTimeout cuts off a client that takes nothing of what is sent to
	// it for this long (up to an eighth longer), whatever its SendQ holds,
	// so a member that never reads is gone in bounded time even when flood
	// control makes its queue fill slowly. Default 15s.
	WriteTimeout time.Duration
	// Linger is how long a closing connection has to receive its last lines
	// (ERROR) before it is closed. Default 1s.
	Linger time.Duration
	// Log receives one line per connection; nil logs nothing.
	Log *slog.Logger

	once    sync.Once
	conns   service.ConnServer
	created time.Time

	// mu guards the nick registry, the channels, membership and every
	// client field documented as "guarded by srv.mu".
	mu       sync.RWMutex
	nicks    map[string]*client // by irc.Fold(nick), registered or not
	channels map[string]*channel
	users    int // registered clients
	guests   int // line-mode nicks handed out

	ipMu  sync.Mutex
	perIP map[netip.Prefix]int
}

// channel is a chat room; every field is guarded by srv.mu.
type channel struct {
	name       string
	members    map[*client]struct{}
	topic      string
	topicBy    string
	topicAt    time.Time
	created    time.Time
	persistent bool
}

func (s *Server) init() {
	s.once.Do(func() {
		if s.Name == "" {
			s.Name = "chat.socketlab"
		}
		if s.SendQ <= 0 {
			s.SendQ = 128 << 10
		}
		if s.RegisterTimeout <= 0 {
			s.RegisterTimeout = 30 * time.Second
		}
		if s.PingInterval <= 0 {
			s.PingInterval = 90 * time.Second
		}
		if s.PingTimeout <= 0 {
			s.PingTimeout = 60 * time.Second
		}
		if s.MaxChannels <= 0 {
			s.MaxChannels = 20
		}
		if s.MaxServerChannels <= 0 {
			s.MaxServerChannels = 10000
		}
		if s.SendBuffer == 0 {
			s.SendBuffer = 64 << 10
		}
		if s.WriteTimeout <= 0 {
			s.WriteTimeout = 15 * time.Second
		}
		if s.Linger <= 0 {
			s.Linger = time.Second
		}
		s.created = time.Now()
		s.nicks = make(map[string]*client)
		s.channels = make(map[string]*channel)
		s.perIP = make(map[netip.Prefix]int)
		for _, name := range s.Channels {
			ch := s.newChannel(name)
			ch.persistent = true
			if s.Topic != "" {
				ch.topic, ch.topicBy, ch.topicAt = s.Topic, s.Name, s.created
			}
		}
		s.conns = service.ConnServer{
			Name:     "chat",
			Log:      s.Log,
			MaxConns: s.MaxConns,
			Handler:  s.handle,
			Reject: func(c net.Conn, _ error) {
				io.WriteString(c, "ERROR :Closing Link: "+hostOf(c.RemoteAddr())+" (Server is full)\r\n")
			},
		}
	})
}

func (s *Server) newChannel(name string) *channel {
	ch := &channel{name: name, members: make(map[*client]struct{}), created: time.Now()}
	s.channels[irc.Fold(name)] = ch
	return ch
}

// Serve accepts IRC clients on l until Shutdown; it then returns
// service.ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	s.init()
	return s.conns.Serve(l)
}

// Shutdown stops accepting, tells every client "ERROR :Server shutting down"
// and closes its connection once that line is out (or Linger has passed),
// and returns when all are closed or ctx ends, whichever is first.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	return s.conns.Shutdown(ctx)
}

// Active reports how many connections are open.
func (s *Server) Active() int {
	s.init()
	return s.conns.Active()
}

var (
	errTooMany = errors.New("too many connections from this address")
	errQuit    = errors.New("quit")
)

// handle serves one IRC connection.
func (s *Server) handle(ctx context.Context, sc *service.Conn) error {
	return s.handleConn(ctx, sc, false)
}

// handleConn serves one connection, IRC or (lines) the line mode:
// admission, the read loop, then leaving.
func (s *Server) handleConn(ctx context.Context, sc *service.Conn, lines bool) error {
	c := newClient(s, sc)
	c.lines = lines
	key := peer.Source(sc.RemoteAddr())
	if !s.admit(key) {
		_ = sc.SetWriteDeadline(time.Now().Add(s.Linger))
		if lines {
			io.WriteString(sc, "* too many connections from your address\n")
		} else {
			io.WriteString(sc, "ERROR :Closing Link: "+c.host+" (Too many connections from your address)\r\n")
		}
		return errTooMany
	}
	defer s.release(key)
	if tc, ok := sc.Conn.(*net.TCPConn); ok && s.SendBuffer > 0 {
		_ = tc.SetWriteBuffer(s.SendBuffer)
	}
	var err error
	if lines {
		err = c.serveLines(ctx)
	} else {
		err = c.serve(ctx)
	}
	var final, quit string
	switch {
	case ctx.Err() != nil:
		final, err = "ERROR :Server shutting down\r\n", ctx.Err() // logged as "shutdown"
	case errors.Is(err, errQuit):
		final, quit, err = "ERROR :Closing Link: "+c.host+" ("+c.quitMsg+")\r\n", c.quitMsg, nil
	case errors.Is(err, errKilled):
		final, quit = "ERROR :"+c.deadReason()+"\r\n", c.deadReason()
		err = errors.New(c.deadReason())
	case errors.Is(err, io.EOF):
		quit, err = "Connection closed", nil
	default:
		quit = quitReason(err)
		final = "ERROR :Closing Link: " + c.host + " (" + quit + ")\r\n"
	}
	s.leave(c, quit, ctx.Err() == nil)
	c.finish(final)
	return err
}

// admit counts a connection from key, or refuses it over MaxPerIP.
func (s *Server) admit(key netip.Prefix) bool {
	s.ipMu.Lock()
	defer s.ipMu.Unlock()
	if s.MaxPerIP > 0 && s.perIP[key] >= s.MaxPerIP {
		return false
	}
	s.perIP[key]++
	return true
}

func (s *Server) release(key netip.Prefix) {
	s.ipMu.Lock()
	defer s.ipMu.Unlock()
	if s.perIP[key]--; s.perIP[key] <= 0 {
		delete(s.perIP, key)
	}
}

// hostOf is a client's host as IRC shows it: its IP address, with a 0 before
// an IPv6 address that starts with ':' ("0::1"), since a word that starts
// with ':' means "trailing parameter" on the wire.
func hostOf(a net.Addr) string {
	ap, ok := peer.AddrPort(a)
	if !ok {
		return "unknown"
	}
	h := ap.Addr().WithZone("").String()
	if h[0] == ':' {
		h = "0" + h
	}
	return h
}

// leave removes c from the nick registry and its channels and, when
// announce is set, tells everyone who shared a channel with it that it quit.
func (s *Server) leave(c *client, quit string, announce bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nicks[irc.Fold(c.nick)] == c {
		delete(s.nicks, irc.Fold(c.nick))
	}
	if c.registered {
		s.users--
	}
	var b []byte
	if announce && c.registered && len(c.chans) > 0 {
		b = encode(c.prefix, "QUIT", true, quit)
	}
	seen := make(map[*client]bool)
	for ch := range c.chans {
		delete(ch.members, c)
		if b != nil {
			for m := range ch.members {
				if !seen[m] {
					seen[m] = true
					m.send(b)
				}
			}
		}
		s.dropIfEmpty(ch)
	}
	c.chans = nil
}

func (s *Server) dropIfEmpty(ch *channel) {
	if len(ch.members) == 0 && !ch.persistent {
		delete(s.channels, irc.Fold(ch.name))
	}
}

// encode builds one message line (CR-LF included) of at most irc.MaxLine
// bytes: a longer one loses the end of its last parameter, cut on a UTF-8
// character boundary. With trailing, the last parameter is always written
// after " :", as servers do for text.
func encode(prefix, cmd string, trailing bool, params ...string) []byte {
	m := irc.Message{Prefix: prefix, Command: cmd, Params: params}
	n := len(prefix) + len(cmd) + 6
	for _, p := range params {
		n += len(p) + 1
	}
	return fit(m.Append(make([]byte, 0, min(n, irc.MaxLine)), trailing))
}

// fit cuts a line longer than irc.MaxLine down to it, keeping CR-LF and not
// splitting a UTF-8 sequence.
func fit(b []byte) []byte {
	if len(b) <= irc.MaxLine {
		return b
	}
	cut := runeStart(string(b), irc.MaxLine-2)
	return append(b[:cut], '\r', '\n')
}

// runeStart moves i back to the start of the UTF-8 sequence it falls in,
// if s is UTF-8 there, so that s[:i] does not end with half a character.
func runeStart(s string, i int) int {
	for j := 0; j < 3 && i > 0 && i < len(s) && s[i]&0xC0 == 0x80; j++ {
		i--
	}
	return i
}

// Spec describes the chat server binary.
func Spec() service.Spec {
	s := &Server{}
	var topic string
	linePort := LinePort
	lineFlag := func(fs *pflag.FlagSet) {
		fs.IntVar(&linePort, "line-port", LinePort, "port of the plain line mode (each line said in the first --channel as a guest); 0: none")
	}
	return service.Spec{
		Name:  "chat",
		Short: "An IRC server (RFC 1459/2812 client protocol) with a #lab channel",
		Long: "chat (seed 003) is an IRC server: connect with any IRC client (irssi, weechat, HexChat),\n" +
			"with nc, or with 'sock chat'. It speaks the client-protocol core of RFC 1459/2812:\n" +
			"NICK/USER registration, PING/PONG, JOIN/PART, PRIVMSG/NOTICE to channels and nicks,\n" +
			"NAMES, TOPIC, LIST, WHO, WHOIS, MODE (queries), AWAY, QUIT, and the usual numeric errors.\n" +
			"Nicks are case-insensitive (RFC 1459 casemapping). #lab always exists.\n\n" +
			"Limits keep it fair: a bounded send queue per client (a client that stops reading\n" +
			"is cut off with 'ERROR :SendQ exceeded', and one that takes nothing for --write-timeout\n" +
			"with 'Write timeout'), flood control (a burst, then a steady rate;\n" +
			"excess lines are read later, not dropped), registration and ping timeouts, caps on\n" +
			"connections per IPv4 address or IPv6 /64 and on channels, and a LIST that is sent\n" +
			"only as fast as the client reads it.\n\n" +
			"Line mode (TCP 1042, the lesson's port): no IRC at all. Each line a client sends is\n" +
			"said in #lab under a guest nick (guest1, guest2...) and answered with the line as\n" +
			"the room shows it (<guest1> hello); then the client reads what is said in #lab, one\n" +
			"plain line each. A lesson's client, nc and IRC users all share the one room.\n\n" +
			"Try it: nc localhost 6667, then type  NICK ada  USER ada 0 * :Ada  JOIN #lab\n" +
			"        PRIVMSG #lab :hello   QUIT   (or: irssi -c localhost, sock chat localhost)\n" +
			"        nc localhost 1042, then type  hello",
		Port: Port,
		Flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&s.Name, "server-name", "chat.socketlab", "server name in replies and message prefixes")
			fs.StringArrayVar(&s.MOTD, "motd", DefaultMOTD, "a line of the message of the day ({addr} {family}); repeat for more; --motd '' for none (422)")
			fs.StringArrayVar(&s.Channels, "channel", []string{"#lab"}, "a channel that always exists; repeat for more")
			fs.StringVar(&topic, "topic", "socketlab chat: say hello over IPv4 or IPv6", "initial topic of those channels")
			fs.IntVar(&s.SendQ, "sendq", 128<<10, "bytes that may wait for a slow reader before it is disconnected")
			fs.IntVar(&s.SendBuffer, "sndbuf", 64<<10, "kernel send buffer per connection in bytes (-1: the kernel's autotuning, which lets a client that stops reading park megabytes)")
			fs.IntVar(&s.FloodBurst, "flood-burst", 20, "lines a client may send at once before it is throttled")
			fs.Float64Var(&s.FloodRate, "flood-rate", 4, "lines per second a client is read at after its burst; 0 turns flood control off")
			fs.DurationVar(&s.RegisterTimeout, "register-timeout", 30*time.Second, "close connections that have not sent NICK and USER by then")
			fs.DurationVar(&s.PingInterval, "ping-interval", 90*time.Second, "PING a client silent this long")
			fs.DurationVar(&s.PingTimeout, "ping-timeout", 60*time.Second, "disconnect a client that stays silent this long after a PING")
			fs.IntVar(&s.MaxConns, "max-conns", 20000, "most connections at once (0: no cap)")
			fs.IntVar(&s.MaxPerIP, "max-per-ip", 32, "most connections from one IPv4 address or IPv6 /64 (0: no cap)")
			fs.IntVar(&s.MaxChannels, "max-channels", 20, "most channels one client may join")
			fs.IntVar(&s.MaxServerChannels, "max-server-channels", 10000, "most channels that may exist at once")
			fs.DurationVar(&s.WriteTimeout, "write-timeout", 15*time.Second, "disconnect a client that takes nothing sent to it for this long")
			fs.DurationVar(&s.Linger, "linger", time.Second, "how long a closing connection has to receive its last lines")
			lineFlag(fs)
		},
		Start: func(rt *service.Runtime) (service.Servers, error) {
			if !validServerName(s.Name) {
				return service.Servers{}, fmt.Errorf("--server-name %q: want a host-like name such as chat.example", s.Name)
			}
			for _, ch := range s.Channels {
				if !irc.ValidChannel(ch) {
					return service.Servers{}, fmt.Errorf("--channel %q: a channel name starts with # and has no spaces, commas or colons", ch)
				}
			}
			if len(s.MOTD) == 1 && s.MOTD[0] == "" {
				s.MOTD = nil
			}
			if s.SendQ < irc.MaxLine {
				return service.Servers{}, fmt.Errorf("--sendq %d: must hold at least one line (%d bytes)", s.SendQ, irc.MaxLine)
			}
			if linePort < 0 || linePort > 65535 {
				return service.Servers{}, fmt.Errorf("--line-port %d is out of range (0-65535; 0: no line mode)", linePort)
			}
			s.Topic, s.Log = topic, rt.ConnLog
			return service.Servers{TCP: s, Extra: []service.ExtraServer{{Port: linePort, Server: s.Lines()}}}, nil
		},
		Check: func(ctx context.Context, addr string) error {
			if err := CheckIRC(ctx, addr); err != nil {
				return err
			}
			if linePort == 0 {
				return nil
			}
			host, _, _ := net.SplitHostPort(addr)
			la := net.JoinHostPort(host, strconv.Itoa(linePort))
			if err := service.CheckTCP(ctx, la); err != nil {
				return fmt.Errorf("line mode on %s: %w", la, err)
			}
			return nil
		},
		CheckFlags: lineFlag,
	}
}

func validServerName(n string) bool {
	if n == "" || len(n) > 63 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(isAlnum(c) || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// CheckIRC is the healthcheck: the server at addr answers a PING with a PONG
// before registration.
func CheckIRC(ctx context.Context, addr string) error {
	c, err := service.DialCheck(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "PING :healthcheck\r\nQUIT\r\n"); err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(c, 4096))
	if strings.Contains(string(b), " PONG ") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("no PONG: %w", err)
	}
	return fmt.Errorf("no PONG in %q", b)
}
