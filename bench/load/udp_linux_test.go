package load

import (
	"net"
	"testing"
	"time"
)

// The batched reference echo sends every datagram back, byte for byte, to
// each of several senders.
func TestBatchUDPEcho(t *testing.T) {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	go BatchUDPEcho(pc)
	t.Cleanup(func() { pc.Close() })
	for _, sender := range []string{"a", "b", "c"} {
		c, err := net.Dial("udp", pc.LocalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for i := range 20 {
			msg := []byte(sender + string(rune('A'+i)))
			c.Write(msg)
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			b := make([]byte, 64)
			n, err := c.Read(b)
			if err != nil || string(b[:n]) != string(msg) {
				t.Fatalf("sender %s datagram %d: got %q, %v; want %q", sender, i, b[:n], err, msg)
			}
		}
	}
}
