package swarm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"socketlab/labctl/backend"
)

// Image describes an image that every host holds, as the same build: a
// node may be placed on any of them and nothing is pulled.
func (b *Backend) Image(ctx context.Context, ref string) (backend.Image, error) {
	imgs := make([]backend.Image, len(b.hosts))
	errs := make([]error, len(b.hosts))
	var wg sync.WaitGroup
	for i, h := range b.hosts {
		wg.Go(func() { imgs[i], errs[i] = h.d.Image(ctx, ref) })
	}
	wg.Wait()
	var missing []string
	for i, err := range errs {
		switch {
		case errors.Is(err, backend.ErrNotFound):
			missing = append(missing, b.hosts[i].name)
		case err != nil:
			return backend.Image{}, fmt.Errorf("host %s: %w", b.hosts[i].name, err)
		case imgs[i].ID != imgs[0].ID && errs[0] == nil:
			return backend.Image{}, fmt.Errorf("image %s differs between host %s and host %s: load the same build on each (docker save %s | docker -H ENDPOINT load)",
				ref, b.hosts[0].name, b.hosts[i].name, ref)
		}
	}
	if len(missing) > 0 {
		return backend.Image{}, fmt.Errorf("image %s on host %s: %w (copy it there: docker save %s | docker -H ENDPOINT load)",
			ref, strings.Join(missing, ", "), backend.ErrNotFound, ref)
	}
	return imgs[0], nil
}

// Pull fetches an image on every host.
func (b *Backend) Pull(ctx context.Context, ref string) error {
	return b.each(func(h *host) error { return h.d.Pull(ctx, ref) })
}

// RemoveFilesImages removes the files images on every host.
func (b *Backend) RemoveFilesImages(ctx context.Context, refs []string) ([]string, error) {
	var (
		mu      sync.Mutex
		removed []string
	)
	err := b.each(func(h *host) error {
		r, err := h.d.RemoveFilesImages(ctx, refs)
		mu.Lock()
		defer mu.Unlock()
		for _, ref := range r {
			if !slices.Contains(removed, ref) {
				removed = append(removed, ref)
			}
		}
		return err
	})
	return removed, err
}

// AddFiles makes the image on the manager and copies it to every other
// host, so that all hold the same build.
func (b *Backend) AddFiles(ctx context.Context, base string, files []backend.File, labels map[string]string) (string, error) {
	m := b.manager()
	ref, err := m.d.AddFiles(ctx, base, files, labels)
	if err != nil {
		return "", fmt.Errorf("host %s: %w", m.name, err)
	}
	want, err := m.d.Image(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("host %s: %w", m.name, err)
	}
	err = b.each(func(h *host) error {
		if h == m {
			return nil
		}
		if img, err := h.d.Image(ctx, ref); err == nil && img.ID == want.ID {
			return nil
		}
		return m.d.CopyImage(ctx, ref, h.d)
	})
	return ref, err
}
