package main

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/spf13/cobra"
)

func logsCommand() *cobra.Command {
	var labName string
	var follow, all bool
	c := &cobra.Command{
		Use:   "logs NODE",
		Short: "Print a node's log: a server's JSON line per connection or datagram",
		Long: `logs prints a node's log. A server writes one JSON line per connection, request
or datagram. Its healthcheck connects every few seconds; those lines carry
"healthcheck": true and are left out unless --all is given.`,
		Example: `  labctl logs echo
  labctl logs -f chat            # follow; Ctrl-C to stop
  labctl logs --all echo         # with the healthcheck's own lines
  labctl logs --lab mine welcome`,
		Args:              args(cobra.ExactArgs(1)),
		ValidArgsFunction: completeNodes,
		RunE: func(cmd *cobra.Command, a []string) error {
			l, err := openLab(cmd.Context(), labName)
			if err != nil {
				return err
			}
			stdout := cmd.OutOrStdout()
			if !all {
				f := &healthFilter{w: stdout}
				defer f.Flush()
				stdout = f
			}
			return l.Logs(cmd.Context(), a[0], follow, stdout, cmd.ErrOrStderr())
		},
	}
	labFlag(c, &labName)
	c.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines")
	c.Flags().BoolVarP(&all, "all", "a", false, "also print the lines of the healthcheck's own connections")
	return c
}

// healthFilter passes log lines on to w, leaving out those a server wrote
// about its own healthcheck (a JSON object with "healthcheck": true; see
// service.HealthAttr). Other lines pass as they are, JSON or not.
type healthFilter struct {
	w    io.Writer
	line []byte // a line begun but not yet ended
}

func (f *healthFilter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			f.line = append(f.line, p...)
			break
		}
		line := p[:i+1]
		if len(f.line) > 0 {
			line = append(f.line, line...)
		}
		p = p[i+1:]
		err := f.emit(line)
		f.line = f.line[:0]
		if err != nil {
			return n - len(p), err
		}
	}
	return n, nil
}

// Flush writes a last line that has no newline.
func (f *healthFilter) Flush() error {
	if len(f.line) == 0 {
		return nil
	}
	err := f.emit(f.line)
	f.line = nil
	return err
}

func (f *healthFilter) emit(line []byte) error {
	if isHealthLine(line) {
		return nil
	}
	_, err := f.w.Write(line)
	return err
}

// isHealthLine reports whether line is a JSON object with "healthcheck": true.
func isHealthLine(line []byte) bool {
	if !bytes.Contains(line, []byte(`"healthcheck"`)) {
		return false // the common case, without decoding
	}
	var m struct {
		Healthcheck bool `json:"healthcheck"`
	}
	return json.Unmarshal(line, &m) == nil && m.Healthcheck
}
