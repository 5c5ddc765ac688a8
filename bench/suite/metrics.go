package suite

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"socketlab/bench/load"
	"socketlab/services/lookup"
	"socketlab/services/lookup/frame"
)

// The rows of the table, in order, with their goals (from the issue).
var (
	rowStream = Metric{ID: "echo/tcp/stream", Name: "echo TCP stream, 1 conn, 128 KiB writes", Unit: "Gbit/s", Better: "higher",
		Goal: &Goal{On: "ratio", Op: ">=", Value: 0.5}}
	rowPingPong = Metric{ID: "echo/tcp/pingpong", Name: "echo 1 KiB ping-pong, 64 conns", Unit: "ops/s", Better: "higher",
		Goal: &Goal{On: "ratio", Op: ">=", Value: 1}}
	rowPingPongBuf = Metric{ID: "echo/tcp/pingpong-buf", Name: "echo 1 KiB ping-pong, 64 conns", Unit: "ops/s", Better: "higher",
		Goal: &Goal{On: "ratio", Op: ">=", Value: 1}}
	rowPingPongCPU = Metric{ID: "echo/tcp/pingpong-cpu", Name: "echo 1 KiB ping-pong, server CPU per round trip", Unit: "µs", Better: "lower"}
	rowRTT50       = Metric{ID: "echo/tcp/rtt64/p50", Name: "echo 64 B round trip, 1 conn, p50, CPUs kept awake", Unit: "µs", Better: "lower",
		Goal: &Goal{On: "ours", Op: "<=", Value: 30}}
	rowRTT99 = Metric{ID: "echo/tcp/rtt64/p99", Name: "echo 64 B round trip, 1 conn, p99, CPUs kept awake", Unit: "µs", Better: "lower",
		Goal: &Goal{On: "ours", Op: "<=", Value: 100}}
	rowRTT50Idle = Metric{ID: "echo/tcp/rtt64-idle/p50", Name: "echo 64 B round trip, 1 conn, p50, idle CPUs", Unit: "µs", Better: "lower",
		Goal: &Goal{On: "ours", Op: "<=", Value: 30}}
	rowRTT99Idle = Metric{ID: "echo/tcp/rtt64-idle/p99", Name: "echo 64 B round trip, 1 conn, p99, idle CPUs", Unit: "µs", Better: "lower",
		Goal: &Goal{On: "ours", Op: "<=", Value: 100}}
	rowUDPEcho = Metric{ID: "echo/udp/64", Name: "echo UDP 64 B, server on 1 core", Unit: "replies/s", Better: "higher",
		Goal: &Goal{On: "ours", Op: ">=", Value: 300e3}}
	rowUDPResponder = Metric{ID: "responder/udp/64", Name: "responder UDP 64 B, server on 1 core", Unit: "replies/s", Better: "higher",
		Goal: &Goal{On: "ours", Op: ">=", Value: 300e3}}
	rowFanRate = Metric{ID: "chat/fanout/rate", Name: "chat fan-out, 500 members, 1 sender", Unit: "deliveries/s", Better: "higher",
		Goal: &Goal{On: "ours", Op: ">=", Value: 1e6}}
	rowFanP99 = Metric{ID: "chat/fanout/p99", Name: "chat fan-out p99 latency, 500 members", Unit: "ms", Better: "lower",
		Goal: &Goal{On: "ours", Op: "<=", Value: 50}}
	rowFanStalled = Metric{ID: "chat/fanout/p99-stalled", Name: "chat fan-out p99, 10 of 500 stop reading", Unit: "ms", Better: "lower",
		Goal: &Goal{On: "ratio", Op: "<=", Value: 1.2}}
	rowMemChat = Metric{ID: "chat/idle-rss", Name: "chat RSS per idle conn, 10k conns", Unit: "KiB", Better: "lower",
		Goal: &Goal{On: "ours", Op: "<=", Value: 16}}
	rowMemEcho = Metric{ID: "echo/idle-rss", Name: "echo RSS per idle conn, 10k conns", Unit: "KiB", Better: "lower",
		Goal: &Goal{On: "ours", Op: "<=", Value: 16}}
	rowLookupConn = Metric{ID: "lookup/conn", Name: "lookup, 64 conns, 1 request per conn", Unit: "req/s", Better: "higher"}
	rowLookupKeep = Metric{ID: "lookup/keepalive", Name: "lookup, 64 conns, keep-alive", Unit: "req/s", Better: "higher"}
	rowLookupTut  = Metric{ID: "lookup/conn-tutorial", Name: "lookup, 64 conns, 1 request per conn", Unit: "req/s", Better: "higher"}
)

var groups = []group{
	{name: "echo-stream", run: echoStream, rows: []Metric{rowStream}},
	{name: "echo-pingpong", run: echoPingPong, rows: []Metric{rowPingPong, rowPingPongBuf, rowPingPongCPU}},
	{name: "echo-rtt", run: echoRTT, rows: []Metric{rowRTT50, rowRTT99, rowRTT50Idle, rowRTT99Idle}},
	{name: "udp", run: udpOneCore, rows: []Metric{rowUDPEcho, rowUDPResponder}},
	{name: "chat-fanout", run: chatFanout, rows: []Metric{rowFanRate, rowFanP99, rowFanStalled}},
	{name: "memory", run: idleMemory, rows: []Metric{rowMemChat, rowMemEcho}},
	{name: "lookup", run: lookupRequests, rows: []Metric{rowLookupConn, rowLookupKeep}},
}

// with fills a row with our figures and, when ref is not empty, the
// reference's.
func with(m Metric, ours []float64, r reference, ref []float64) Metric {
	o := load.Summarize(ours)
	m.Ours = &o
	if r.name != "" && len(ref) > 0 {
		m.Ref = &Ref{Name: r.name, About: r.about, Summary: load.Summarize(ref)}
		m.Ratio = ratio(ours, ref)
	}
	return m
}

// ratio is the median of the ratios of each round, ours over the reference
// run next to it, when both have a figure per round: a drift of the
// machine's speed between rounds then cancels out. Otherwise it is the
// ratio of the medians.
func ratio(ours, ref []float64) float64 {
	if len(ours) != len(ref) {
		if r := load.Summarize(ref).Median; r != 0 {
			return load.Summarize(ours).Median / r
		}
		return 0
	}
	rs := make([]float64, 0, len(ours))
	for i := range ours {
		if ref[i] != 0 {
			rs = append(rs, ours[i]/ref[i])
		}
	}
	return load.Summarize(rs).Median
}

type reference struct{ name, about string }

var (
	noRef    = reference{}
	refCopy  = reference{"naive io.Copy", "Go echo, a goroutine per connection running io.Copy(c, c), as in the net package's example (splices on Linux)"}
	refBuf   = reference{"naive 1 KiB loop", "Go echo, a goroutine per connection, Read into 1 KiB then Write, as the sockets tutorials' loop"}
	refIperf = reference{"iperf3", "iperf3 -c, one TCP stream over loopback, one way, measured in the same run"}
	refUDP   = reference{"naive UDP echo", "Go UDP echo, ReadFrom then WriteTo with a 1 KiB buffer, pinned like ours"}
	refAll   = reference{"all reading", "the same fan-out with every member reading, in the same run"}
	refFloor = reference{"naive echo", "naive io.Copy echo answering the same request bytes: the cost of the TCP exchange alone"}
	refTut   = reference{"app-server.py", "the sockets tutorial's app-server.py (python3, selectors), one request per connection"}
)

func echoStream(ctx context.Context, s *suite) ([]Metric, []string, error) {
	srv, addr, err := s.ours(ctx, "echo-stream", "echo", false, "", nil, "--max-conns", "20000")
	if err != nil {
		return nil, nil, err
	}
	defer srv.stop()
	ours := func(ctx context.Context) (float64, error) {
		bps, err := load.Stream(ctx, addr, 128<<10, s.cfg.Duration)
		return bps * 8 / 1e9, err
	}
	iperf, err := exec.LookPath(s.cfg.Iperf3)
	if s.cfg.Iperf3 == "" || err != nil {
		figs, err := s.runs(ctx, s.cfg.Runs, []string{"echo"}, ours)
		if err != nil {
			return nil, nil, err
		}
		m := with(rowStream, figs[0], noRef, nil)
		m.Skipped = "the reference, iperf3, is not installed: apt-get install iperf3"
		return []Metric{m}, nil, nil
	}
	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	iaddr := "127.0.0.1:" + strconv.Itoa(port)
	ip, err := startProc(ctx, "iperf3 -s", []string{iperf, "-s", "-B", "127.0.0.1", "-p", strconv.Itoa(port)}, nil, "", tcpReady(iaddr))
	if err != nil {
		return nil, nil, err
	}
	defer ip.stop()
	secs := max(1, int(math.Round(s.cfg.Duration.Seconds())))
	ref := func(ctx context.Context) (float64, error) {
		return iperfClient(ctx, iperf, port, secs)
	}
	figs, err := s.runs(ctx, s.cfg.Runs, []string{"echo", "iperf3"}, ours, ref)
	if err != nil {
		return nil, nil, err
	}
	m := with(rowStream, figs[0], refIperf, figs[1])
	m.Note = "echo carries every byte both ways over loopback, iperf3 one way: goal 0.5×"
	return []Metric{m}, nil, nil
}

// iperfClient runs one iperf3 client test and returns the received Gbit/s.
func iperfClient(ctx context.Context, iperf string, port, secs int) (float64, error) {
	var last error
	for range 20 { // the server may still be resetting after the previous test
		out, err := exec.CommandContext(ctx, iperf, "-c", "127.0.0.1", "-p", strconv.Itoa(port), "-t", strconv.Itoa(secs), "-J").Output()
		var r struct {
			End struct {
				SumReceived struct {
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
			Error string `json:"error"`
		}
		if jerr := json.Unmarshal(out, &r); jerr == nil && r.Error == "" && r.End.SumReceived.BitsPerSecond > 0 {
			return r.End.SumReceived.BitsPerSecond / 1e9, nil
		} else if r.Error != "" {
			last = errors.New(r.Error)
		} else {
			last = errors.Join(err, jerr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return 0, fmt.Errorf("iperf3 -c: %w", last)
}

func echoPingPong(ctx context.Context, s *suite) ([]Metric, []string, error) {
	srv, addr, err := s.ours(ctx, "echo-pingpong", "echo", false, "", nil, "--max-conns", "20000")
	if err != nil {
		return nil, nil, err
	}
	nc, caddr, err := s.naive(ctx, "copy", false, "", nil)
	if err != nil {
		stopAll(srv)
		return nil, nil, err
	}
	nb, baddr, err := s.naive(ctx, "buf", false, "", nil)
	if err != nil {
		stopAll(srv, nc)
		return nil, nil, err
	}
	defer stopAll(srv, nc, nb)
	cpu := cpuMeter{}
	pp := func(p *proc, addr string) func(context.Context) (float64, error) {
		return cpu.perOp(p, s.cfg.Duration, func(ctx context.Context) (float64, error) {
			return load.PingPong(ctx, addr, 64, 1024, s.cfg.Duration)
		})
	}
	// "Not slower" is a fine line on a machine whose speed drifts by 10%
	// from one run to the next: twice as many rounds as elsewhere, and the
	// servers' own CPU time per round trip besides.
	figs, err := s.runs(ctx, 2*s.cfg.Runs-1, []string{"echo", "naive io.Copy", "naive 1 KiB loop"}, pp(srv, addr), pp(nc, caddr), pp(nb, baddr))
	if err != nil {
		return nil, nil, err
	}
	mc := with(rowPingPongCPU, cpu[srv], refCopy, cpu[nc])
	mc.Note = fmt.Sprintf("the server process's CPU time (user and system) over the round trips it answered; naive 1 KiB loop: %.1f µs", load.Summarize(cpu[nb]).Median)
	return []Metric{
		with(rowPingPong, figs[0], refCopy, figs[1]),
		with(rowPingPongBuf, figs[0], refBuf, figs[2]),
		mc,
	}, nil, nil
}

// cpuMeter records the CPU time a server used per operation of the loads
// run against it.
type cpuMeter map[*proc][]float64

// perOp wraps f, a load of length d that returns operations per second,
// to record p's CPU time per operation, in µs.
func (cm cpuMeter) perOp(p *proc, d time.Duration, f func(context.Context) (float64, error)) func(context.Context) (float64, error) {
	return func(ctx context.Context) (float64, error) {
		c0, err := p.cpu()
		if err != nil {
			return 0, err
		}
		v, err := f(ctx)
		if err != nil {
			return 0, err
		}
		c1, err := p.cpu()
		if err != nil {
			return 0, err
		}
		if v > 0 {
			cm[p] = append(cm[p], (c1-c0).Seconds()*1e6/(v*d.Seconds()))
		}
		return v, nil
	}
}

func echoRTT(ctx context.Context, s *suite) ([]Metric, []string, error) {
	srv, addr, err := s.ours(ctx, "echo-rtt", "echo", false, "", nil)
	if err != nil {
		return nil, nil, err
	}
	nc, caddr, err := s.naive(ctx, "copy", false, "", nil)
	if err != nil {
		stopAll(srv)
		return nil, nil, err
	}
	defer stopAll(srv, nc)
	// measure runs the round trips with the CPUs idle between them, then
	// with a busy loop at the lowest priority on every CPU.
	measure := func(awake bool) ([]Metric, error) {
		if awake {
			spin, err := startProc(ctx, "spin", []string{s.cfg.Self, "spin"}, nil, "", func(context.Context) error { return nil })
			if err != nil {
				return nil, err
			}
			defer spin.stop()
			if err := syscall.Setpriority(syscall.PRIO_PROCESS, spin.cmd.Process.Pid, 19); err != nil {
				return nil, fmt.Errorf("spin: nice 19: %w", err)
			}
		}
		var p99 [2][]float64
		rtt := func(i int, addr string) func(context.Context) (float64, error) {
			return func(ctx context.Context) (float64, error) {
				d, err := load.RoundTrips(ctx, addr, 64, 1000, 10000)
				if err != nil {
					return 0, err
				}
				p99[i] = append(p99[i], load.Micros(load.Percentile(d, 0.99)))
				return load.Micros(load.Percentile(d, 0.50)), nil
			}
		}
		what := "idle"
		if awake {
			what = "awake"
		}
		// Short runs, many of them: the latency of this VM drifts with the
		// host's load, and a median over more rounds follows it less.
		figs, err := s.runs(ctx, 2*s.cfg.Runs-1, []string{"echo p50 " + what, "naive io.Copy p50 " + what}, rtt(0, addr), rtt(1, caddr))
		if err != nil {
			return nil, err
		}
		r50, r99 := rowRTT50Idle, rowRTT99Idle
		if awake {
			r50, r99 = rowRTT50, rowRTT99
		}
		return []Metric{with(r50, figs[0], refCopy, figs[1]), with(r99, p99[0], refCopy, p99[1])}, nil
	}
	idle, err := measure(false)
	if err != nil {
		return nil, nil, err
	}
	awake, err := measure(true)
	if err != nil {
		return nil, nil, err
	}
	awake[0].Note = "10,000 sequential round trips per run after 1,000 to warm up, twice as many runs as elsewhere; a busy loop at nice 19 on each CPU keeps the vCPUs from idling (a software idle=poll): it takes about 1% of their time"
	idle[0].Note = "the same with the CPUs idle between round trips: on this VM a vCPU woken from idle adds tens of µs to each wake-up, for the reference as for ours"
	return append(awake, idle...), nil, nil
}

func udpOneCore(ctx context.Context, s *suite) ([]Metric, []string, error) {
	env := []string{"GOMAXPROCS=1"}
	note := "UDP: each server runs pinned to CPU 1 (taskset -c 1, GOMAXPROCS=1) and the load to CPU 0 (taskset -c 0): " +
		"4 connected sockets, 32 datagrams in flight each, sent and received in batches of up to 64 (sendmmsg/recvmmsg); " +
		"the kernel's loopback work for a reply is done on the CPU of the process that sends it"
	if s.taskset == "" {
		note = "UDP: taskset not found: servers run with GOMAXPROCS=1 only, unpinned (install util-linux for taskset)"
	}
	eSrv, eAddr, err := s.ours(ctx, "udp", "echo", true, "1", env)
	if err != nil {
		return nil, nil, err
	}
	rSrv, rAddr, err := s.ours(ctx, "udp", "responder", true, "1", env, "--rate", "1e9", "--burst", "1000000000")
	if err != nil {
		stopAll(eSrv)
		return nil, nil, err
	}
	nSrv, nAddr, err := s.naive(ctx, "udp", true, "1", env)
	if err != nil {
		stopAll(eSrv, rSrv)
		return nil, nil, err
	}
	defer stopAll(eSrv, rSrv, nSrv)
	busy := map[*proc][]float64{}
	flood := func(p *proc, addr string) func(context.Context) (float64, error) {
		return func(ctx context.Context) (float64, error) {
			cpu0, err := p.cpu()
			if err != nil {
				return 0, err
			}
			t0 := time.Now()
			defer func() {
				if cpu1, err := p.cpu(); err == nil {
					busy[p] = append(busy[p], 100*(cpu1-cpu0).Seconds()/time.Since(t0).Seconds())
				}
			}()
			argv := []string{s.cfg.Self, "load-udp", "--addr", addr, "--duration", s.cfg.Duration.String()}
			if s.taskset != "" {
				argv = append([]string{s.taskset, "-c", "0"}, argv...)
			}
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				return 0, fmt.Errorf("load-udp: %v: %s", err, strings.TrimSpace(stderr.String()))
			}
			return strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
		}
	}
	figs, err := s.runs(ctx, s.cfg.Runs, []string{"echo udp", "responder", "naive udp echo"}, flood(eSrv, eAddr), flood(rSrv, rAddr), flood(nSrv, nAddr))
	if err != nil {
		return nil, nil, err
	}
	cpu := func(p *proc) string { return fmt.Sprintf("%.0f%%", load.Summarize(busy[p]).Median) }
	e := with(rowUDPEcho, figs[0], refUDP, figs[2])
	e.Note = "server CPU use during the runs (median): echo " + cpu(eSrv) + ", naive " + cpu(nSrv)
	r := with(rowUDPResponder, figs[1], refUDP, figs[2])
	r.Note = "server CPU use " + cpu(rSrv) + "; rate limit raised for the benchmark (--rate 1e9 --burst 1e9): every datagram still goes through the limiter"
	return []Metric{e, r}, []string{note}, nil
}

func chatFanout(ctx context.Context, s *suite) ([]Metric, []string, error) {
	srv, addr, err := s.ours(ctx, "chat-fanout", "chat", false, "", nil, "--line-port", "0",
		"--max-per-ip", "0", "--flood-rate", "0", "--max-conns", "20000")
	if err != nil {
		return nil, nil, err
	}
	defer srv.stop()
	n := min(s.cfg.Runs, 3)
	seq := 0
	var cut []int
	fan := func(f load.Fanout, p99 bool) func(context.Context) (float64, error) {
		return func(ctx context.Context) (float64, error) {
			seq++
			f.Addr, f.Channel, f.Nick = addr, "#lab", "r"+strconv.Itoa(seq)
			r, err := f.Run(ctx)
			if err != nil {
				return 0, err
			}
			if f.Stalled > 0 {
				cut = append(cut, r.CutOff)
			}
			if !p99 {
				return r.PerSec, nil
			}
			return float64(load.Percentile(r.Latencies, 0.99).Microseconds()) / 1e3, nil
		}
	}
	dur := max(s.cfg.Duration, 3*time.Second)
	rate := load.Fanout{Members: 500, Window: 64, Duration: s.cfg.Duration, Size: 60, SampleEvery: 16}
	top, err := s.runs(ctx, n, []string{"max rate"}, fan(rate, false))
	if err != nil {
		return nil, nil, err
	}
	mr := with(rowFanRate, top[0], noRef, nil)
	mr.Note = "as fast as the sender can go with at most 64 messages not yet received by every member; ~100-byte lines"
	// Latency at the goal's rate, 1M deliveries/s, or at 80% of what the
	// server reached when that is less: past its limit, latency only
	// measures the load's window.
	msgs := 2000.0
	if reach := 0.8 * mr.Ours.Median / 500; reach < msgs {
		msgs = math.Round(reach)
	}
	base := load.Fanout{Members: 500, Rate: msgs, Window: 1000, Duration: dur, Size: 60}
	stalled := base
	stalled.Stalled, stalled.StalledBuffer, stalled.StalledMSS = 10, 16<<10, 1460
	figs, err := s.runs(ctx, n, []string{"p99", "p99, 10 stalled"}, fan(base, true), fan(stalled, true))
	if err != nil {
		return nil, nil, err
	}
	offered := fmt.Sprintf("%.0f messages/s × 500 members = %s deliveries/s offered", msgs, number(msgs*500, "/s"))
	if msgs < 2000 {
		offered += " (80% of the rate reached: 1M is past it)"
	}
	mp := with(rowFanP99, figs[0], noRef, nil)
	mp.Note = offered + "; time from send to arrival of every delivery"
	ms := with(rowFanStalled, figs[1], refAll, figs[0])
	ms.Note = fmt.Sprintf("same rate; the 10 connect with a 16 KiB receive buffer and an MSS of 1460 (as over Ethernet: on loopback the server's send buffer would hold megabytes first); cut off by the server (SendQ exceeded) per run: %v; p99 over the 490 others", cut)
	notes := []string{"chat: flood control off and no per-IP cap for the benchmark (--flood-rate 0 --max-per-ip 0): every client comes from 127.0.0.1"}
	return []Metric{mr, mp, ms}, notes, nil
}

func idleMemory(ctx context.Context, s *suite) ([]Metric, []string, error) {
	const conns = 10000
	d := &load.Dialer{Sources: 8}
	echoHello := func(c net.Conn) error {
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		defer c.SetDeadline(time.Time{})
		if _, err := c.Write([]byte("x")); err != nil {
			return err
		}
		_, err := io.ReadFull(c, make([]byte, 1))
		return err
	}
	var nick atomic.Int64
	chatHello := func(c net.Conn) error {
		return load.JoinIRC(c, bufio.NewReader(c), "i"+strconv.FormatInt(nick.Add(1), 10), "")
	}
	measure := func(start func(context.Context) (*proc, string, error), hello func(net.Conn) error) func(context.Context) (float64, error) {
		return func(ctx context.Context) (float64, error) {
			p, addr, err := start(ctx)
			if err != nil {
				return 0, err
			}
			defer p.stop()
			// One connection first, so that what every server allocates once is in "before".
			warm, err := load.Idle(ctx, d, addr, 1, hello)
			if err != nil {
				return 0, err
			}
			defer load.CloseAll(warm)
			time.Sleep(300 * time.Millisecond)
			before, err := p.rss()
			if err != nil {
				return 0, err
			}
			cs, err := load.Idle(ctx, d, addr, conns, hello)
			if err != nil {
				return 0, err
			}
			defer load.CloseAll(cs)
			time.Sleep(time.Second)
			after, err := p.rss()
			if err != nil {
				return 0, err
			}
			return float64(after-before) / conns / 1024, nil
		}
	}
	echo := func(ctx context.Context) (*proc, string, error) {
		return s.ours(ctx, "memory", "echo", false, "", nil, "--max-conns", "20000", "--max-per-ip", "0")
	}
	chat := func(ctx context.Context) (*proc, string, error) {
		return s.ours(ctx, "memory", "chat", false, "", nil, "--line-port", "0", "--max-per-ip", "0", "--max-conns", "20000", "--flood-rate", "0")
	}
	// Not the io.Copy echo: its splice holds a pipe (2 descriptors) per
	// connection, so 10,000 connections pass the descriptor limit.
	naive := func(ctx context.Context) (*proc, string, error) { return s.naive(ctx, "buf", false, "", nil) }
	figs, err := s.runs(ctx, min(s.cfg.Runs, 3), []string{"chat", "echo", "naive 1 KiB loop"},
		measure(chat, chatHello), measure(echo, echoHello), measure(naive, echoHello))
	if err != nil {
		return nil, nil, err
	}
	mc := with(rowMemChat, figs[0], refBuf, figs[2])
	mc.Note = "registered (NICK, USER), in no channel; VmRSS after minus before, over 10,000"
	me := with(rowMemEcho, figs[1], refBuf, figs[2])
	me.Note = "one 1-byte echo each, then idle; VmRSS after minus before, over 10,000"
	return []Metric{mc, me}, []string{"memory: servers started fresh for each run; 10,000 connections from 127.0.0.2-9 (one client process); echo --max-conns 20000 --max-per-ip 0, chat --max-conns 20000 --max-per-ip 0"}, nil
}

func lookupRequests(ctx context.Context, s *suite) ([]Metric, []string, error) {
	req, err := frame.Append(nil, lookup.NewSearch(lookup.ActionSearch, "TCP"))
	if err != nil {
		return nil, nil, err
	}
	srv, addr, err := s.ours(ctx, "lookup", "lookup", false, "", nil, "--max-conns", "20000")
	if err != nil {
		return nil, nil, err
	}
	nc, caddr, err := s.naive(ctx, "copy", false, "", nil)
	if err != nil {
		stopAll(srv)
		return nil, nil, err
	}
	defer stopAll(srv, nc)
	d := &load.Dialer{Sources: 16}
	echoBack := func(r io.Reader, buf []byte) error {
		_, err := io.ReadFull(r, buf[:len(req)])
		return err
	}
	work := func(addr string, keep bool, resp func(io.Reader, []byte) error) func(context.Context) (float64, error) {
		return func(ctx context.Context) (float64, error) {
			return load.Requests(ctx, addr, load.Workload{Conns: 64, Duration: s.cfg.Duration, KeepAlive: keep,
				Dialer: d, Request: req, Response: resp})
		}
	}
	fs := []func(context.Context) (float64, error){
		work(addr, false, load.ReadFrame), work(caddr, false, echoBack),
		work(addr, true, load.ReadFrame), work(caddr, true, echoBack),
	}
	what := []string{"lookup per conn", "naive echo per conn", "lookup keep-alive", "naive echo keep-alive"}
	if s.cfg.LookupRef != "" {
		py, paddr, err := s.tutorial(ctx)
		if err != nil {
			return nil, nil, err
		}
		defer py.stop()
		fs = append(fs, work(paddr, false, load.ReadFrame))
		what = append(what, "tutorial app-server.py")
	}
	figs, err := s.runs(ctx, s.cfg.Runs, what, fs...)
	if err != nil {
		return nil, nil, err
	}
	mc := with(rowLookupConn, figs[0], refFloor, figs[1])
	mc.Note = "connect, search request (" + strconv.Itoa(len(req)) + " bytes), framed response, close; from 16 source addresses"
	mk := with(rowLookupKeep, figs[2], refFloor, figs[3])
	out := []Metric{mc, mk}
	if len(figs) > 4 {
		mt := with(rowLookupTut, figs[0], refTut, figs[4])
		out = append(out, mt)
	}
	return out, nil, nil
}

// tutorial starts the sockets tutorial's app-server.py from cfg.LookupRef.
func (s *suite) tutorial(ctx context.Context) (*proc, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	py, err := exec.LookPath("python3")
	if err != nil {
		return nil, "", fmt.Errorf("tutorial reference: %w", err)
	}
	p, err := startProc(ctx, "app-server.py", []string{py, filepath.Join(s.cfg.LookupRef, "app-server.py"), "127.0.0.1", strconv.Itoa(port)}, nil, "", tcpReady(addr))
	return p, addr, err
}
