package web

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"socketlab/services/internal/svctest"
)

// testZone is what the fake name server knows; any other name does not exist.
var testZone = map[string][]netip.Addr{
	"both.test":   {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")},
	"v4only.test": {netip.MustParseAddr("127.0.0.1")},
	"v6only.test": {netip.MustParseAddr("::1")},
}

// TestMain points the resolver at a fake name server on 127.0.0.1, so that
// name lookups in tests never leave the machine.
func TestMain(m *testing.M) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake name server:", err)
		os.Exit(1)
	}
	go serveDNS(pc, testZone)
	server := pc.LocalAddr().String()
	net.DefaultResolver = &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", server)
		},
	}
	code := svctest.Main(m)
	pc.Close()
	os.Exit(code)
}

// serveDNS answers A and AAAA questions from zone: NXDOMAIN for unknown
// names, an empty answer for a known name without that record type.
func serveDNS(pc net.PacketConn, zone map[string][]netip.Addr) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if reply := dnsReply(buf[:n], zone); reply != nil {
			pc.WriteTo(reply, from)
		}
	}
}

func dnsReply(q []byte, zone map[string][]netip.Addr) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:]) != 1 {
		return nil
	}
	// The question: length-prefixed labels, then type and class.
	var labels []string
	i := 12
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if l > 63 || i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil
	}
	question := q[12 : i+5]
	qtype := binary.BigEndian.Uint16(q[i+1:])
	name := strings.ToLower(strings.Join(labels, "."))

	addrs, known := zone[name]
	var answers [][]byte
	for _, a := range addrs {
		if a.Is4() && qtype == 1 || a.Is6() && qtype == 28 {
			answers = append(answers, a.AsSlice())
		}
	}
	flags := uint16(0x8580) // response, authoritative, recursion desired and available
	if !known {
		flags |= 3 // NXDOMAIN
	}
	r := make([]byte, 12, 512)
	copy(r, q[:2])
	binary.BigEndian.PutUint16(r[2:], flags)
	binary.BigEndian.PutUint16(r[4:], 1)
	binary.BigEndian.PutUint16(r[6:], uint16(len(answers)))
	r = append(r, question...)
	for _, a := range answers {
		r = append(r, 0xc0, 12) // the name: a pointer to the question's
		r = binary.BigEndian.AppendUint16(r, qtype)
		r = binary.BigEndian.AppendUint16(r, 1)  // class IN
		r = binary.BigEndian.AppendUint32(r, 60) // TTL
		r = binary.BigEndian.AppendUint16(r, uint16(len(a)))
		r = append(r, a...)
	}
	return r
}
