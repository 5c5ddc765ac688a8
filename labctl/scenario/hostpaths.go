package scenario

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ResolveHostPaths finds the host paths of every node's files and mounts:
// relative to the folder of the scenario file (the working folder for a
// scenario built in code), with symbolic links followed, and sets each
// Bind's HostPath. A path that does not exist is an error; so is one outside
// the scenario's folder unless allowOutside: a scenario someone else wrote
// must not read /etc or mount the Docker socket by naming them, nor through
// a symbolic link. It returns Errors located in the file, and sets nothing
// when it fails. A scenario resolved already under the same rule or a
// stricter one is left as it is: the paths are found once (labctl test
// checks every file before it brings a lab up, and the engine's Up then
// finds them resolved).
func (s *Scenario) ResolveHostPaths(allowOutside bool) error {
	if s.hostPaths.resolved && (allowOutside || !s.hostPaths.anywhere) {
		return nil
	}
	dir := "."
	if s.File != "" {
		dir = filepath.Dir(s.File)
	}
	root, err := filepath.Abs(dir)
	if err == nil {
		root, err = filepath.EvalSymlinks(root)
	}
	if err != nil {
		return Errors{{File: s.File, Reason: fmt.Sprintf("cannot find the scenario's folder: %v", err)}}
	}
	var errs Errors
	type found struct {
		b    *Bind
		path string
	}
	var done []found
	for _, n := range s.Nodes {
		if n == nil {
			continue
		}
		for _, list := range []struct {
			key   string
			binds []Bind
		}{{"files", n.Files}, {"mounts", n.Mounts}} {
			for i := range list.binds {
				b := &list.binds[i]
				path := fmt.Sprintf("%s.%s[%d]", join("nodes", n.Name), list.key, i)
				real, e := resolveHostPath(root, b.Source, allowOutside)
				if e != nil {
					p := s.where(path)
					e.File, e.Line, e.Column, e.Path = s.File, p.line, p.column, path
					errs = append(errs, e)
					continue
				}
				done = append(done, found{b, real})
			}
		}
	}
	if len(errs) > 0 {
		errs.sort()
		return errs
	}
	for _, f := range done {
		f.b.HostPath = f.path
	}
	s.hostPaths = hostPathRule{resolved: true, anywhere: allowOutside}
	return nil
}

// hostPathRule is how a scenario's host paths were resolved: at all, and
// whether paths outside its folder were allowed.
type hostPathRule struct{ resolved, anywhere bool }

// resolveHostPath finds src (relative to root) on the host and checks that
// it stays inside root.
func resolveHostPath(root, src string, allowOutside bool) (string, *Error) {
	abs := src
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(root, src)
	}
	real, err := filepath.EvalSymlinks(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", &Error{Reason: fmt.Sprintf("host path %q does not exist", src),
			Hint: fmt.Sprintf("paths are relative to the scenario's folder, %s", root)}
	case err != nil:
		return "", &Error{Reason: fmt.Sprintf("host path %q: %v", src, err)}
	}
	if _, err := os.Stat(real); err != nil {
		return "", &Error{Reason: fmt.Sprintf("host path %q: %v", src, err)}
	}
	if !allowOutside && !inside(root, real) {
		via := ""
		if real != filepath.Clean(abs) {
			via = fmt.Sprintf(" (it leads to %s)", real)
		}
		return "", &Error{Reason: fmt.Sprintf("host path %q is outside the scenario's folder %s%s", src, root, via),
			Hint: "a scenario may read only its own folder: move the file there, or, for a scenario you trust, pass --allow-host-paths"}
	}
	return real, nil
}

// inside tells whether path is root or below it.
func inside(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
