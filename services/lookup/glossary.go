package lookup

import (
	"slices"
	"strings"
	"unicode/utf8"

	"socketlab/internal/spelling"
)

// Glossary answers "search" requests: networking terms and their
// definitions. Lookups ignore case, and treat spaces, hyphens and
// underscores alike ("Dual-Stack" finds "dual stack").
type Glossary struct {
	index map[string]int // normalized name or alias -> entry
	exact map[string]int // name or alias as written -> entry, to skip normalizing
	terms []Entry
}

// Entry is one glossary term with its other names.
type Entry struct {
	Term       string
	Aliases    []string
	Definition string
}

// NewGlossary indexes entries by term and alias. A later entry does not
// override an earlier one with the same name.
func NewGlossary(entries []Entry) *Glossary {
	g := &Glossary{index: make(map[string]int), exact: make(map[string]int), terms: entries}
	for i, e := range entries {
		for _, name := range append([]string{e.Term}, e.Aliases...) {
			if _, dup := g.index[normalize(name)]; !dup {
				g.index[normalize(name)] = i
				g.exact[name] = i
			}
		}
	}
	return g
}

// Lookup returns the entry for term, if any.
func (g *Glossary) Lookup(term string) (Entry, bool) {
	i, ok := g.find(term)
	if !ok {
		return Entry{}, false
	}
	return g.terms[i], true
}

func (g *Glossary) find(term string) (int, bool) {
	if i, ok := g.exact[term]; ok {
		return i, true
	}
	i, ok := g.index[normalize(term)]
	return i, ok
}

// Terms lists the glossary's terms (not aliases), sorted without regard to case.
func (g *Glossary) Terms() []string {
	out := make([]string, len(g.terms))
	for i, e := range g.terms {
		out[i] = e.Term
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	return out
}

// Suggest returns the term whose name or alias is closest to the unknown
// term q, or "" when nothing is close. Close means a likely typo: one edit
// for a word of 3 to 5 letters and two for a longer one, and the same first
// letter (a typo rarely hits it, and "ring" is not "ping"); or q is the
// start of the name.
func (g *Glossary) Suggest(q string) string {
	q = normalize(q)
	if q == "" {
		return ""
	}
	n := utf8.RuneCountInString(q)
	maxEdits := 0
	switch {
	case n >= 6:
		maxEdits = 2
	case n >= 3:
		maxEdits = 1
	}
	// Scores in half edits: a prefix match counts as one and a half.
	best, bestScore := "", max(2*maxEdits, 3)+1
	for name, i := range g.index {
		score := 2 * spelling.Distance(q, name)
		switch {
		case n >= 3 && strings.HasPrefix(name, q):
			score = min(score, 3)
		case score > 2*maxEdits || !sameFirst(q, name):
			continue // not a typo of this name
		}
		term := g.terms[i].Term
		if score < bestScore || score == bestScore && term < best {
			best, bestScore = term, score
		}
	}
	return best
}

// sameFirst reports whether a and b start with the same letter.
func sameFirst(a, b string) bool {
	ra, _ := utf8.DecodeRuneInString(a)
	rb, _ := utf8.DecodeRuneInString(b)
	return ra == rb
}

// normalize folds case and treats runs of spaces, hyphens and underscores
// as one space.
func normalize(s string) string {
	f := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return r == ' ' || r == '-' || r == '_' || r == '\t'
	})
	return strings.Join(f, " ")
}

// TutorialTerms are the search terms of the tutorial's own server
// (app-server.py's request_search), answered as it answers them, so that
// its client's examples work against this server too.
var TutorialTerms = []Entry{
	{"morpheus", nil, "Follow the white rabbit. \U0001f430"},
	{"ring", nil, "In the caves beneath the Misty Mountains. \U0001f48d"},
	{"\U0001f436", nil, "\U0001f43e Playing ball! \U0001f3d0"},
}

// DefaultGlossary is the built-in glossary: networking terms, then the
// tutorial's own terms.
var DefaultGlossary = NewGlossary(append(slices.Clone(networkTerms), TutorialTerms...))

// networkTerms are the glossary's networking terms.
var networkTerms = []Entry{
	{"TCP", []string{"Transmission Control Protocol"},
		"TCP (Transmission Control Protocol) gives two programs a reliable, ordered byte stream over IP: it numbers every byte, resends what is lost and slows down when the network is congested. It keeps no message boundaries, so framing, like this protocol's length prefix, is the application's job."},
	{"UDP", []string{"User Datagram Protocol"},
		"UDP (User Datagram Protocol) carries independent datagrams over IP with little more than two ports and a checksum: no connection, no resending, no ordering. A datagram arrives whole or not at all, so message boundaries survive."},
	{"IP", []string{"Internet Protocol"},
		"IP (Internet Protocol) moves packets from a source address to a destination address, router by router, without promising delivery. TCP and UDP run on top of it; IPv4 and IPv6 are its two versions in use."},
	{"IPv4", []string{"IP version 4"},
		"IPv4 addresses are 32 bits, written as four decimal bytes such as 192.0.2.10. There are about four billion of them, too few for every device, which is why address translation (NAT) is everywhere."},
	{"IPv6", []string{"IP version 6"},
		"IPv6 addresses are 128 bits, written as eight groups of hex digits with :: standing for one run of zero groups, such as 2001:db8::1. Next to a port the address goes in brackets: [::1]:65432."},
	{"port", []string{"port number"},
		"A port is a 16-bit number (0 to 65535) that selects one socket among those on an address. The protocol, the two addresses and the two ports together name a connection. This server listens on TCP port 65432."},
	{"socket", nil,
		"A socket is the operating system's endpoint for network traffic. A server creates one, binds it to an address and port, listens and accepts connections; a client creates one and connects. Both then read and write bytes through it."},
	{"loopback", []string{"loopback interface", "127.0.0.1", "::1"},
		"The loopback interface hands packets straight back to the same host without touching a network card: 127.0.0.0/8 for IPv4 (usually 127.0.0.1) and ::1 for IPv6. It is the quickest way to try a server and a client on one machine."},
	{"localhost", nil,
		"localhost is the host name of the loopback addresses. It usually resolves to both ::1 and 127.0.0.1, so a client trying every address may reach a server over either family."},
	{"dual stack", []string{"dual-stack socket"},
		"A dual-stack host runs IPv4 and IPv6 side by side. A dual-stack listening socket (IPv6, with IPV6_V6ONLY off) accepts both families; IPv4 clients then show up as IPv4-mapped addresses such as ::ffff:192.0.2.10."},
	{"IPv4-mapped address", []string{"mapped address", "::ffff:"},
		"::ffff:a.b.c.d is how a dual-stack IPv6 socket shows an IPv4 peer. The traffic on the wire is plain IPv4; only the notation is IPv6, so a careful server unmaps it before reporting the family."},
	{"address family", []string{"AF_INET", "AF_INET6", "family"},
		"The address family is chosen when a socket is created, AF_INET for IPv4 or AF_INET6 for IPv6, and fixes which addresses the socket can use."},
	{"DNS", []string{"Domain Name System", "name resolution"},
		"DNS (Domain Name System) turns names into addresses. A records hold IPv4 addresses, AAAA records IPv6 ones. A robust client tries each address it gets, in order, until one connects."},
	{"A record", nil,
		"An A record maps a DNS name to one IPv4 address. A name may have several, and no A record at all when it is reachable over IPv6 only."},
	{"AAAA record", []string{"quad A"},
		"An AAAA record maps a DNS name to one IPv6 address (four times the size of an A record's address, hence the name)."},
	{"bind", nil,
		"bind gives a socket its local address and port. Binding to 0.0.0.0 or :: means every address of the host; port 0 asks the system for any free port."},
	{"listen", nil,
		"listen turns a bound TCP socket into a listening one. The kernel then completes handshakes on its own and queues the new connections until the program accepts them."},
	{"backlog", nil,
		"The backlog is the argument of listen: how many completed connections may wait to be accepted. When the queue is full, new handshakes are dropped or delayed."},
	{"accept", nil,
		"accept takes the next waiting connection from a listening socket and returns a new socket for it. The listening socket goes on listening for more."},
	{"connect", nil,
		"connect opens a TCP connection to a remote address and port with the three-way handshake; on a UDP socket it only fixes the peer. It fails with 'connection refused' when nothing listens there."},
	{"three-way handshake", []string{"handshake", "TCP handshake"},
		"A TCP connection opens with three segments: SYN from the client, SYN-ACK from the server, ACK from the client. Each side announces its first sequence number and acknowledges the other's."},
	{"SYN", nil,
		"SYN (synchronize) is the TCP flag that opens a connection and carries the sender's initial sequence number."},
	{"ACK", []string{"acknowledgment", "acknowledgement"},
		"ACK (acknowledgment) is the TCP flag that confirms receipt: its number is the next byte the receiver expects. Nearly every segment after the handshake carries it."},
	{"FIN", nil,
		"FIN (finish) is the TCP flag a side sends when it has nothing more to write. The peer then reads end of file; the connection is closed once both sides have sent FIN."},
	{"RST", []string{"reset", "connection reset"},
		"RST (reset) aborts a TCP connection at once. A host sends it for a segment to a port where nothing listens, or when a program closes a socket with unread data in it."},
	{"half-close", []string{"shutdown"},
		"A half-close shuts one direction of a TCP connection: shutdown(SHUT_WR) sends FIN, yet the socket can still read, so the peer can finish answering. An echo client uses it to say 'that was all'."},
	{"TIME_WAIT", nil,
		"TIME_WAIT is the state the side that closed first keeps for a while (twice the maximum segment lifetime) after a TCP connection ends, so that late packets of the old connection cannot be mistaken for a new one's."},
	{"ephemeral port", nil,
		"An ephemeral port is the temporary local port the system picks for a client socket that did not bind one, on Linux from 32768 to 60999 by default."},
	{"connection refused", []string{"ECONNREFUSED"},
		"Connection refused means the remote host answered the SYN with RST: the host is up but nothing listens on that port. For UDP the same news comes back as an ICMP port unreachable."},
	{"timeout", nil,
		"A timeout is a program giving up waiting. With no answer at all, a lost packet, a firewall that drops traffic and a host that is down all look the same."},
	{"datagram", nil,
		"A datagram is a self-contained message sent on its own, as UDP does: each send is one datagram and each receive returns exactly one, or nothing when it was lost."},
	{"stream", []string{"byte stream", "SOCK_STREAM"},
		"A stream socket (SOCK_STREAM, TCP) delivers bytes in order but with no boundaries: one send may arrive as several reads, and several sends as one read."},
	{"framing", []string{"message framing", "length prefix"},
		"Framing marks where one message ends and the next begins on a byte stream: a delimiter such as a newline, or a length prefix like this protocol's 2-byte big-endian header length followed by a content-length in the header."},
	{"byte order", []string{"endianness", "network byte order", "big-endian", "little-endian"},
		"Byte order (endianness) is the order in which the bytes of a multi-byte number are stored or sent. Network byte order is big-endian, most significant byte first, as in this protocol's 2-byte length; most CPUs are little-endian."},
	{"MTU", []string{"maximum transmission unit"},
		"The MTU (maximum transmission unit) is the largest packet a link carries: 1500 bytes on Ethernet, 65536 on Linux loopback. TCP sizes its segments to fit."},
	{"MSS", []string{"maximum segment size"},
		"The MSS (maximum segment size) is the most TCP payload one segment may carry, announced in the SYN: the MTU minus the IP and TCP headers, 1460 bytes over IPv4 Ethernet."},
	{"Nagle's algorithm", []string{"Nagle", "TCP_NODELAY"},
		"Nagle's algorithm holds back small TCP segments while earlier data is unacknowledged, trading latency for fewer packets. TCP_NODELAY turns it off; Go sets it by default."},
	{"keep-alive", []string{"keepalive", "persistent connection"},
		"Keep-alive is using one connection for several requests instead of connecting for each. This server answers every request a connection carries until the client closes. (TCP keepalive is something else: empty probes that find out whether an idle peer still exists.)"},
	{"select", []string{"poll", "epoll", "selectors", "event loop"},
		"select, poll and epoll tell a program which of many sockets are ready to read or write, so one thread can serve many connections. The tutorial's server is built on Python's selectors module this way."},
	{"non-blocking socket", []string{"non-blocking", "O_NONBLOCK", "EWOULDBLOCK", "EAGAIN"},
		"A non-blocking socket returns at once from a read or write that cannot proceed, with EAGAIN (EWOULDBLOCK), instead of waiting. Event loops combine it with select or epoll."},
	{"EOF", []string{"end of file"},
		"End of file on a socket: a read returns 0 bytes because the peer sent FIN. Nothing more will arrive, though the socket may still be able to send."},
	{"NAT", []string{"network address translation"},
		"NAT (network address translation) rewrites addresses and ports as packets cross a router, letting many private hosts share one public IPv4 address. It is why an outside server sees the router's address, not yours."},
	{"ICMP", []string{"ICMPv6", "ping"},
		"ICMP carries the network's error and diagnostic messages: destination or port unreachable, time exceeded (which traceroute relies on), and the echo request and reply of ping."},
	{"TTL", []string{"hop limit", "time to live"},
		"The TTL (IPv4) or hop limit (IPv6) counts down at every router; a packet that reaches zero is dropped with an ICMP time exceeded, so routing loops cannot keep packets alive forever."},
	{"subnet", []string{"CIDR", "prefix", "netmask"},
		"A subnet is a block of addresses sharing a prefix, written in CIDR notation: 192.0.2.0/24 fixes the first 24 bits, fd00:1::/64 the first 64. Hosts in one subnet reach each other without a router."},
	{"ULA", []string{"unique local address", "fd00::/8"},
		"Unique local addresses (fc00::/7, in practice fd00::/8) are IPv6's private addresses, like 10.0.0.0/8 in IPv4. The lab's Docker networks use them."},
	{"link-local address", []string{"link-local", "fe80::", "169.254.0.0/16"},
		"Link-local addresses (169.254.0.0/16, fe80::/10) are valid on one link only; every IPv6 interface has one. Using one needs a zone naming the interface, as in fe80::1%eth0."},
	{"checksum", nil,
		"A checksum lets a receiver detect corrupted data. IPv4 checks its header, TCP and UDP their whole segment; UDP's checksum is optional over IPv4 and mandatory over IPv6."},
	{"flow control", []string{"receive window", "window"},
		"TCP flow control keeps a fast sender from overrunning a slow receiver: the receiver advertises a window, the bytes it can still buffer, and a peer that stops reading shrinks it to zero."},
	{"congestion control", nil,
		"Congestion control is how TCP guesses the network's capacity: it grows its sending rate until packets are lost or delayed, then backs off (Reno, CUBIC, BBR)."},
	{"SO_REUSEADDR", []string{"reuseaddr", "address already in use"},
		"SO_REUSEADDR lets a server bind its port again while connections from its previous run linger in TIME_WAIT; without it a restart fails with 'address already in use'."},
	{"JSON", []string{"JavaScript Object Notation"},
		"JSON is the text format of this protocol's header and of its text/json content: objects, arrays, strings, numbers, true, false and null, in UTF-8."},
	{"UTF-8", []string{"utf8", "unicode"},
		"UTF-8 encodes every Unicode character in one to four bytes, ASCII unchanged. This protocol's header is always UTF-8; its content says its own encoding in content-encoding."},
}
