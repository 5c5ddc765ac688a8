package ladder

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"socketlab/internal/packet"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	syn    = packet.SYN
	ack    = packet.ACK
	fin    = packet.FIN
	rst    = packet.RST
	psh    = packet.PSH
	isnC   = 1000
	isnS   = 5000
	greet4 = "Welcome to socketlab! You are 10.0.1.2:40000 over IPv4.\n"
)

// handshake puts SYN, SYN-ACK, ACK on l's wire.
func handshake(l *lab, c, s string) {
	l.send(seg{src: c, dst: s, flags: syn, seq: isnC})
	l.send(seg{src: s, dst: c, flags: syn | ack, seq: isnS, ack: isnC + 1})
	l.send(seg{src: c, dst: s, flags: ack, seq: isnC + 1, ack: isnS + 1})
}

// welcome is welcome's exchange: the greeting, the server's FIN, the client's.
func welcome(l *lab, c, s, greet string) {
	g := uint32(len(greet))
	handshake(l, c, s)
	l.send(seg{src: s, dst: c, flags: psh | ack, seq: isnS + 1, ack: isnC + 1, payload: greet})
	l.send(seg{src: s, dst: c, flags: fin | ack, seq: isnS + 1 + g, ack: isnC + 1})
	l.send(seg{src: c, dst: s, flags: fin | ack, seq: isnC + 1, ack: isnS + 2 + g})
	l.send(seg{src: s, dst: c, flags: ack, seq: isnS + 2 + g, ack: isnC + 2})
}

type ladderCase struct {
	name string
	pcap func(t *testing.T) []byte
	// states are each end's states, initial first, in order.
	statesA, statesB string
	close            string // "fin by b"
	retrans, lost    int
	dups             int
	incomplete       bool
	lanes            string // "A | B" lane names
	arrows           int
	icmp             string
}

// The states of welcome's ends: the server closes first.
const (
	welcomeA = "CLOSED SYN_SENT ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED"
	welcomeB = "LISTEN SYN_RECEIVED ESTABLISHED FIN_WAIT_1 TIME_WAIT"
)

func cases() []ladderCase {
	c4, s4 := "10.0.1.2:40000", "10.0.1.3:9999"
	c6, s6 := "[fd00::2]:40000", "[fd00::3]:9999"
	return []ladderCase{
		{
			name: "welcome-ipv4",
			pcap: func(t *testing.T) []byte {
				l := newLab(t, "client:lab", "welcome:lab", c4)
				welcome(l, c4, s4, greet4)
				return l.c.bytes()
			},
			statesA: welcomeA, statesB: welcomeB,
			close: "fin by b", lanes: "client | welcome", arrows: 7,
		},
		{
			name: "welcome-ipv6",
			pcap: func(t *testing.T) []byte {
				l := newLab(t, "client:lab", "welcome:lab", c6)
				welcome(l, c6, s6, "Welcome to socketlab! You are [fd00::2]:40000 over IPv6.\n")
				return l.c.bytes()
			},
			statesA: welcomeA, statesB: welcomeB,
			close: "fin by b", lanes: "client | welcome", arrows: 7,
		},
		{
			name: "client-speaks-first",
			pcap: func(t *testing.T) []byte {
				l := newLab(t, "client:lab", "welcome:lab", c4)
				hello := "hello before the greeting"
				h, g := uint32(len(hello)), uint32(len(greet4))
				handshake(l, c4, s4)
				l.send(seg{src: c4, dst: s4, flags: psh | ack, seq: isnC + 1, ack: isnS + 1, payload: hello})
				l.send(seg{src: s4, dst: c4, flags: psh | ack, seq: isnS + 1, ack: isnC + 1 + h, payload: greet4})
				l.send(seg{src: s4, dst: c4, flags: fin | ack, seq: isnS + 1 + g, ack: isnC + 1 + h})
				l.send(seg{src: c4, dst: s4, flags: fin | ack, seq: isnC + 1 + h, ack: isnS + 2 + g})
				l.send(seg{src: s4, dst: c4, flags: ack, seq: isnS + 2 + g, ack: isnC + 2 + h})
				return l.c.bytes()
			},
			statesA: welcomeA, statesB: welcomeB,
			close: "fin by b", lanes: "client | welcome", arrows: 8,
		},
		{
			name: "echo-half-close",
			pcap: func(t *testing.T) []byte {
				e := "10.0.1.3:7"
				l := newLab(t, "client:lab", "echo:lab", c4)
				handshake(l, c4, e)
				l.send(seg{src: c4, dst: e, flags: psh | ack, seq: isnC + 1, ack: isnS + 1, payload: "ping\n"})
				l.send(seg{src: c4, dst: e, flags: fin | ack, seq: isnC + 6, ack: isnS + 1})
				l.send(seg{src: e, dst: c4, flags: psh | ack, seq: isnS + 1, ack: isnC + 7, payload: "ping\n"})
				l.send(seg{src: e, dst: c4, flags: fin | ack, seq: isnS + 6, ack: isnC + 7})
				l.send(seg{src: c4, dst: e, flags: ack, seq: isnC + 7, ack: isnS + 7})
				return l.c.bytes()
			},
			statesA: "CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT",
			statesB: "LISTEN SYN_RECEIVED ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED",
			close:   "fin by a", lanes: "client | echo", arrows: 8,
		},
		{
			name: "lossy-link",
			pcap: func(t *testing.T) []byte {
				e := "10.0.1.3:7"
				l := newLab(t, "client:lab", "echo:lab", c4)
				handshake(l, c4, e)
				l.send(seg{src: c4, dst: e, flags: psh | ack, seq: isnC + 1, ack: isnS + 1, payload: "aaaa"}, true)
				l.send(seg{src: c4, dst: e, flags: psh | ack, seq: isnC + 5, ack: isnS + 1, payload: "bbbb"})
				l.send(seg{src: e, dst: c4, flags: ack, seq: isnS + 1, ack: isnC + 1})
				l.now = l.now.Add(200 * time.Millisecond)
				l.send(seg{src: c4, dst: e, flags: psh | ack, seq: isnC + 1, ack: isnS + 1, payload: "aaaa"})
				l.send(seg{src: e, dst: c4, flags: ack, seq: isnS + 1, ack: isnC + 9})
				return l.c.bytes()
			},
			statesA: "CLOSED SYN_SENT ESTABLISHED",
			statesB: "LISTEN SYN_RECEIVED ESTABLISHED",
			retrans: 1, lost: 1, lanes: "client | echo", arrows: 8,
		},
		{
			name: "lost-syn-ack",
			pcap: func(t *testing.T) []byte {
				// A fault drops the first SYN-ACK in the server's delay line,
				// before its capture: no capture point sees it. The client
				// sends its SYN again a second later; the server answers.
				l := newLab(t, "client:lab", "welcome:lab", c4)
				l.send(seg{src: c4, dst: s4, flags: syn, seq: isnC})
				l.now = l.now.Add(time.Second)
				l.send(seg{src: c4, dst: s4, flags: syn, seq: isnC})
				l.send(seg{src: s4, dst: c4, flags: syn | ack, seq: isnS, ack: isnC + 1})
				l.send(seg{src: c4, dst: s4, flags: ack, seq: isnC + 1, ack: isnS + 1})
				return l.c.bytes()
			},
			statesA: "CLOSED SYN_SENT ESTABLISHED",
			statesB: "LISTEN SYN_RECEIVED ESTABLISHED",
			retrans: 1, lanes: "client | welcome", arrows: 4,
		},
		{
			name: "capture-dropped",
			pcap: func(t *testing.T) []byte {
				// The same loss, but the receiver's capture reported drops
				// then: the capture is incomplete, nothing is lost.
				e := "10.0.1.3:7"
				l := newLab(t, "client:lab", "echo:lab", c4)
				handshake(l, c4, e)
				l.c.drops("echo:lab", l.now, 0)
				l.send(seg{src: c4, dst: e, flags: psh | ack, seq: isnC + 1, ack: isnS + 1, payload: "aaaa"}, true)
				l.send(seg{src: e, dst: c4, flags: ack, seq: isnS + 1, ack: isnC + 5})
				l.c.drops("echo:lab", l.now, 3)
				return l.c.bytes()
			},
			statesA:    "CLOSED SYN_SENT ESTABLISHED",
			statesB:    "LISTEN SYN_RECEIVED ESTABLISHED",
			incomplete: true, lanes: "client | echo", arrows: 5,
		},
		{
			name: "refused",
			pcap: func(t *testing.T) []byte {
				s := "10.0.1.3:9998"
				l := newLab(t, "client:lab", "welcome:lab", c4)
				l.send(seg{src: c4, dst: s, flags: syn, seq: isnC})
				l.send(seg{src: s, dst: c4, flags: rst | ack, seq: 0, ack: isnC + 1})
				return l.c.bytes()
			},
			statesA: "CLOSED SYN_SENT CLOSED",
			statesB: "CLOSED",
			close:   "rst by b", lanes: "client | welcome", arrows: 2,
		},
		{
			name: "rst-on-unread-data",
			pcap: func(t *testing.T) []byte {
				l := newLab(t, "client:lab", "server:lab", c4)
				s := "10.0.1.3:8000"
				handshake(l, c4, s)
				l.send(seg{src: c4, dst: s, flags: psh | ack, seq: isnC + 1, ack: isnS + 1, payload: "data the server never reads"})
				l.send(seg{src: s, dst: c4, flags: ack, seq: isnS + 1, ack: isnC + 28})
				l.send(seg{src: s, dst: c4, flags: rst | ack, seq: isnS + 1, ack: isnC + 28})
				return l.c.bytes()
			},
			statesA: "CLOSED SYN_SENT ESTABLISHED CLOSED",
			statesB: "LISTEN SYN_RECEIVED ESTABLISHED CLOSED",
			close:   "rst by b", lanes: "client | server", arrows: 6,
		},
		{
			name: "simultaneous-close",
			pcap: func(t *testing.T) []byte {
				l := newLab(t, "a:lab", "b:lab", c4)
				s := "10.0.1.3:8000"
				handshake(l, c4, s)
				// The FINs cross: each is sent before the other arrives.
				l.transit = 2 * time.Millisecond
				t1 := l.now
				sa := seg{src: c4, dst: s, flags: fin | ack, seq: isnC + 1, ack: isnS + 1, ipid: 50}
				sb := seg{src: s, dst: c4, flags: fin | ack, seq: isnS + 1, ack: isnC + 1, ipid: 51}
				l.at(t1, sa, ipPacket(t, sa), false)
				l.at(t1.Add(500*time.Microsecond), sb, ipPacket(t, sb), false)
				t2 := t1.Add(3 * time.Millisecond)
				aa := seg{src: c4, dst: s, flags: ack, seq: isnC + 2, ack: isnS + 2, ipid: 52}
				ab := seg{src: s, dst: c4, flags: ack, seq: isnS + 2, ack: isnC + 2, ipid: 53}
				l.at(t2, aa, ipPacket(t, aa), false)
				l.at(t2.Add(100*time.Microsecond), ab, ipPacket(t, ab), false)
				return l.c.bytes()
			},
			statesA: "CLOSED SYN_SENT ESTABLISHED FIN_WAIT_1 CLOSING TIME_WAIT",
			statesB: "LISTEN SYN_RECEIVED ESTABLISHED FIN_WAIT_1 CLOSING TIME_WAIT",
			close:   "fin by a", lanes: "a | b", arrows: 7,
		},
		{
			name: "udp-port-unreachable-ipv4",
			pcap: func(t *testing.T) []byte {
				l := newLab(t, "client:lab", "responder:lab", c4)
				ip := l.send(seg{src: c4, dst: "10.0.1.3:9998", udp: true, payload: "anyone there?"})
				l.at(l.now, seg{src: "10.0.1.3:9998"}, icmpError(t, "10.0.1.3", ip), false)
				return l.c.bytes()
			},
			lanes: "client | responder", arrows: 2, icmp: "port unreachable",
		},
		{
			name: "udp-port-unreachable-ipv6",
			pcap: func(t *testing.T) []byte {
				l := newLab(t, "client:lab", "responder:lab", c6)
				ip := l.send(seg{src: c6, dst: "[fd00::3]:9998", udp: true, payload: "anyone there?"})
				l.at(l.now, seg{src: "[fd00::3]:9998"}, icmpError(t, "fd00::3", ip), false)
				return l.c.bytes()
			},
			lanes: "client | responder", arrows: 2, icmp: "port unreachable",
		},
		{
			name: "tshark-any-sll2",
			pcap: func(t *testing.T) []byte {
				// tshark -i any on the host: each packet once on the
				// sender's bridge port, once on the receiver's.
				return cooked(t, layers.LinkTypeLinuxSLL2, true)
			},
			statesA: welcomeA, statesB: welcomeB,
			close: "fin by b", lanes: "10.0.1.2:40000 | 10.0.1.3:9999", arrows: 7,
		},
		{
			name: "tcpdump-any-sll-pcap",
			pcap: func(t *testing.T) []byte {
				return cooked(t, layers.LinkTypeLinuxSLL, false)
			},
			statesA: welcomeA, statesB: welcomeB,
			close: "fin by b", lanes: "10.0.1.2:40000 | 10.0.1.3:9999", arrows: 7,
		},
	}
}

// cooked is welcome's exchange as a capture of "any" on the host sees it
// (SLL2 in pcapng as tshark writes it, or SLL in pcap as tcpdump does).
func cooked(t *testing.T, lt layers.LinkType, ng bool) []byte {
	c4, s4 := "10.0.1.2:40000", "10.0.1.3:9999"
	l := newLab(t, "x", "y", c4)
	welcome(l, c4, s4, greet4)
	l.c.bytes()
	r, err := pcapgo.NewNgReader(bytes.NewReader(l.c.buf.Bytes()), pcapgo.NgReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	var write func(ci gopacket.CaptureInfo, data []byte) error
	flush := func() error { return nil }
	if ng {
		w, err := pcapgo.NewNgWriterInterface(&out, pcapgo.NgInterface{Name: "any", LinkType: lt, TimestampResolution: 9}, pcapgo.NgWriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		flush = w.Flush
		write = func(ci gopacket.CaptureInfo, data []byte) error {
			ci.InterfaceIndex = 0
			return w.WritePacket(ci, data)
		}
	} else {
		w := pcapgo.NewWriterNanos(&out)
		if err := w.WriteFileHeader(65535, lt); err != nil {
			t.Fatal(err)
		}
		write = w.WritePacket
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		// The sender's bridge port sees it come in (to another host),
		// the receiver's sees it go out.
		pktType, ifindex := uint8(3), uint32(7)
		if ci.InterfaceIndex == 1 {
			pktType, ifindex = 4, 9
		}
		fr := link(lt, data[14:], pktType, ifindex)
		ci.CaptureLength, ci.Length = len(fr), len(fr)
		if err := write(ci, fr); err != nil {
			t.Fatal(err)
		}
		if lt == layers.LinkTypeLinuxSLL && pktType == 4 {
			// SLL v1 has no interface index: the bridge's own sighting,
			// a few microseconds on, looks like the sender's port's.
			again := link(lt, data[14:], 3, 0)
			ci.Timestamp = ci.Timestamp.Add(3 * time.Microsecond)
			if err := write(ci, again); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := flush(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// statesOf lists end i's states: the initial one, then each change.
func statesOf(c *Conversation, i int) string {
	s := []string{c.Initial[i]}
	for _, sc := range c.States {
		if sc.End == i {
			s = append(s, sc.State)
		}
	}
	return strings.TrimSpace(strings.Join(s, " "))
}

func TestLadder(t *testing.T) {
	for _, tc := range cases() {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Read(bytes.NewReader(tc.pcap(t)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Conversations) != 1 {
				t.Fatalf("%d conversations, want 1", len(l.Conversations))
			}
			c := l.Conversations[0]
			if got := c.A.Name() + " | " + c.B.Name(); got != tc.lanes {
				t.Errorf("lanes %q, want %q", got, tc.lanes)
			}
			if len(c.Arrows) != tc.arrows {
				t.Errorf("%d arrows, want %d", len(c.Arrows), tc.arrows)
			}
			if got := statesOf(c, 0); got != tc.statesA {
				t.Errorf("A's states:\n got %s\nwant %s", got, tc.statesA)
			}
			if got := statesOf(c, 1); got != tc.statesB {
				t.Errorf("B's states:\n got %s\nwant %s", got, tc.statesB)
			}
			if got := strings.TrimSpace(c.Close + " by " + c.CloseBy); c.Close != "" && got != tc.close || c.Close == "" && tc.close != "" {
				t.Errorf("close %q by %q, want %q", c.Close, c.CloseBy, tc.close)
			}
			if c.Retransmissions != tc.retrans || c.Lost != tc.lost || c.Duplicates != tc.dups {
				t.Errorf("retransmissions %d, lost %d, duplicates %d; want %d, %d, %d", c.Retransmissions, c.Lost, c.Duplicates, tc.retrans, tc.lost, tc.dups)
			}
			if (c.Incomplete != "") != tc.incomplete {
				t.Errorf("incomplete %q, want %v", c.Incomplete, tc.incomplete)
			}
			if tc.icmp != "" && (c.Arrows[len(c.Arrows)-1].ICMP != tc.icmp || c.Arrows[len(c.Arrows)-1].From != 1) {
				t.Errorf("last arrow %+v, want ICMP %s from B", c.Arrows[len(c.Arrows)-1], tc.icmp)
			}
			var text bytes.Buffer
			if err := WriteText(&text, l); err != nil {
				t.Fatal(err)
			}
			for i, line := range strings.Split(text.String(), "\n") {
				if n := len([]rune(line)); n > TextWidth {
					t.Errorf("line %d is %d columns wide: %q", i+1, n, line)
				}
			}
			golden(t, filepath.Join("testdata", tc.name+".txt"), text.Bytes())
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run TestLadder ./labctl/ladder/ -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
