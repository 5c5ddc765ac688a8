package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"socketlab/labctl/scenario"
)

// DefaultTag is the tag of the images a lab runs unless WithImageTag says
// otherwise: what `make images` builds.
const DefaultTag = "latest"

// ImageRef is the Docker image a scenario's image name runs:
// socketlab/NAME:latest.
func ImageRef(image string) string { return scenario.ImagePrefix + image + ":" + DefaultTag }

var setupOnce sync.Once

// setup prepares the process for testcontainers before its first use.
// The lab machines have no registry: Ryuk (testcontainers' reaper) would be
// pulled, so it is turned off, with exactly "true" ("1" turns it back on). The
// engine removes what it creates itself, by label. testcontainers' log lines
// are dropped unless WithEngineLog asks for them.
func setup() {
	setupOnce.Do(func() {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
		tclog.SetDefault(tclog.NewNoopLogger())
	})
}

// engine is a connection to the Docker engine.
type engine struct {
	cli *client.Client
}

// connect reaches the Docker engine named by the environment (DOCKER_HOST,
// default the local socket) and checks that it answers.
func connect(ctx context.Context) (*engine, error) {
	setup()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEngineUnreachable, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w at %s: is the Docker daemon running? Start it, or point DOCKER_HOST at one (%v)",
			ErrEngineUnreachable, cli.DaemonHost(), err)
	}
	return &engine{cli: cli}, nil
}

func (e *engine) close() error { return e.cli.Close() }

// Ping checks that a Docker engine answers. The error wraps
// ErrEngineUnreachable and says what to do.
func Ping(ctx context.Context) error {
	e, err := connect(ctx)
	if err != nil {
		return err
	}
	return e.close()
}

// ImagesMissing returns which of the scenario image names (welcome, echo,
// client...) have no built image, in the order given.
func ImagesMissing(ctx context.Context, images ...string) ([]string, error) {
	e, err := connect(ctx)
	if err != nil {
		return nil, err
	}
	defer e.close()
	var missing []string
	for _, img := range images {
		if _, err := e.cli.ImageInspect(ctx, ImageRef(img)); err != nil {
			if !cerrdefs.IsNotFound(err) {
				return nil, fmt.Errorf("inspect image %s: %w", ImageRef(img), err)
			}
			missing = append(missing, img)
		}
	}
	return missing, nil
}

// isOverlap reports Docker's refusal of a subnet that another network uses.
func isOverlap(err error) bool {
	return err != nil && strings.Contains(err.Error(), "overlaps")
}

// engineErr turns a Docker error into one that says what to do.
func engineErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if client.IsErrConnectionFailed(err) {
		return fmt.Errorf("%s: %w: is the Docker daemon running? (%v)", op, ErrEngineUnreachable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// quietly bounds cleanup work that must run even when the caller's context
// has ended (Ctrl-C during up still removes what up created).
func quietly(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
}

// logWriter adapts an io.Writer to testcontainers' logger.
type logWriter struct{ w io.Writer }

func (l logWriter) Printf(format string, v ...any) {
	fmt.Fprintf(l.w, strings.TrimSuffix(format, "\n")+"\n", v...)
}

func tcLogger(w io.Writer) tclog.Logger {
	if w == nil {
		return tclog.NewNoopLogger()
	}
	return logWriter{w}
}

// joinErrs is errors.Join that keeps a single error as it is.
func joinErrs(errs []error) error {
	var kept []error
	for _, err := range errs {
		if err != nil {
			kept = append(kept, err)
		}
	}
	if len(kept) == 1 {
		return kept[0]
	}
	return errors.Join(kept...)
}

// apiAtLeast tells whether the engine speaks API major.minor or later.
func (e *engine) apiAtLeast(major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(e.cli.ClientVersion(), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}
