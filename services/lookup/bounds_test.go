package lookup

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"socketlab/services/internal/svctest"
	"socketlab/services/lookup/frame"
)

// Clients that send all but the last byte of a large request and stall hold
// no more than the server-wide budget: past it, each gets a framed
// "server-busy" error at once, and an ordinary search is still answered.
func TestMemoryOfRequestsInFlightIsBounded(t *testing.T) {
	cfg := testConfig
	cfg.RequestTimeout = 20 * time.Second
	cfg.MaxContent = 256 << 10
	cfg.MaxInFlight = 1 << 20 // three quarters for large requests: 3 of them
	addr, _ := startServer(t, cfg, "127.0.0.1")

	const stallers = 12
	header := fmt.Sprintf(`{"byteorder": "little", "content-type": "binary/x", "content-encoding": "binary", "content-length": %d}`, cfg.MaxContent)
	almost := rawMsg(header, strings.Repeat("x", cfg.MaxContent-1))
	held, busy := 0, 0
	for i := range stallers {
		c := dial(t, addr)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(almost); err != nil {
			t.Fatalf("staller %d: %v", i+1, err)
		}
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		m, err := frame.NewReader(c).Next()
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			held++ // the server holds its content, waiting for the last byte
		case err != nil:
			t.Fatalf("staller %d: %v", i+1, err)
		case !strings.Contains(string(m.Content), `"error": "`+KindBusy+`"`):
			t.Fatalf("staller %d got %s, want a %s error", i+1, m.Content, KindBusy)
		default:
			busy++
		}
	}
	if held > 3 || busy < stallers-3 {
		t.Errorf("%d of %d stalled 256 KiB requests held by the server, %d refused as %s: want at most 3 held (a 1 MiB budget)", held, stallers, busy, KindBusy)
	}
	if r := search(t, addr, "TCP"); !strings.HasPrefix(r, "TCP (Transmission Control Protocol)") {
		t.Errorf("search while the budget is spent by large requests: %q", r)
	}
}

// A huge search value is neither looked at nor quoted back whole.
func TestSearchValueIsCapped(t *testing.T) {
	addr, _ := startServer(t, testConfig, "127.0.0.1")
	value := strings.Repeat("é", 400<<10) // 800 KiB
	r := search(t, addr, value)
	if len(r) > 2048 || !strings.Contains(r, "(819200 bytes)") || !strings.Contains(r, "TCP") {
		t.Errorf("answer to an 800 KiB search value is %d bytes: %.300q; want a short answer naming the size and the terms", len(r), r)
	}
	if r := search(t, addr, "tpc"); r != `No match for "tpc". Did you mean "TCP"?` {
		t.Errorf("short value: %q", r)
	}
}

// One host cannot take every slot: the binary's default cap refuses the
// 101st connection from 127.0.0.1 with a framed error, and 127.0.0.2 is
// still served.
func TestPerSourceCap(t *testing.T) {
	p := svctest.StartBinary(t, "socketlab/services/lookup/cmd", "--quiet")
	served := func(c net.Conn) error {
		if _, err := c.Write(encode(t, NewSearch(ActionSearch, "UDP"))); err != nil {
			return err
		}
		if r := readResult(t, frame.NewReader(c))["result"]; !strings.HasPrefix(r, "UDP (User Datagram Protocol)") {
			return fmt.Errorf("search answered %q", r)
		}
		return nil
	}
	refused := func(c net.Conn) error {
		m, err := frame.NewReader(c).Next()
		if err != nil {
			return fmt.Errorf("no framed error response: %w", err)
		}
		if !strings.Contains(string(m.Content), `"error": "`+KindTooMany+`"`) {
			return fmt.Errorf("got %s, want a %s error", m.Content, KindTooMany)
		}
		return nil
	}
	svctest.CheckPerSourceCap(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)), DefaultMaxPerIP, served, refused)
}
