package tap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"socketlab/internal/images"
	"socketlab/internal/packet"
	"socketlab/labctl/backend"
	"socketlab/labctl/capture"
)

// DefaultSnaplen is how many bytes of each packet a capture keeps unless
// told otherwise: every header, and every frame of an MTU-1500 link whole.
// The segmentation-offload super-packets of a bulk stream (up to 64 KiB
// each, on veth) are cut, which keeps the helper's ring from overflowing: at
// the helper's maximum snaplen, bench-capture measured kernel drops while
// echo streamed 64 KiB writes, none with a short one. The analysis (wire
// checks) reads lengths from the IP headers, so a cut packet counts whole.
const DefaultSnaplen = 2048

// StopGrace is how long a helper has, after SIGTERM, to write its
// statistics and exit before it is killed.
const StopGrace = 5 * time.Second

// Lab is what a capture needs of a running lab (a *lab.Lab): run a helper
// in a node's namespace, and stop one (SIGTERM, then SIGKILL after grace);
// a capture helper stopped so writes its statistics, then its stream ends.
type Lab interface {
	RunHelper(ctx context.Context, node string, spec backend.HelperSpec) (backend.Helper, error)
	StopHelper(ctx context.Context, helper string, grace time.Duration) error
}

// Config is what a capture keeps and where it goes.
type Config struct {
	// Image is the capture helper's image (default: images.Ref(images.Capture, "")).
	Image string
	// Filter keeps only matching packets (packet.FilterSyntax), applied in the helpers.
	Filter string
	// Snaplen is the most bytes kept of each packet (0: DefaultSnaplen).
	Snaplen int
	// Count ends the capture after this many packets (0: no limit): Done is closed.
	Count int
	// Output receives the merged pcapng (nil: none).
	Output io.Writer
	// OnPacket is called with each packet and marker in time order.
	OnPacket func(capture.Packet)
}

// Session is a running capture: one helper per target node, merged.
type Session struct {
	l   Lab
	cfg Config
	m   *capture.Merger

	mu      sync.Mutex
	helpers map[string]*running // by node
	retired []*running          // helpers replaced by Restart, stopped already
	targets map[string]Target
	full    chan struct{}
	once    sync.Once
}

type running struct {
	h      backend.Helper
	stderr *capped
}

// Start runs one capture helper per target and returns once every one is
// capturing (its pcapng header has arrived). On error nothing is left
// running.
func Start(ctx context.Context, l Lab, targets []Target, cfg Config) (*Session, error) {
	if cfg.Image == "" {
		cfg.Image = images.Ref(images.Capture, "")
	}
	if cfg.Snaplen == 0 {
		cfg.Snaplen = DefaultSnaplen
	}
	if cfg.Filter != "" {
		if _, err := packet.ParseFilter(cfg.Filter); err != nil {
			return nil, err
		}
	}
	s := &Session{l: l, cfg: cfg, helpers: map[string]*running{}, targets: map[string]Target{}, full: make(chan struct{})}
	opts := []capture.MergeOption{}
	if cfg.Output != nil {
		opts = append(opts, capture.WithOutput(cfg.Output))
	}
	if cfg.OnPacket != nil {
		opts = append(opts, capture.WithPacketFunc(cfg.OnPacket))
	}
	if cfg.Count > 0 {
		opts = append(opts, capture.WithCount(cfg.Count, func() { s.once.Do(func() { close(s.full) }) }))
	}
	m, err := capture.NewMerger(opts...)
	if err != nil {
		return nil, err
	}
	s.m = m
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		s.targets[t.Node] = t
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.run(ctx, t)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		_, cerr := s.Close(context.WithoutCancel(ctx))
		if cerr != nil && !errors.Is(err, cerr) {
			err = errors.Join(err, cerr)
		}
		return nil, err
	}
	return s, nil
}

// run starts t's helper and adds its stream to the merger.
func (s *Session) run(ctx context.Context, t Target) error {
	argv := []string{"--snaplen", strconv.Itoa(s.cfg.Snaplen)}
	ifs := make([]string, 0, len(t.Interfaces))
	for name := range t.Interfaces {
		ifs = append(ifs, name)
	}
	slices.Sort(ifs)
	for _, name := range ifs {
		argv = append(argv, "--interface", name)
	}
	if s.cfg.Filter != "" {
		argv = append(argv, "--filter", s.cfg.Filter)
	}
	r := &running{stderr: &capped{n: 64 << 10}}
	h, err := s.l.RunHelper(ctx, t.Node, backend.HelperSpec{
		Purpose: "capture", Image: s.cfg.Image, Cmd: argv, Caps: images.Caps(images.Capture),
		Stderr: r.stderr,
	})
	if err != nil {
		if errors.Is(err, backend.ErrNotFound) {
			return fmt.Errorf("capture %s: %w (build it: scripts/images.sh capture, or make images)", t.Node, err)
		}
		return fmt.Errorf("capture %s: %w", t.Node, err)
	}
	r.h = h
	s.mu.Lock()
	if old := s.helpers[t.Node]; old != nil {
		s.retired = append(s.retired, old)
	}
	s.helpers[t.Node] = r
	s.mu.Unlock()
	st, err := capture.NewStream(h.Stdout(), t.Node, t.Interfaces)
	if err != nil {
		return fmt.Errorf("capture %s: the helper did not start: %s", t.Node, helperMessage(r, err))
	}
	s.m.Add(st)
	return nil
}

// helperMessage is what the helper said on stderr when it failed, else err.
func helperMessage(r *running, err error) string {
	for _, line := range strings.Split(strings.TrimSpace(r.stderr.String()), "\n") {
		if strings.HasPrefix(line, "capture: ") {
			return strings.TrimPrefix(line, "capture: ")
		}
	}
	return err.Error()
}

// Annotate puts a marker with text at time t among the packets (a step's
// start or end); Wireshark shows it as a packet comment.
func (s *Session) Annotate(t time.Time, text string) { s.m.Annotate(t, text) }

// Full is closed once Config.Count packets were captured.
func (s *Session) Full() <-chan struct{} { return s.full }

// Restart replaces node's helper with a new one: after the node was
// started again (Docker gives a restarted container a new network
// namespace) or joined to a network (a new interface).
func (s *Session) Restart(ctx context.Context, node string, t Target) error {
	s.mu.Lock()
	old := s.helpers[node]
	s.mu.Unlock()
	if old != nil {
		s.stopHelper(ctx, old)
	}
	s.mu.Lock()
	s.targets[node] = t
	s.mu.Unlock()
	return s.run(ctx, t)
}

func (s *Session) stopHelper(ctx context.Context, r *running) {
	if r.h != nil {
		_ = s.l.StopHelper(ctx, r.h.ID(), StopGrace)
	}
}

// Gaps are the stretches in which the kernel dropped packets at a node's
// interface, as the helpers reported them so far.
func (s *Session) Gaps() []capture.Gap { return s.m.Gaps() }

// Result is what a capture counted, once it is closed.
type Result struct {
	// Stats are the helpers' counters, one per node:network.
	Stats []capture.Stats
	// Dropped totals the packets the kernel dropped (the capture fell behind).
	Dropped uint64
}

// Close stops every helper with SIGTERM (so that each writes its
// statistics), reads their streams to the end, writes the merged
// statistics, and removes the helpers, whatever happened before. Call it
// once; ctx bounds the wait (a cancelled ctx still removes the helpers).
func (s *Session) Close(ctx context.Context) (Result, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	s.mu.Lock()
	all := append(slices.Collect(maps.Values(s.helpers)), s.retired...)
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.stopHelper(ctx, r)
		}()
	}
	wg.Wait()
	// The streams end when the helpers exit; should one hang, removing its
	// helper closes the stream.
	closed := make(chan error, 1)
	go func() { closed <- s.m.Close() }()
	var err error
	select {
	case err = <-closed:
	case <-time.After(StopGrace + 5*time.Second):
		s.remove(ctx, all)
		err = <-closed
	}
	if rerr := s.remove(ctx, all); rerr != nil {
		err = errors.Join(err, rerr)
	}
	res := Result{Stats: s.m.Stats(), Dropped: s.m.Dropped()}
	return res, err
}

func (s *Session) remove(ctx context.Context, all []*running) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, r := range all {
		if r.h == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.h.Remove(ctx, 0); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("remove capture helper %s: %w", r.h.ID()[:min(12, len(r.h.ID()))], err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// capped keeps the first n bytes written to it, safely from one goroutine
// writing while another reads after the helper ended.
type capped struct {
	mu sync.Mutex
	b  bytes.Buffer
	n  int
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String()
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.n - c.b.Len(); room > 0 {
		c.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
