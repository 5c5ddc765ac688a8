package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"

	"socketlab/labctl/backend"
)

// FilesRepo is the repository of the images AddFiles makes; each is tagged
// with a hash of its base image and files.
const FilesRepo = "socketlab/node-files"

// maxFilesBytes bounds the files one node gets copied in: they travel in a
// build context held in memory. A folder that large belongs in mounts.
const maxFilesBytes = 64 << 20

// Pull pulls an image from its registry.
func (b *Backend) Pull(ctx context.Context, ref string) error {
	res, err := b.cli.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return classify("pull "+ref, err)
	}
	if err := res.Wait(ctx); err != nil {
		return classify("pull "+ref, err)
	}
	return nil
}

// RemoveFilesImages removes the FilesRepo images of refs (nil: all of
// them) that no container uses: Docker refuses to remove those (a
// conflict), which leaves them be.
func (b *Backend) RemoveFilesImages(ctx context.Context, refs []string) ([]string, error) {
	if refs == nil {
		res, err := b.cli.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("reference", FilesRepo)})
		if err != nil {
			return nil, classify("list the images of nodes' files", err)
		}
		for _, img := range res.Items {
			for _, tag := range img.RepoTags {
				if strings.HasPrefix(tag, FilesRepo+":") {
					refs = append(refs, tag)
				}
			}
		}
	}
	var removed []string
	var errs []error
	for _, ref := range refs {
		if !strings.HasPrefix(ref, FilesRepo+":") {
			continue // never anything but the files images
		}
		_, err := b.cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: true})
		switch {
		case err == nil:
			removed = append(removed, ref)
		case cerrdefs.IsConflict(err), cerrdefs.IsNotFound(err):
			// in use by a container, or gone already
		default:
			errs = append(errs, classify("remove image "+ref, err))
		}
	}
	return removed, errors.Join(errs...)
}

// AddFiles builds base with files copied in, with Docker's classic builder:
// FROM the base's image ID (a build FROM an ID never pulls), one COPY per
// file. A container created with a read-only root refuses CopyToContainer,
// so the files go into an image layer instead; a build context travels
// through the API, so a remote engine gets them too.
func (b *Backend) AddFiles(ctx context.Context, base string, files []backend.File, labels map[string]string) (string, error) {
	img, err := b.cli.ImageInspect(ctx, base)
	if err != nil {
		return "", classify("inspect image "+base, err)
	}
	buildCtx, err := filesContext(img.ID, files)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(append([]byte(img.ID+"\n"), buildCtx...))
	ref := FilesRepo + ":" + hex.EncodeToString(sum[:8])
	if _, err := b.cli.ImageInspect(ctx, ref); err == nil {
		return ref, nil
	}
	res, err := b.cli.ImageBuild(ctx, bytes.NewReader(buildCtx), client.ImageBuildOptions{
		Tags: []string{ref}, Remove: true, ForceRemove: true, PullParent: false,
		Dockerfile: "Dockerfile", Labels: labels, Version: build.BuilderV1,
	})
	if err != nil {
		return "", classify("build the files of "+base, err)
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	var last string
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", fmt.Errorf("build the files of %s: %w", base, err)
		}
		if m.Error != nil {
			return "", fmt.Errorf("build the files of %s: %s", base, m.Error.Message)
		}
		if s := strings.TrimSpace(m.Stream); s != "" {
			last = s
		}
	}
	if _, err := b.cli.ImageInspect(ctx, ref); err != nil {
		return "", fmt.Errorf("build the files of %s: no image %s after the build (%s)", base, ref, last)
	}
	return ref, nil
}

// filesContext is a build context: a Dockerfile FROM baseID and each file
// or folder under f<i>/, copied to its target. Times, owners and the order
// are fixed, so that the same files give the same bytes, and the same hash.
func filesContext(baseID string, files []backend.File) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var df strings.Builder
	fmt.Fprintf(&df, "FROM %s\n", baseID)
	total := int64(0)
	for i, f := range files {
		name := fmt.Sprintf("f%d", i)
		st, err := os.Stat(f.Source)
		if err != nil {
			return nil, fmt.Errorf("files: %w", err)
		}
		target, _ := json.Marshal(f.Target)
		if st.IsDir() {
			src, _ := json.Marshal(name + "/")
			fmt.Fprintf(&df, "COPY [%s, %s]\n", src, strings.TrimSuffix(string(target), `"`)+`/"`)
		} else {
			src, _ := json.Marshal(name)
			fmt.Fprintf(&df, "COPY [%s, %s]\n", src, target)
		}
		err = filepath.WalkDir(f.Source, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(f.Source, p)
			entry := filepath.ToSlash(filepath.Join(name, rel))
			info, err := d.Info()
			if err != nil {
				return err
			}
			switch {
			case d.IsDir():
				return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: entry + "/", Mode: 0o755})
			case d.Type()&fs.ModeSymlink != 0:
				return nil // inside a folder: a link could lead anywhere on the host
			case !d.Type().IsRegular():
				return nil
			}
			total += info.Size()
			if total > maxFilesBytes {
				return fmt.Errorf("the files add up to more than %d MiB: bind-mount large folders with mounts instead", maxFilesBytes>>20)
			}
			mode := int64(0o644)
			if info.Mode()&0o111 != 0 {
				mode = 0o755
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: entry, Mode: mode, Size: info.Size()}); err != nil {
				return err
			}
			r, err := os.Open(p)
			if err != nil {
				return err
			}
			defer r.Close()
			_, err = io.CopyN(tw, r, info.Size())
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("files: %s: %w", f.Source, err)
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "Dockerfile", Mode: 0o644, Size: int64(df.Len())}); err != nil {
		return nil, err
	}
	io.WriteString(tw, df.String())
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
