// Package labtest runs labs from go test: it checks that a Docker engine and
// the images are there (failing in CI, skipping on a developer's machine,
// saying why either way), names labs uniquely so that packages and test
// runs never collide, and sweeps leftovers by label before and after.
package labtest

import (
	"socketlab/internal/labtest/need"

	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"socketlab/internal/images"
	"socketlab/labctl/backend/docker"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// state is what Main learnt about the engine, for the tests.
var state struct {
	prefix  string
	missing []string // images not built
	skip    string   // why every test skips ("" when the engine is there)
	engine  *lab.Engine
}

// Engine is the engine of the test run, on the Docker backend; nil when
// there is no Docker engine (Need skips or fails the test first).
func Engine() *lab.Engine { return state.engine }

// inCI tells whether the tests run in CI, where a missing engine or image
// is a failure, not a reason to skip.
func inCI() bool { return need.CI() }

// Main runs a test package's tests with a lab engine; call it from TestMain
// and exit with what it returns. prefix starts every lab name of the package
// (e.g. "it"), so that the sweeps touch nothing else: before the run, it
// removes labs with that prefix left by test processes that are gone; after,
// those of this process.
//
// LABTEST_PREFIX, when set, goes before prefix ("me-" makes "me-it"), so
// that people sharing an engine each sweep only their own labs.
//
// Without a Docker engine, or without the images (Images), Main fails the
// run when CI=true and says what to do; otherwise the tests that need them
// skip, saying why.
func Main(m *testing.M, prefix string) int {
	state.prefix = os.Getenv("LABTEST_PREFIX") + prefix
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := docker.New(ctx)
	if err == nil {
		defer b.Close()
		state.engine, err = lab.New(b)
	}
	if err != nil {
		if inCI() {
			fmt.Fprintf(os.Stderr, "FAIL: these tests need a Docker engine (CI=true, so they do not skip): %v\n", err)
			return 1
		}
		state.skip = fmt.Sprintf("no Docker engine (%v); CI=true would fail instead", err)
		return m.Run()
	}
	missing, err := state.engine.ImagesMissing(ctx, Images()...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: checking images: %v\n", err)
		return 1
	}
	if len(missing) > 0 && inCI() {
		fmt.Fprintf(os.Stderr, "FAIL: images not built: %s: run make images and make toolbox first (CI=true, so the tests do not skip)\n", strings.Join(refs(missing), ", "))
		return 1
	}
	state.missing = missing
	if os.Geteuid() == 0 {
		SweepRig()
	}
	if err := sweep(ctx, func(name string) bool { return !alive(pidOf(name)) }); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: sweeping leftover labs: %v\n", err)
		return 1
	}
	code := m.Run()
	// The tests may have run longer than ctx lasts: the last sweep gets its own.
	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := sweep(ctx, func(name string) bool { return pidOf(name) == os.Getpid() }); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: sweeping this run's labs: %v\n", err)
		return 1
	}
	return code
}

func refs(names []string) []string {
	out := make([]string, len(names))
	for i, img := range names {
		out[i] = images.Ref(img, "")
	}
	return out
}

// sweep takes down the package's labs for which which says so.
func sweep(ctx context.Context, which func(name string) bool) error {
	labs, err := state.engine.List(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range labs {
		if strings.HasPrefix(l.Name, state.prefix+"-") && which(l.Name) {
			if err := state.engine.Down(ctx, l.Name); err != nil && !errors.Is(err, lab.ErrNoLab) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// pidOf is the test process that named the lab (see Name); 0 if none.
func pidOf(name string) int {
	parts := strings.Split(name, "-")
	if len(parts) < 3 {
		return 0
	}
	pid, _ := strconv.Atoi(parts[1])
	return pid
}

func alive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

// Need stops t unless the engine is there: Skip on a developer's machine,
// and (CI having failed in Main already) never silently.
func Need(t testing.TB) {
	t.Helper()
	if state.prefix == "" {
		t.Fatal("labtest: call labtest.Main from TestMain")
	}
	if state.skip != "" {
		t.Skip(state.skip)
	}
}

// NeedImages stops t unless the images are built (see Need).
func NeedImages(t testing.TB, names ...string) {
	t.Helper()
	Need(t)
	var missing []string
	for _, img := range names {
		if slices.Contains(state.missing, img) {
			missing = append(missing, images.Ref(img, ""))
		}
	}
	if len(missing) > 0 {
		t.Skipf("images not built: %s: run make images and make toolbox (CI=true would fail instead)", strings.Join(missing, ", "))
	}
}

// Name returns a lab name unique to this test and process:
// prefix-pid-test-random, at most 40 characters.
func Name(t testing.TB) string {
	var b [2]byte
	rand.Read(b[:])
	test := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, strings.TrimPrefix(t.Name(), "Test"))
	head := fmt.Sprintf("%s-%d-", state.prefix, os.Getpid())
	test = strings.Trim(test, "-")
	if room := 40 - len(head) - 5; len(test) > room {
		test = strings.Trim(test[len(test)-room:], "-")
	}
	for strings.Contains(test, "--") {
		test = strings.ReplaceAll(test, "--", "-")
	}
	return head + test + "-" + hex.EncodeToString(b[:])
}

// Up brings sc up as a lab named Name(t) (unless opts name it) and takes it
// down when the test ends. It skips t when an image is missing (see
// NeedImages) and fails it if the lab does not come up.
func Up(t testing.TB, sc *scenario.Scenario, opts ...lab.UpOption) *lab.Lab {
	t.Helper()
	var images []string
	for _, n := range sc.Nodes {
		images = append(images, n.Image)
		if r := n.Ready; r != nil && (r.TCP != 0 || r.UDP != 0) {
			images = append(images, "client") // the readiness probe runs sock
		}
	}
	NeedImages(t, images...)
	l, err := Start(t, sc, opts...)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	return l
}

// Start is Up for use from goroutines: it neither skips nor fails t, but
// returns the error. The lab, if it came up, is taken down when t ends.
func Start(t testing.TB, sc *scenario.Scenario, opts ...lab.UpOption) (*lab.Lab, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := state.engine.Up(ctx, sc, append([]lab.UpOption{lab.WithName(Name(t))}, opts...)...)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := state.engine.Down(ctx, l.Name()); err != nil && !errors.Is(err, lab.ErrNoLab) {
			t.Errorf("down %s: %v", l.Name(), err)
		}
	})
	return l, nil
}

// Exists tells whether the engine holds any container or network of the lab
// called name (found by label).
func Exists(t testing.TB, name string) bool {
	t.Helper()
	labs, err := state.engine.List(context.Background())
	if err != nil {
		t.Fatalf("list labs: %v", err)
	}
	return slices.ContainsFunc(labs, func(s lab.Summary) bool { return s.Name == name })
}

// Services are the services of this repository (those with a
// services/NAME/cmd folder): the images `make images` builds, besides client.
func Services() []string {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	dirs, _ := filepath.Glob(filepath.Join(root, "services", "*", "cmd"))
	var out []string
	for _, d := range dirs {
		name := filepath.Base(filepath.Dir(d))
		if images.IsService(name) {
			out = append(out, name)
		}
	}
	return out
}

// Images are the images the tests may use: every service's, client, and
// the toolbox (make toolbox), which the Python lessons' scenario runs, and
// the helpers' (capture, impair).
func Images() []string {
	return append(append(Services(), images.Client, images.Toolbox), images.Helpers()...)
}

// Missing tells whether image is not built (when the engine is there).
func Missing(image string) bool { return slices.Contains(state.missing, image) }
