// Package livetest draws ladders from real captures: a lab's packets as
// labctl's capture helpers record them. It needs a Docker engine and the
// images (see internal/labtest).
package livetest

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"socketlab/helpers/impair/shape"
	"socketlab/internal/images"
	"socketlab/internal/labtest"
	"socketlab/labctl/ladder"
	"socketlab/labctl/scenario"
	"socketlab/labctl/tap"
)

func TestMain(m *testing.M) { os.Exit(labtest.Main(m, "lad")) }

const lab = `name: ladder
networks:
  lab: {}
nodes:
  welcome: {image: welcome, networks: [lab]}
  echo: {image: echo, networks: [lab]}
  client: {image: client, networks: [lab]}
`

// The conversations of a real lab, captured at both ends by labctl's
// helpers, written as pcapng and read back: welcome over IPv4 and IPv6
// (FIN both ways, the server first), the client speaking first, a refused
// connection, echo's half-close (the client's FIN first), a datagram to a
// closed port and its port unreachable. Lanes are named by node; every
// packet is seen leaving one node and arriving at the other, and none is
// lost.
func TestLadderOfALab(t *testing.T) {
	labtest.NeedImages(t, "welcome", "echo", scenario.ClientImage, images.Capture)
	sc, err := scenario.Parse("ladder.yaml", []byte(lab))
	if err != nil {
		t.Fatal(err)
	}
	l := labtest.Up(t, sc)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var file bytes.Buffer
	rec, err := tap.Record(ctx, l, images.Ref(images.Capture, ""), &file)
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	for _, argv := range [][]string{
		{"sock", "welcome", "-4", "welcome"},
		{"sock", "welcome", "-6", "--send", "hello first", "welcome"},
		{"sock", "welcome", "-4", "welcome:9998"},
		{"sock", "echo", "-4", "echo", "hello echo"},
		{"sock", "echo", "-4", "--udp", "welcome:9997", "anyone?"},
	} {
		if _, _, _, err := l.Exec(ctx, "client", argv); err != nil {
			t.Fatalf("%s: %v", strings.Join(argv, " "), err)
		}
	}
	time.Sleep(tap.Settle)
	if _, err := rec.Close(ctx); err != nil {
		t.Fatalf("capture: %v", err)
	}
	st, err := l.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lad, err := ladder.Read(bytes.NewReader(file.Bytes()), ladder.Options{Names: tap.Names(st)})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	ladder.WriteText(&text, lad)
	t.Logf("the ladders:\n%s", text.String())

	find := func(proto string, family int, port uint16) *ladder.Conversation {
		for _, c := range lad.Conversations {
			if c.Proto == proto && c.Family == family && c.B.Addr.Port() == port {
				return c
			}
		}
		t.Fatalf("no %s IPv%d conversation to port %d in:\n%s", proto, family, port, text.String())
		return nil
	}
	for _, c := range []struct {
		name               string
		conv               *ladder.Conversation
		lastA, lastB, clos string
		payload            bool
	}{
		{"welcome over IPv4", find("TCP", 4, 9999), ladder.Closed, ladder.TimeWait, "fin by b", true},
		{"welcome over IPv6, the client first", find("TCP", 6, 9999), ladder.Closed, ladder.TimeWait, "fin by b", true},
		{"refused", find("TCP", 4, 9998), ladder.Closed, ladder.Closed, "rst by b", false},
		{"echo's half-close", find("TCP", 4, 7), ladder.TimeWait, ladder.Closed, "fin by a", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cv := c.conv
			if cv.A.Node != "client" || (cv.B.Node != "welcome" && cv.B.Node != "echo") {
				t.Errorf("lanes %s and %s, want client and the server", cv.A.Name(), cv.B.Name())
			}
			last := [2]string{cv.Initial[0], cv.Initial[1]}
			for _, s := range cv.States {
				last[s.End] = s.State
			}
			if last[0] != c.lastA || last[1] != c.lastB {
				t.Errorf("final states %s and %s, want %s and %s", last[0], last[1], c.lastA, c.lastB)
			}
			if got := cv.Close + " by " + cv.CloseBy; got != c.clos {
				t.Errorf("close %q, want %q", got, c.clos)
			}
			// (A busy host may make a sender resend: that is the network's
			// doing, drawn as such; nothing is lost where both ends see all.)
			if cv.Lost != 0 || cv.Duplicates != 0 || cv.Incomplete != "" {
				t.Errorf("lost %d, duplicates %d, incomplete %q", cv.Lost, cv.Duplicates, cv.Incomplete)
			}
			for _, a := range cv.Arrows {
				if len(a.Seen) != 2 || a.Arrived.IsZero() {
					t.Errorf("arrow %s seen at %v (arrived %v), want leaving one node and arriving at the other", a.Label(), a.Seen, a.Arrived)
				}
			}
			if got := cv.Bytes[0] + cv.Bytes[1]; c.payload != (got > 0) {
				t.Errorf("%d payload bytes", got)
			}
		})
	}
	udp := find("UDP", 4, 9997)
	if n := len(udp.Arrows); n != 2 || udp.Arrows[1].ICMP != "port unreachable" || udp.Arrows[1].From != 1 {
		t.Errorf("UDP to a closed port: %d arrows, want the datagram and its port unreachable:\n%s", n, text.String())
	}
}

// tshark on the host, on "any" (Linux cooked), sees the lab's packets on
// its bridge and each node's bridge port: the ladder draws each packet
// once, names the lanes from the lab's addresses, and follows welcome's
// close both ways.
func TestLadderOfTsharkOnTheHost(t *testing.T) {
	tshark := labtest.NeedCommand(t, "tshark", "tshark")
	if os.Geteuid() != 0 {
		t.Skip("tshark captures the host's interfaces only as root")
	}
	labtest.NeedImages(t, "welcome", scenario.ClientImage)
	sc, err := scenario.Parse("tshark.yaml", []byte("name: tshark\nnetworks:\n  lab: {}\nnodes:\n  welcome: {image: welcome, networks: [lab]}\n  client: {image: client, networks: [lab]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	l := labtest.Up(t, sc)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := l.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	file := t.TempDir() + "/any.pcapng"
	cmd := exec.CommandContext(ctx, tshark, "-q", "-i", "any", "-w", file, "-f", "tcp port 9999 and net "+st.Networks[0].IPv4)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// tshark says "Capturing on 'any'" once it captures.
	sc2 := bufio.NewScanner(stderr)
	for sc2.Scan() && !strings.Contains(sc2.Text(), "Capturing on") {
	}
	go io.Copy(io.Discard, stderr)
	time.Sleep(time.Second) // tshark's dumpcap may say so a moment before it captures
	if _, _, _, err := l.Exec(ctx, "client", []string{"sock", "welcome", "-4", "welcome"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	_ = cmd.Process.Signal(os.Interrupt)
	_ = cmd.Wait()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lad, err := ladder.Read(f, ladder.Options{Names: tap.Names(st)})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	ladder.WriteText(&text, lad)
	if len(lad.Conversations) != 1 {
		t.Fatalf("%d conversations, want welcome's:\n%s", len(lad.Conversations), text.String())
	}
	c := lad.Conversations[0]
	last := c.Initial
	for _, s := range c.States {
		last[s.End] = s.State
	}
	if c.A.Node != "client" || c.B.Node != "welcome" || last != [2]string{ladder.Closed, ladder.TimeWait} || c.Duplicates != 0 || c.Close != "fin" {
		t.Errorf("lanes %s and %s, final states %v, %d duplicates, close %q; want client and welcome, CLOSED and TIME_WAIT, none, fin:\n%s",
			c.A.Name(), c.B.Name(), last, c.Duplicates, c.Close, text.String())
	}
	if lad.Frames <= len(c.Arrows) {
		t.Errorf("%d frames for %d arrows: tshark saw each packet once only? (a bridged packet crosses two ports)", lad.Frames, len(c.Arrows))
	}
}

// A lossy link (the client's egress drops 20% in the impairment helper's
// delay line, before the client's capture point sees them): the ladder
// marks the resends and the bytes never seen, calls nothing lost (no
// capture point saw the dropped segments leave), and counts the megabyte
// each way whole.
func TestLadderOfALossyLink(t *testing.T) {
	labtest.NeedImages(t, "echo", scenario.ClientImage, images.Capture, images.Impair)
	sc, err := scenario.Parse("lossy.yaml", []byte("name: lossy\nnetworks:\n  lab: {}\nnodes:\n  echo: {image: echo, networks: [lab]}\n  client: {image: client, networks: [lab]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	l := labtest.Up(t, sc)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := l.Impair(ctx, "client", "lab", shape.Settings{Loss: 20}); err != nil {
		t.Fatalf("impair: %v", err)
	}
	var file bytes.Buffer
	rec, err := tap.Record(ctx, l, images.Ref(images.Capture, ""), &file)
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	if _, stderr, code, err := l.Exec(ctx, "client", []string{"sock", "echo", "-4", "--size", "1048576", "echo"}); err != nil || code != 0 {
		t.Fatalf("sock echo a megabyte: exit %d, %v: %s", code, err, stderr)
	}
	time.Sleep(tap.Settle)
	if _, err := rec.Close(ctx); err != nil {
		t.Fatalf("capture: %v", err)
	}
	lad, err := ladder.Read(bytes.NewReader(file.Bytes()), ladder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var tcp []*ladder.Conversation
	for _, c := range lad.Conversations {
		if c.Proto == "TCP" {
			tcp = append(tcp, c)
		}
	}
	if len(tcp) != 1 {
		t.Fatalf("%d TCP conversations, want the echo's one", len(tcp))
	}
	c := tcp[0]
	unseen := 0
	for _, a := range c.Arrows {
		if a.Unseen != "" {
			unseen++
		}
	}
	if c.Retransmissions == 0 || unseen == 0 || c.Lost != 0 || c.Bytes != [2]int{1 << 20, 1 << 20} {
		t.Errorf("%d retransmissions, %d arrows after unseen bytes, %d lost, bytes %v; want some, some, none, a megabyte each way (%s)",
			c.Retransmissions, unseen, c.Lost, c.Bytes, c.Summary())
	}
}
