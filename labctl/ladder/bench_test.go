package ladder

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
)

// capture100k is a capture of 100,000 frames: 1,000 TCP connections of 50
// packets each (handshake, 21 segments of data each way and an ACK, the closing FINs),
// every packet seen leaving one end and arriving at the other, as labctl
// captures a lab's two nodes.
func capture100k(tb testing.TB) []byte {
	l := newLab(tb, "client:lab", "server:lab", "10.0.1.2:40000")
	for i := range 1000 {
		c := fmt.Sprintf("10.0.1.2:%d", 20000+i)
		s := "10.0.1.3:7"
		l.aAddr = c
		handshake(l, c, s)
		for k := range uint32(21) {
			l.send(seg{src: c, dst: s, flags: psh | ack, seq: isnC + 1 + 100*k, ack: isnS + 1 + 100*k, payload: string(bytes.Repeat([]byte{'x'}, 100))})
			l.send(seg{src: s, dst: c, flags: psh | ack, seq: isnS + 1 + 100*k, ack: isnC + 101 + 100*k, payload: string(bytes.Repeat([]byte{'y'}, 100))})
		}
		l.send(seg{src: c, dst: s, flags: ack, seq: isnC + 2101, ack: isnS + 2101})
		l.send(seg{src: c, dst: s, flags: fin | ack, seq: isnC + 2101, ack: isnS + 2101})
		l.send(seg{src: s, dst: c, flags: fin | ack, seq: isnS + 2101, ack: isnC + 2102})
		l.send(seg{src: c, dst: s, flags: ack, seq: isnC + 2102, ack: isnS + 2102})
		l.send(seg{src: s, dst: c, flags: ack, seq: isnS + 2102, ack: isnC + 2102})
	}
	return l.c.bytes()
}

// BenchmarkRead100k reads a 100,000-frame pcapng as a stream and builds
// its ladders; it reports frames per second and the heap the finished
// ladder holds (bounded by Options, not by the file's length).
//
//	go test -run '^$' -bench Read100k -benchtime 3x ./labctl/ladder/
func BenchmarkRead100k(b *testing.B) {
	data := capture100k(b)
	b.SetBytes(int64(len(data)))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	var l *Ladder
	for range b.N {
		var err error
		if l, err = Read(bytes.NewReader(data), Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// Past DefaultMaxConversations, conversations are counted, not kept.
	if l.Frames != 100000 || len(l.Conversations) != DefaultMaxConversations || l.MoreConversations != 1000-DefaultMaxConversations || l.Drawn != 50*DefaultMaxConversations {
		b.Fatalf("read %d frames, %d+%d conversations, %d arrows; want 100000, %d+%d, %d", l.Frames, len(l.Conversations), l.MoreConversations, l.Drawn,
			DefaultMaxConversations, 1000-DefaultMaxConversations, 50*DefaultMaxConversations)
	}
	b.ReportMetric(float64(l.Frames)*float64(b.N)/b.Elapsed().Seconds(), "frames/s")
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "ladder-heap-MB")
	runtime.KeepAlive(l)
	runtime.KeepAlive(data)
}
