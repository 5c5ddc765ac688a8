package lab

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"socketlab/internal/images"
	"socketlab/labctl/scenario"
)

// Options. Each call takes only the options that apply to it, so that an
// option given to a call that would ignore it does not compile: New takes
// EngineOptions (the defaults of its calls), Up UpOptions, Down
// DownOptions, Open OpenOptions. An option checks its value when it is
// applied, and the call fails with ErrInvalid if it is wrong.

// EngineOption sets a default of every call of an Engine (New).
type EngineOption interface{ applyEngine(*options) error }

// UpOption configures one Up.
type UpOption interface{ applyUp(*options) error }

// DownOption configures one Down.
type DownOption interface{ applyDown(*options) error }

// OpenOption configures the Lab handle Open returns.
type OpenOption interface{ applyOpen(*options) error }

// UpOnly is an option of Up alone.
type UpOnly func(*options) error

func (f UpOnly) applyUp(o *options) error { return f(o) }

// Progress is an option of Up and Down: where their events go.
type Progress func(*options) error

func (f Progress) applyUp(o *options) error   { return f(o) }
func (f Progress) applyDown(o *options) error { return f(o) }

// UpDefault is an option of Up, or of New as the default of every Up.
type UpDefault func(*options) error

func (f UpDefault) applyEngine(o *options) error { return f(o) }
func (f UpDefault) applyUp(o *options) error     { return f(o) }

// StartSetting is an option of Up and Open (the Lab handle's Start), or
// of New as the default of both.
type StartSetting func(*options) error

func (f StartSetting) applyEngine(o *options) error { return f(o) }
func (f StartSetting) applyUp(o *options) error     { return f(o) }
func (f StartSetting) applyOpen(o *options) error   { return f(o) }

// LabSetting is an option of Up, Open (the Lab handle's operations) and
// Down, or of New as the default of them all.
type LabSetting func(*options) error

func (f LabSetting) applyEngine(o *options) error { return f(o) }
func (f LabSetting) applyUp(o *options) error     { return f(o) }
func (f LabSetting) applyDown(o *options) error   { return f(o) }
func (f LabSetting) applyOpen(o *options) error   { return f(o) }

// options are the settings of one call, the engine's defaults overridden
// by the call's options.
type options struct {
	name          string
	progress      func(Event)
	healthTimeout time.Duration
	pools         pools
	tag           string
	// pull: pull the images that are missing (labctl up --pull missing).
	pull bool
	// hostPaths: files and mounts may name host paths outside the
	// scenario's folder (labctl up --allow-host-paths).
	hostPaths bool
	// helpersOnly: see WithHelpersOnly.
	helpersOnly bool
	// recreate: see WithRecreate.
	recreate bool
}

func defaultOptions() options {
	p, err := parsePools(DefaultPool4, DefaultPool6)
	if err != nil {
		panic(err) // the defaults are constants
	}
	return options{healthTimeout: DefaultHealthTimeout, pools: p, tag: images.DefaultTag}
}

// with returns o with opts applied by apply.
func with[T any](o options, opts []T, apply func(T, *options) error) (options, error) {
	for _, opt := range opts {
		if err := apply(opt, &o); errors.Is(err, ErrInvalid) {
			return o, err
		} else if err != nil {
			return o, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	return o, nil
}

// WithName names the lab, overriding the scenario's name. Tests use it to
// run one scenario several times side by side.
func WithName(name string) UpOnly {
	return func(o *options) error {
		if err := scenario.CheckLabName(name); err != nil {
			return err
		}
		o.name = name
		return nil
	}
}

// WithProgress receives an Event as each network and node moves on (created,
// started, healthy, removed); nil receives none. Calls are serialized; fn
// must not block long.
func WithProgress(fn func(Event)) Progress {
	return func(o *options) error { o.progress = fn; return nil }
}

// WithHealthTimeout changes how long a node may take to become ready, at
// Up and at Lab.Start.
func WithHealthTimeout(d time.Duration) StartSetting {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("health timeout %s: want a positive duration", d)
		}
		o.healthTimeout = d
		return nil
	}
}

// WithPools changes the ranges subnets are allocated from when a scenario
// gives none: an IPv4 prefix of length ≤ 24 (cut into /24s) and an IPv6 prefix
// of length ≤ 64 (cut into /64s).
func WithPools(ipv4, ipv6 string) UpDefault {
	return func(o *options) error {
		p, err := parsePools(ipv4, ipv6)
		if err != nil {
			return err
		}
		o.pools = p
		return nil
	}
}

// WithHelpersOnly makes the engine change a node's namespace only through
// helper containers, as it must against an engine on another machine, never
// by entering the namespace itself (its fast path when it runs as root next
// to the engine).
func WithHelpersOnly() LabSetting {
	return func(o *options) error { o.helpersOnly = true; return nil }
}

// tagPattern is what Docker accepts as an image tag.
var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// WithImageTag runs the socketlab images with tag instead of
// images.DefaultTag, e.g. images built for a branch.
func WithImageTag(tag string) LabSetting {
	return func(o *options) error {
		if !tagPattern.MatchString(tag) {
			return fmt.Errorf("image tag %q: want letters, digits, _ . and - (at most 128, not starting with . or -)", tag)
		}
		o.tag = tag
		return nil
	}
}

// WithPullMissing lets Up pull the images a scenario needs that are not
// there (never the socketlab images, which are built here). Without it,
// nothing is ever pulled: a missing image is an error saying how to get it.
func WithPullMissing() UpOnly {
	return func(o *options) error { o.pull = true; return nil }
}

// WithHostPathsAnywhere lets a scenario's files and mounts name host paths
// outside the scenario's folder: for a scenario you trust.
func WithHostPathsAnywhere() UpOnly {
	return func(o *options) error { o.hostPaths = true; return nil }
}

// WithRecreate makes Up take the lab down first if it is up (labctl up
// --recreate): once the scenario is planned, so that a scenario Up cannot
// run leaves the lab as it was.
func WithRecreate() UpOnly {
	return func(o *options) error { o.recreate = true; return nil }
}
