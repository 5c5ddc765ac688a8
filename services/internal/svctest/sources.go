package svctest

import (
	"net"
	"testing"
	"time"
)

// DialFrom connects to the TCP server at addr from the local address from
// (any 127.0.0.0/8 address works on Linux's loopback), with a 5-second
// deadline on everything, and closes the connection when the test ends.
func DialFrom(t testing.TB, addr, from string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("connect to %s from %s: %v", addr, from, err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}

// CheckPerSourceCap checks a server's cap of max connections per source:
// max connections from 127.0.0.1, each proved served by served, stay open;
// one more from 127.0.0.1 is refused (refused says whether what it got is
// a refusal); and a connection from 127.0.0.2, another host, is still served.
func CheckPerSourceCap(t *testing.T, addr string, max int, served, refused func(c net.Conn) error) {
	t.Helper()
	for i := range max {
		if err := served(DialFrom(t, addr, "127.0.0.1")); err != nil {
			t.Fatalf("connection %d of %d from 127.0.0.1: %v", i+1, max, err)
		}
	}
	if err := refused(DialFrom(t, addr, "127.0.0.1")); err != nil {
		t.Errorf("connection %d from 127.0.0.1, over the cap of %d per source: %v", max+1, max, err)
	}
	if err := served(DialFrom(t, addr, "127.0.0.2")); err != nil {
		t.Errorf("connection from 127.0.0.2 while 127.0.0.1 holds %d: %v", max, err)
	}
}
