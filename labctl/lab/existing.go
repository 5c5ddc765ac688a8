package lab

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"socketlab/labctl/backend"
)

// checkExisting compares what the engine holds with the plan: the same
// definitions may stay, anything else is a conflict. It also finds runtime
// names the lab needs that belong to someone else.
func (u *upper) checkExisting(ctx context.Context, ctrs []backend.Container, nets []backend.Network) error {
	var diffs []string
	want := map[string]*netPlan{}
	for _, n := range u.p.nets {
		want[n.net.Name] = n
	}
	for _, n := range nets {
		name := n.Labels[LabelNetwork]
		switch w, ok := want[name]; {
		case !ok:
			diffs = append(diffs, "network "+name+" is not in the scenario")
		case n.Labels[LabelSpec] != w.spec.Labels[LabelSpec]:
			diffs = append(diffs, "network "+name+" is defined differently")
		}
	}
	wantNode := map[string]*nodePlan{}
	for _, n := range u.p.nodes {
		wantNode[n.name] = n
	}
	for _, c := range ctrs {
		name := c.Labels[LabelNode]
		w, ok := wantNode[name]
		switch {
		case !ok:
			diffs = append(diffs, "node "+name+" is not in the scenario")
		case c.Labels[LabelSpec] != w.spec.Labels[LabelSpec]:
			diffs = append(diffs, "node "+name+" is defined differently")
		case c.ImageID != u.images[w.spec.Image].ID:
			diffs = append(diffs, imageChange(name, c.Labels, w))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%w: lab %s: %s: run labctl down %s first, or labctl up --recreate",
			ErrConflict, u.p.name, strings.Join(diffs, "; "), u.p.name)
	}

	// Names the lab will create must be free.
	allCtrs, allNets, err := u.e.b.List(ctx, nil)
	if err != nil {
		return err
	}
	var taken []string
	for _, n := range u.p.nets {
		for _, s := range allNets {
			if s.Name == n.spec.Name && s.Labels[LabelLab] != u.p.name {
				taken = append(taken, "network "+s.Name)
			}
		}
	}
	for _, n := range u.p.nodes {
		for _, c := range allCtrs {
			if c.Name == n.spec.Name && c.Labels[LabelLab] != u.p.name {
				taken = append(taken, "container "+c.Name)
			}
		}
	}
	if len(taken) > 0 {
		return fmt.Errorf("%w: %s already exist%s and %s not part of lab %s: remove %s, or give the lab another name (labctl up --name)",
			ErrNameTaken, strings.Join(taken, ", "), plural(len(taken), "s", ""), plural(len(taken), "is", "are"), u.p.name, plural(len(taken), "it", "them"))
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// imageChange says why node name (its container's labels) does not run the
// image the plan w makes: its files changed since it started, or the image
// they go into (or that it runs) was rebuilt.
func imageChange(name string, labels map[string]string, w *nodePlan) string {
	if len(w.files) > 0 && labels[LabelFilesOf] == w.spec.Labels[LabelFilesOf] {
		if changed := changedFiles(labels[LabelFilesAt], w.spec.Labels[LabelFilesAt], w.files); len(changed) > 0 {
			return fmt.Sprintf("node %s was started with other contents of %s (edited since)", name, strings.Join(changed, ", "))
		}
		return fmt.Sprintf("node %s was started with other files", name)
	}
	return "node " + name + " runs an older build of " + w.image
}

// filesSums is, for each file (or folder) copied into a node, its target
// and a digest of what is at its source, "/lab/a.py=3f2a…;/lab/data=…":
// a later up names the files that changed.
func filesSums(files []backend.File) string {
	var parts []string
	for _, f := range files {
		h := sha256.New()
		filepath.WalkDir(f.Source, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // AddFiles reports what cannot be read
			}
			rel, _ := filepath.Rel(f.Source, path)
			fmt.Fprintf(h, "%s\x00%v\x00", rel, d.Type())
			if d.Type().IsRegular() {
				if b, err := os.ReadFile(path); err == nil {
					h.Write(b)
				}
			}
			return nil
		})
		parts = append(parts, f.Target+"="+hex.EncodeToString(h.Sum(nil))[:16])
	}
	return strings.Join(parts, ";")
}

// changedFiles lists the sources of files whose digest in now differs from
// the one in was, as a person wrote them (relative to the working folder
// when they are under it).
func changedFiles(was, now string, files []backend.File) []string {
	old := map[string]string{}
	for p := range strings.SplitSeq(was, ";") {
		if t, sum, ok := strings.Cut(p, "="); ok {
			old[t] = sum
		}
	}
	cur := map[string]string{}
	for p := range strings.SplitSeq(now, ";") {
		if t, sum, ok := strings.Cut(p, "="); ok {
			cur[t] = sum
		}
	}
	wd, _ := os.Getwd()
	var out []string
	for _, f := range files {
		if old[f.Target] == cur[f.Target] {
			continue
		}
		src := f.Source
		if rel, err := filepath.Rel(wd, src); err == nil && !strings.HasPrefix(rel, "..") {
			src = "./" + rel
		}
		out = append(out, src)
	}
	return out
}
