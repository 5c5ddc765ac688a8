package chat

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"socketlab/services/chat/irc"
)

// TopicLen is the longest topic kept; a longer one is cut.
const TopicLen = 390

// maxTargets is how many comma-separated targets one PRIVMSG may name.
const maxTargets = 4

type command struct {
	fn func(c *client, m *irc.Message) error
	// min is the parameter count below which the server answers 461;
	// commands with their own "missing" numerics (411, 431) have 0.
	min int
	// early commands are allowed before registration.
	early bool
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"CAP":      {cmdCap, 1, true},
		"PASS":     {cmdPass, 1, true},
		"NICK":     {cmdNick, 0, true},
		"USER":     {cmdUser, 4, true},
		"PING":     {cmdPing, 0, true},
		"PONG":     {func(*client, *irc.Message) error { return nil }, 0, true},
		"QUIT":     {cmdQuit, 0, true},
		"JOIN":     {cmdJoin, 1, false},
		"PART":     {cmdPart, 1, false},
		"PRIVMSG":  {cmdMessage, 0, false},
		"NOTICE":   {cmdMessage, 0, false},
		"NAMES":    {cmdNames, 0, false},
		"TOPIC":    {cmdTopic, 1, false},
		"LIST":     {cmdList, 0, false},
		"WHO":      {cmdWho, 0, false},
		"WHOIS":    {cmdWhois, 0, false},
		"MODE":     {cmdMode, 1, false},
		"AWAY":     {cmdAway, 0, false},
		"ISON":     {cmdIson, 1, false},
		"USERHOST": {cmdUserhost, 1, false},
		"MOTD":     {func(c *client, _ *irc.Message) error { c.motd(); return nil }, 0, false},
		"LUSERS":   {func(c *client, _ *irc.Message) error { c.lusers(); return nil }, 0, false},
	}
}

// handleLine parses and runs one line; an error ends the connection.
func (c *client) handleLine(line []byte) error {
	m, err := irc.Parse(string(line))
	if err != nil {
		if errors.Is(err, irc.ErrCommand) {
			if !c.registered {
				c.num("451", "You have not registered")
			} else {
				c.num("421", m.Command, "Unknown command")
			}
		}
		return nil // empty lines and NUL bytes: ignored, as servers do
	}
	cmd, ok := commands[m.Command]
	switch {
	case !c.registered && !cmd.early:
		c.num("451", "You have not registered")
	case !ok:
		c.num("421", m.Command, "Unknown command")
	case len(m.Params) < cmd.min:
		c.num("461", m.Command, "Not enough parameters")
	default:
		return cmd.fn(c, &m)
	}
	return nil
}

// num sends a numeric reply: the server as prefix, the client's nick (or *)
// as first parameter, then params, the last one as trailing text.
func (c *client) num(code string, params ...string) {
	target := c.nick
	if target == "" {
		target = "*"
	}
	c.send(encode(c.srv.Name, code, true, append([]string{target}, params...)...))
}

func (c *client) setPrefix() { c.prefix = c.nick + "!" + c.user + "@" + c.host }

// peers calls f once for every client that shares a channel with c, c
// excluded. srv.mu is held.
func (c *client) peers(f func(*client)) {
	if len(c.chans) == 1 {
		for ch := range c.chans {
			for m := range ch.members {
				if m != c {
					f(m)
				}
			}
		}
		return
	}
	seen := map[*client]bool{c: true}
	for ch := range c.chans {
		for m := range ch.members {
			if !seen[m] {
				seen[m] = true
				f(m)
			}
		}
	}
}

func cmdCap(c *client, m *irc.Message) error {
	target := c.nick
	if target == "" {
		target = "*"
	}
	sub := strings.ToUpper(m.Params[0])
	switch sub {
	case "LS", "LIST":
		// No capabilities: a client that asks still registers after CAP END.
		if sub == "LS" && !c.registered {
			c.capNeg = true
		}
		c.send(encode(c.srv.Name, "CAP", true, target, sub, ""))
	case "REQ":
		c.send(encode(c.srv.Name, "CAP", true, target, "NAK", m.Param(1)))
	case "END":
		c.capNeg = false
		c.register()
	default:
		c.num("410", m.Params[0], "Invalid CAP command")
	}
	return nil
}

func cmdPass(c *client, _ *irc.Message) error {
	if c.registered {
		c.num("462", "You may not reregister")
	}
	return nil // no passwords in the lab
}

func cmdNick(c *client, m *irc.Message) error {
	nick := m.Param(0)
	if nick == "" {
		c.num("431", "No nickname given")
		return nil
	}
	if !irc.ValidNick(nick) {
		c.num("432", nick, "Erroneous nickname")
		return nil
	}
	s := c.srv
	key := irc.Fold(nick)
	s.mu.Lock()
	if other, ok := s.nicks[key]; ok && other != c {
		s.mu.Unlock()
		c.num("433", nick, "Nickname is already in use")
		return nil
	}
	if nick == c.nick {
		s.mu.Unlock()
		return nil
	}
	old := c.prefix
	if c.nick != "" {
		delete(s.nicks, irc.Fold(c.nick))
	}
	s.nicks[key] = c
	c.nick = nick
	c.setPrefix()
	if c.registered {
		b := encode(old, "NICK", true, nick)
		c.send(b)
		c.peers(func(p *client) { p.send(b) })
	}
	s.mu.Unlock()
	c.register()
	return nil
}

func cmdUser(c *client, m *irc.Message) error {
	if c.registered {
		c.num("462", "You may not reregister")
		return nil
	}
	// "~" says the user name was not verified (no ident), as servers show it.
	user := "~" + strings.Map(func(r rune) rune {
		if r < 0x80 && (isAlnum(byte(r)) || strings.ContainsRune("-_.[]{}\\`^|", r)) {
			return r
		}
		return -1
	}, m.Params[0])
	if user == "~" {
		user = "~user"
	}
	c.srv.mu.Lock()
	c.user, c.realname = user[:min(len(user), 11)], m.Params[3]
	c.setPrefix()
	c.srv.mu.Unlock()
	c.register()
	return nil
}

// register completes registration once NICK and USER are in (and CAP
// negotiation, if the client started one, is over): the welcome burst.
func (c *client) register() {
	if c.registered || c.nick == "" || c.user == "" || c.capNeg {
		return
	}
	s := c.srv
	s.mu.Lock()
	c.registered = true
	s.users++
	s.mu.Unlock()
	c.num("001", "Welcome to the socketlab IRC network, "+c.prefix)
	c.num("002", "Your host is "+s.Name+", running version "+Version)
	c.num("003", "This server was created "+s.created.UTC().Format(time.RFC1123))
	c.num("004", s.Name, Version, "iw", "n")
	c.num("005", "CASEMAPPING=rfc1459", "CHANTYPES=#", "CHANLIMIT=#:"+strconv.Itoa(s.MaxChannels),
		"CHANNELLEN="+strconv.Itoa(irc.ChannelLen), "NICKLEN="+strconv.Itoa(irc.NickLen),
		"TOPICLEN="+strconv.Itoa(TopicLen), "MAXTARGETS="+strconv.Itoa(maxTargets),
		"CHANMODES=,,,n", "NETWORK=socketlab", "are supported by this server")
	c.lusers()
	c.motd()
}

func (c *client) lusers() {
	s := c.srv
	s.mu.RLock()
	users, chans := s.users, len(s.channels)
	s.mu.RUnlock()
	c.num("251", "There are "+strconv.Itoa(users)+" users and 0 invisible on 1 servers")
	c.num("254", strconv.Itoa(chans), "channels formed")
	c.num("255", "I have "+strconv.Itoa(users)+" clients and 0 servers")
}

func (c *client) motd() {
	s := c.srv
	if len(s.MOTD) == 0 {
		c.num("422", "MOTD File is missing")
		return
	}
	c.num("375", "- "+s.Name+" Message of the day - ")
	r := strings.NewReplacer("{addr}", c.addr, "{family}", c.family)
	for _, l := range s.MOTD {
		c.num("372", "- "+r.Replace(l))
	}
	c.num("376", "End of /MOTD command.")
}

func cmdPing(c *client, m *irc.Message) error {
	if len(m.Params) == 0 || m.Params[0] == "" {
		c.num("409", "No origin specified")
		return nil
	}
	c.send(encode(c.srv.Name, "PONG", true, c.srv.Name, m.Params[0]))
	return nil
}

func cmdQuit(c *client, m *irc.Message) error {
	c.quitMsg = "Client Quit"
	if r := m.Param(0); r != "" {
		c.quitMsg = "Quit: " + r
	}
	return errQuit
}

func cmdJoin(c *client, m *irc.Message) error {
	if m.Params[0] == "0" {
		c.srv.mu.Lock()
		for ch := range c.chans {
			c.partLocked(ch, "Left all channels")
		}
		c.srv.mu.Unlock()
		return nil
	}
	for _, name := range strings.Split(m.Params[0], ",") {
		if name == "" {
			continue
		}
		if !irc.ValidChannel(name) {
			c.num("403", name, "No such channel")
			continue
		}
		c.join(name)
	}
	return nil
}

func (c *client) join(name string) {
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[irc.Fold(name)]
	if ch != nil {
		if _, in := ch.members[c]; in {
			return
		}
	}
	if len(c.chans) >= s.MaxChannels {
		c.num("405", name, "You have joined too many channels")
		return
	}
	if ch == nil {
		if len(s.channels) >= s.MaxServerChannels {
			c.num("405", name, "The server has as many channels as it may hold; join one that exists (LIST)")
			return
		}
		ch = s.newChannel(name)
	}
	ch.members[c] = struct{}{}
	if c.chans == nil {
		c.chans = make(map[*channel]struct{})
	}
	c.chans[ch] = struct{}{}
	b := encode(c.prefix, "JOIN", false, ch.name)
	for m := range ch.members {
		m.send(b)
	}
	if ch.topic != "" {
		c.num("332", ch.name, ch.topic)
		c.num("333", ch.name, ch.topicBy, strconv.FormatInt(ch.topicAt.Unix(), 10))
	}
	c.namesLocked(ch)
}

// namesLocked sends RPL_NAMREPLY lines, as many nicks per line as fit in
// 512 bytes, then RPL_ENDOFNAMES. srv.mu is held.
func (c *client) namesLocked(ch *channel) {
	nicks := make([]string, 0, len(ch.members))
	for m := range ch.members {
		nicks = append(nicks, m.nick)
	}
	slices.Sort(nicks)
	head := ":" + c.srv.Name + " 353 " + c.nick + " = " + ch.name + " :"
	line := []byte(head)
	for _, n := range nicks {
		if len(line) > len(head) && len(line)+1+len(n)+2 > irc.MaxLine {
			c.send(append(line, '\r', '\n'))
			line = []byte(head)
		}
		if len(line) > len(head) {
			line = append(line, ' ')
		}
		line = append(line, n...)
	}
	if len(line) > len(head) {
		c.send(append(line, '\r', '\n'))
	}
	c.num("366", ch.name, "End of /NAMES list")
}

func cmdPart(c *client, m *irc.Message) error {
	s := c.srv
	for _, name := range strings.Split(m.Params[0], ",") {
		if name == "" {
			continue
		}
		s.mu.Lock()
		ch := s.channels[irc.Fold(name)]
		switch {
		case ch == nil:
			c.num("403", name, "No such channel")
		case !ch.has(c):
			c.num("442", ch.name, "You're not on that channel")
		default:
			c.partLocked(ch, m.Param(1))
		}
		s.mu.Unlock()
	}
	return nil
}

func (ch *channel) has(c *client) bool {
	_, ok := ch.members[c]
	return ok
}

// partLocked announces that c leaves ch (to c too) and removes it.
// srv.mu is held.
func (c *client) partLocked(ch *channel, reason string) {
	var b []byte
	if reason != "" {
		b = encode(c.prefix, "PART", true, ch.name, reason)
	} else {
		b = encode(c.prefix, "PART", false, ch.name)
	}
	for m := range ch.members {
		m.send(b)
	}
	delete(ch.members, c)
	delete(c.chans, ch)
	c.srv.dropIfEmpty(ch)
}

func cmdMessage(c *client, m *irc.Message) error {
	notice := m.Command == "NOTICE" // a NOTICE never causes an automatic reply
	if len(m.Params) == 0 || m.Params[0] == "" {
		if !notice {
			c.num("411", "No recipient given ("+m.Command+")")
		}
		return nil
	}
	if len(m.Params) < 2 || m.Params[1] == "" {
		if !notice {
			c.num("412", "No text to send")
		}
		return nil
	}
	if !notice {
		c.lastSpoke.Store(time.Now().UnixNano())
	}
	for i, t := range strings.Split(m.Params[0], ",") {
		switch {
		case i >= maxTargets:
			if !notice {
				c.num("407", t, "Too many recipients")
			}
		case irc.IsChannel(t):
			c.toChannel(m.Command, t, m.Params[1], notice)
		case t != "":
			c.toNick(m.Command, t, m.Params[1], notice)
		}
	}
	return nil
}

// toChannel is the hot path: the line is encoded once, and the same bytes
// are queued to every member but the sender.
func (c *client) toChannel(cmd, target, text string, notice bool) {
	s := c.srv
	s.mu.RLock()
	defer s.mu.RUnlock()
	ch := s.channels[irc.Fold(target)]
	if ch == nil {
		if !notice {
			c.num("401", target, "No such nick/channel")
		}
		return
	}
	if !ch.has(c) {
		if !notice {
			c.num("404", ch.name, "Cannot send to channel")
		}
		return
	}
	b := encode(c.prefix, cmd, true, ch.name, text)
	for m := range ch.members {
		if m != c {
			m.send(b)
		}
	}
}

func (c *client) toNick(cmd, target, text string, notice bool) {
	s := c.srv
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.nicks[irc.Fold(target)]
	if u == nil || !u.registered {
		if !notice {
			c.num("401", target, "No such nick/channel")
		}
		return
	}
	u.send(encode(c.prefix, cmd, true, u.nick, text))
	if u.away != "" && !notice {
		c.num("301", u.nick, u.away)
	}
}

func cmdNames(c *client, m *irc.Message) error {
	s := c.srv
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(m.Params) == 0 || m.Params[0] == "" {
		names := make([]string, 0, len(s.channels))
		for _, ch := range s.channels {
			names = append(names, ch.name)
		}
		slices.Sort(names)
		for _, n := range names {
			ch := s.channels[irc.Fold(n)]
			if len(ch.members) > 0 {
				c.namesLocked(ch)
			}
		}
		return nil
	}
	for _, name := range strings.Split(m.Params[0], ",") {
		if ch := s.channels[irc.Fold(name)]; ch != nil {
			c.namesLocked(ch)
		} else {
			c.num("366", name, "End of /NAMES list")
		}
	}
	return nil
}

func cmdTopic(c *client, m *irc.Message) error {
	s := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[irc.Fold(m.Params[0])]
	switch {
	case ch == nil:
		c.num("403", m.Params[0], "No such channel")
	case len(m.Params) == 1 && ch.topic == "":
		c.num("331", ch.name, "No topic is set")
	case len(m.Params) == 1:
		c.num("332", ch.name, ch.topic)
		c.num("333", ch.name, ch.topicBy, strconv.FormatInt(ch.topicAt.Unix(), 10))
	case !ch.has(c):
		c.num("442", ch.name, "You're not on that channel")
	default:
		topic := m.Params[1]
		if len(topic) > TopicLen {
			topic = topic[:runeStart(topic, TopicLen)]
		}
		ch.topic, ch.topicBy, ch.topicAt = topic, c.nick, time.Now()
		b := encode(c.prefix, "TOPIC", true, ch.name, topic)
		for m := range ch.members {
			m.send(b)
		}
	}
	return nil
}

// listChunk is how many 322 lines LIST queues before it waits for the
// client to take them.
const listChunk = 64

// cmdList answers LIST lazily, as real servers do: the channel names are
// taken at once, but their lines are queued a chunk at a time, each only
// once the client has taken most of the one before, so that a long list
// never passes SendQ and costs the server one chunk of memory at a time.
func cmdList(c *client, m *irc.Message) error {
	s := c.srv
	var names []string
	s.mu.RLock()
	if m.Param(0) == "" {
		names = make([]string, 0, len(s.channels))
		for key := range s.channels {
			names = append(names, key)
		}
	} else {
		for _, name := range strings.Split(m.Params[0], ",") {
			if s.channels[irc.Fold(name)] != nil {
				names = append(names, irc.Fold(name))
			}
		}
	}
	s.mu.RUnlock()
	slices.Sort(names)
	names = slices.Compact(names)
	c.num("321", "Channel", "Users  Name")
	for len(names) > 0 {
		chunk := names[:min(listChunk, max(1, s.SendQ/(4*irc.MaxLine)), len(names))]
		names = names[len(chunk):]
		s.mu.RLock()
		for _, key := range chunk {
			if ch := s.channels[key]; ch != nil { // it may have gone meanwhile
				c.num("322", ch.name, strconv.Itoa(len(ch.members)), ch.topic)
			}
		}
		s.mu.RUnlock()
		if len(names) > 0 && !c.waitRoom() {
			return nil // cut off meanwhile: the reader sees it next
		}
	}
	c.num("323", "End of /LIST")
	return nil
}

func cmdWho(c *client, m *irc.Message) error {
	s := c.srv
	mask := m.Param(0)
	s.mu.RLock()
	var users []*client
	where := "*"
	switch {
	case irc.IsChannel(mask):
		if ch := s.channels[irc.Fold(mask)]; ch != nil {
			where = ch.name
			for u := range ch.members {
				users = append(users, u)
			}
		}
	case mask == "" || mask == "*" || mask == "0":
		for _, u := range s.nicks {
			if u.registered {
				users = append(users, u)
			}
		}
	default:
		if u := s.nicks[irc.Fold(mask)]; u != nil && u.registered {
			users = append(users, u)
		}
	}
	slices.SortFunc(users, func(a, b *client) int { return strings.Compare(a.nick, b.nick) })
	for _, u := range users {
		flags := "H"
		if u.away != "" {
			flags = "G"
		}
		c.num("352", where, u.user, u.host, s.Name, u.nick, flags, "0 "+u.realname)
	}
	s.mu.RUnlock()
	if mask == "" {
		mask = "*"
	}
	c.num("315", mask, "End of WHO list")
	return nil
}

func cmdWhois(c *client, m *irc.Message) error {
	if len(m.Params) == 0 || m.Params[len(m.Params)-1] == "" {
		c.num("431", "No nickname given")
		return nil
	}
	s := c.srv
	for _, nick := range strings.Split(m.Params[len(m.Params)-1], ",") {
		s.mu.RLock()
		u := s.nicks[irc.Fold(nick)]
		if u == nil || !u.registered {
			s.mu.RUnlock()
			c.num("401", nick, "No such nick/channel")
			c.num("318", nick, "End of /WHOIS list")
			continue
		}
		c.num("311", u.nick, u.user, u.host, "*", u.realname)
		c.num("378", u.nick, "is connecting from "+u.addr+" over "+u.family)
		var chans []string
		for ch := range u.chans {
			chans = append(chans, ch.name)
		}
		if len(chans) > 0 {
			slices.Sort(chans)
			c.num("319", u.nick, strings.Join(chans, " "))
		}
		c.num("312", u.nick, s.Name, "socketlab chat")
		if u.away != "" {
			c.num("301", u.nick, u.away)
		}
		idle := time.Since(u.start)
		if t := u.lastSpoke.Load(); t != 0 {
			idle = time.Since(time.Unix(0, t))
		}
		c.num("317", u.nick, strconv.Itoa(int(idle.Seconds())), strconv.FormatInt(u.start.Unix(), 10), "seconds idle, signon time")
		c.num("318", u.nick, "End of /WHOIS list")
		s.mu.RUnlock()
	}
	return nil
}

func cmdMode(c *client, m *irc.Message) error {
	s := c.srv
	target := m.Params[0]
	if irc.IsChannel(target) {
		s.mu.RLock()
		ch := s.channels[irc.Fold(target)]
		var name string
		var created time.Time
		if ch != nil {
			name, created = ch.name, ch.created
		}
		s.mu.RUnlock()
		switch {
		case ch == nil:
			c.num("403", target, "No such channel")
		case len(m.Params) == 1:
			c.num("324", name, "+n")
			c.num("329", name, strconv.FormatInt(created.Unix(), 10))
		case len(m.Params) == 2 && strings.TrimLeft(m.Params[1], "+") == "b":
			c.num("368", name, "End of channel ban list")
		case len(m.Params) == 2 && strings.TrimLeft(m.Params[1], "+") == "e":
			c.num("349", name, "End of channel exception list")
		case len(m.Params) == 2 && strings.TrimLeft(m.Params[1], "+") == "I":
			c.num("347", name, "End of channel invite list")
		default:
			c.num("482", name, "You're not channel operator")
		}
		return nil
	}
	if irc.Fold(target) != irc.Fold(c.nick) {
		s.mu.RLock()
		_, ok := s.nicks[irc.Fold(target)]
		s.mu.RUnlock()
		if ok {
			c.num("502", "Can't change mode for other users")
		} else {
			c.num("401", target, "No such nick/channel")
		}
		return nil
	}
	if len(m.Params) == 1 {
		c.num("221", "+"+c.modes)
		return nil
	}
	add, unknown := true, false
	var changed strings.Builder
	sign := byte(0)
	modes := c.modes
	for i := 0; i < len(m.Params[1]); i++ {
		f := m.Params[1][i]
		switch {
		case f == '+' || f == '-':
			add = f == '+'
		case f == 'i' || f == 'w':
			has := strings.IndexByte(modes, f) >= 0
			if add == has {
				continue
			}
			if add {
				modes += string(f)
			} else {
				modes = strings.ReplaceAll(modes, string(f), "")
			}
			if sg := signOf(add); sg != sign {
				changed.WriteByte(sg)
				sign = sg
			}
			changed.WriteByte(f)
		default:
			unknown = true
		}
	}
	if unknown {
		c.num("501", "Unknown MODE flag")
	}
	if changed.Len() > 0 {
		s.mu.Lock()
		c.modes = modes
		s.mu.Unlock()
		c.send(encode(c.prefix, "MODE", true, c.nick, changed.String()))
	}
	return nil
}

func signOf(add bool) byte {
	if add {
		return '+'
	}
	return '-'
}

func cmdAway(c *client, m *irc.Message) error {
	msg := m.Param(0)
	c.srv.mu.Lock()
	c.away = msg
	c.srv.mu.Unlock()
	if msg == "" {
		c.num("305", "You are no longer marked as being away")
	} else {
		c.num("306", "You have been marked as being away")
	}
	return nil
}

func cmdIson(c *client, m *irc.Message) error {
	s := c.srv
	var on []string
	s.mu.RLock()
	for _, p := range m.Params {
		for _, n := range strings.Fields(p) {
			if u := s.nicks[irc.Fold(n)]; u != nil && u.registered {
				on = append(on, u.nick)
			}
		}
	}
	s.mu.RUnlock()
	c.num("303", strings.Join(on, " "))
	return nil
}

func cmdUserhost(c *client, m *irc.Message) error {
	s := c.srv
	var out []string
	s.mu.RLock()
	for _, n := range m.Params[:min(len(m.Params), 5)] {
		if u := s.nicks[irc.Fold(n)]; u != nil && u.registered {
			away := "+"
			if u.away != "" {
				away = "-"
			}
			out = append(out, u.nick+"="+away+u.user+"@"+u.host)
		}
	}
	s.mu.RUnlock()
	c.num("302", strings.Join(out, " "))
	return nil
}
