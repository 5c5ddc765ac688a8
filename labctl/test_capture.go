package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"socketlab/internal/images"
	"socketlab/labctl/check"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
	"socketlab/labctl/tap"
)

// testCapture is the capture of one scenario's lab during labctl test,
// and the file it goes to ("" when it is kept only for the wire checks).
type testCapture struct {
	*tap.Recording
	file string
	f    *os.File
}

// startTestCapture captures every node of l into dir/<lab>.pcapng when dir
// is set, or only in memory when a step of sc checks the wire; it returns
// nil when neither. wireOnly captures only the nodes of the steps that
// check the wire (when dir is not set).
func startTestCapture(ctx context.Context, l *lab.Lab, sc *scenario.Scenario, dir string, wireOnly bool) (*testCapture, error) {
	if dir == "" && !sc.HasWire() {
		return nil, nil
	}
	e, err := engine(ctx)
	if err != nil {
		return nil, err
	}
	c := &testCapture{}
	var out io.Writer
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("capture: %w (give --capture a directory you can write)", err)
		}
		c.file = filepath.Join(dir, l.Name()+".pcapng")
		if c.f, err = os.Create(c.file); err != nil {
			return nil, fmt.Errorf("capture: %w", err)
		}
		out = c.f
	}
	var nodes []string
	if wireOnly && dir == "" {
		for _, st := range sc.Steps {
			if st.Wire() != nil && !slices.Contains(nodes, st.Node) {
				nodes = append(nodes, st.Node)
			}
		}
	}
	c.Recording, err = tap.Record(ctx, l, images.Ref(images.Capture, e.ImageTag()), out, nodes...)
	if err != nil {
		if c.f != nil {
			c.f.Close()
			os.Remove(c.file)
		}
		return nil, fmt.Errorf("capture: %w", err)
	}
	return c, nil
}

// finish stops the capture, names the file in rep and says what it holds.
func (c *testCapture) finish(ctx context.Context, rep *check.Report, say func(string, ...any)) {
	if c == nil {
		return
	}
	res, err := c.Recording.Close(ctx)
	if c.f != nil {
		if cerr := c.f.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}
	if err != nil && rep.Setup == "" {
		rep.Setup = fmt.Sprintf("capture: %v", err)
	}
	if c.file == "" {
		return
	}
	rep.Capture = c.file
	say("== %s: %d packets captured to %s, %d dropped by the kernel", rep.Scenario, c.Count(), c.file, res.Dropped)
}
