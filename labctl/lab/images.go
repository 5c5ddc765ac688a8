package lab

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"socketlab/internal/images"
	"socketlab/labctl/backend"
)

// inspectImages checks that every image is there and reads its
// healthcheck. Nothing is pulled unless the caller asked for it
// (WithPullMissing), and never a socketlab image, which is built here: a
// registry's image of that name would be someone else's.
func (u *upper) inspectImages(ctx context.Context) error {
	// Every node is sealed, or unsealed, by the isolation helper.
	refs := append(u.p.images(), images.Ref(images.Isolate, u.o.tag))
	if u.info.PinAddresses {
		refs = append(refs, images.Ref(images.Pin6, u.o.tag))
	}
	if u.p.needsProbe() && !slices.Contains(refs, u.probeImage()) {
		refs = append(refs, u.probeImage())
	}
	infos := make([]backend.Image, len(refs))
	errs := parallel(len(refs), func(i int) (err error) {
		infos[i], err = u.e.b.Image(ctx, refs[i])
		if errors.Is(err, backend.ErrNotFound) && u.o.pull && !strings.HasPrefix(refs[i], images.Prefix) {
			if err = u.e.b.Pull(ctx, refs[i]); err != nil {
				return fmt.Errorf("%w: pull %s: %w", ErrImageMissing, refs[i], err)
			}
			infos[i], err = u.e.b.Image(ctx, refs[i])
		}
		return err
	})
	var missing []string
	for i, ref := range refs {
		switch {
		case errors.Is(errs[i], backend.ErrNotFound):
			missing = append(missing, ref+": "+howToGet(ref, u.o.pull))
		case errs[i] != nil:
			return errs[i]
		default:
			u.images[ref] = infos[i]
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w (nothing was created, nothing pulled):\n  %s", ErrImageMissing, strings.Join(missing, "\n  "))
	}
	return nil
}

// howToGet says how to get a missing image.
func howToGet(ref string, pulled bool) string {
	name := strings.TrimPrefix(ref, images.Prefix)
	name, _, _ = strings.Cut(name, ":")
	switch {
	case !strings.HasPrefix(ref, images.Prefix):
		if pulled {
			return "not there, and the pull failed"
		}
		return "not there: docker pull " + ref + ", or build it; or let labctl pull what is missing: labctl up --pull missing"
	case name == images.Toolbox:
		return "not built: make toolbox"
	case images.IsShortName(name):
		return "not built: make images"
	}
	return "not there: build it (socketlab images are never pulled)"
}

// probeImage is the image tcp and udp readiness checks run sock from.
func (u *upper) probeImage() string { return images.Ref(images.Client, u.o.tag) }

// addFiles makes, for each node with files, the image that is its image
// with the files in (a hardened node's root is read-only, so they cannot be
// copied into its container), and runs the node on it.
func (u *upper) addFiles(ctx context.Context) error {
	for _, n := range u.p.nodes {
		if len(n.files) == 0 {
			continue
		}
		// A build may take seconds on a busy engine: say what is going on.
		u.ev.emit(KindNode, n.name, Preparing, fmt.Sprintf("copying %d %s into an image on %s", len(n.files), plural(len(n.files), "file", "files"), n.image), nil)
		ref, err := u.e.b.AddFiles(ctx, n.image, n.files, map[string]string{LabelFiles: n.image})
		if err != nil {
			return fmt.Errorf("node %s: files: %w", n.name, err)
		}
		img, err := u.e.b.Image(ctx, ref)
		if err != nil {
			return fmt.Errorf("node %s: files: %w", n.name, err)
		}
		n.spec.Image = ref
		n.spec.Labels[LabelFiles] = n.image // status shows the image the node is of
		// What the files image was made of, so that a later up can tell
		// edited files from a rebuilt image.
		n.spec.Labels[LabelFilesOf] = u.images[n.image].ID
		n.spec.Labels[LabelFilesAt] = filesSums(n.files)
		u.images[ref] = img
		u.ev.emit(KindNode, n.name, Preparing, "its files are in "+ref, nil)
	}
	return nil
}
