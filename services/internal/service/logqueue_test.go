package service

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// stalledOut is a stdout nobody reads: every Write blocks until release,
// then it keeps what it is given.
type stalledOut struct {
	release chan struct{}
	mu      sync.Mutex
	b       bytes.Buffer
}

func (s *stalledOut) Write(p []byte) (int, error) {
	<-s.release
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *stalledOut) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStalledStdoutNeverStopsServing serves 600 connections, each of which
// logs a line, while stdout takes nothing: every one is answered, and once
// stdout drains the log says how many lines were dropped.
func TestStalledStdoutNeverStopsServing(t *testing.T) {
	defer func(n int) { logQueueSize = n }(logQueueSize)
	logQueueSize = 16 << 10 // about 60 connection lines

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	spec := Spec{
		Name: "t",
		Start: func(rt *Runtime) (Servers, error) {
			return Servers{TCP: &ConnServer{Name: "t", Handler: echoLine, Log: rt.ConnLog}}, nil
		},
	}
	out := &stalledOut{release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan int, 1)
	go func() {
		exited <- Run(ctx, spec, []string{"--listen", "127.0.0.1", "--port", strconv.Itoa(port)}, out, io.Discard)
	}()
	released := false
	defer func() {
		if !released {
			close(out.release)
		}
	}()

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server is not listening on %s within 3s while stdout is not read: %v", addr, err)
		}
	}
	const conns = 600
	for i := range conns {
		if err := echoOnce(addr, i); err != nil {
			t.Fatalf("connection %d of %d while stdout is not read: %v", i+1, conns, err)
		}
	}
	close(out.release)
	released = true
	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Fatalf("exit status %d, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not exit within 10s of SIGTERM")
	}

	var conn, dropped int64
	sc := bufio.NewScanner(bytes.NewReader([]byte(out.String())))
	for sc.Scan() {
		var l struct {
			Msg     string
			Dropped int64
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		switch l.Msg {
		case "conn":
			conn++
		case "log lines dropped":
			dropped += l.Dropped
		}
	}
	if dropped == 0 || conn >= conns {
		t.Fatalf("%d connection lines and %d counted as dropped; want some dropped and counted:\n%s", conn, dropped, out.String())
	}
	if conn+dropped < conns {
		t.Errorf("%d connection lines + %d dropped < %d connections: lines lost without being counted", conn, dropped, conns)
	}
}

func echoOnce(addr string, i int) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	want := fmt.Sprintf("hello %d\n", i)
	if _, err := io.WriteString(c, want); err != nil {
		return err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no echo: %w", err)
	}
	if got != want {
		return fmt.Errorf("echo %q, want %q", got, want)
	}
	return nil
}
