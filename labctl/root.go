package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"socketlab/labctl/backend"
	"socketlab/labctl/backend/docker"
	"socketlab/labctl/backend/swarm"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "labctl",
		Short: "Bring socketlab labs up and down, and look inside them",
		Long: `labctl reads a scenario (a YAML file naming networks and nodes), wires the
socketlab containers onto Docker networks with IPv4 and IPv6, and shows where
everything is. Every resource is labelled with the lab's name, so down, status,
logs and exec need only that name, never the file.

The images come from 'make images'; nothing is ever pulled.`,
		Example: `  labctl up scenarios/default.yaml         # networks, nodes, wait until healthy
  labctl status                            # every node's IPv4 and IPv6 addresses
  labctl exec client -- sock echo -6 echo hello
  labctl logs -f echo                      # the server's JSON log lines
  labctl down default                      # or all of yours: labctl down --all`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// An unknown sub-command is a usage error, said here where it
		// arises rather than recognised later by cobra's wording.
		Args: func(cmd *cobra.Command, a []string) error {
			if len(a) > 0 {
				return usageError{fmt.Errorf("unknown command %q (labctl --help lists the commands)", a[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if v, _ := cmd.Flags().GetBool("version"); v {
				return printVersion(cmd.Context(), cmd.OutOrStdout(), "text")
			}
			return cmd.Help()
		},
	}
	root.Flags().Bool("version", false, "print labctl's version and the engine's (as labctl version does)")
	root.PersistentFlags().String("hosts", "", `a hosts file: run the lab across the Docker hosts of a swarm (default: $`+hostsEnv+`, else one Docker engine)

  hosts:
    one: {endpoint: unix:///var/run/docker.sock}   # a swarm manager
    two:                                           # a node of the same swarm, over TLS
      endpoint: tcp://10.0.0.2:2376
      tls: {ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem}
    three: {endpoint: ssh://me@10.0.0.3}           # or through ssh

  A tcp:// engine needs tls: (or insecure: true on a network only you reach):
  plain TCP has no authentication. See docs/multihost.md.
`)
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if lz, ok := cmd.Context().Value(engineKey{}).(*lazyEngine); ok {
			lz.hosts, _ = cmd.Flags().GetString("hosts")
			if lz.hosts == "" {
				lz.hosts = os.Getenv(hostsEnv)
			}
		}
		return nil
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(upCommand(), downCommand(), statusCommand(), execCommand(), logsCommand(),
		testCommand(), checkCommand(), graphCommand(), validateCommand(), schemaCommand(), captureCommand(), ladderCommand(), impairCommand(), faultCommand(), doctorCommand(), versionCommand())
	return root
}

// exitError ends labctl with code, printing err first when it is set.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

// usageError is a command called wrongly (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

// args wraps a cobra argument check so that its failure exits with 2.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return usageError{fmt.Errorf("%s: %w (see labctl %s --help)", cmd.Name(), err, cmd.Name())}
		}
		return nil
	}
}

// loadScenario reads a scenario file; an invalid one is an exit status 2
// with every problem on its own line. hostPaths, when given, also finds the
// host paths of its files and mounts (true: anywhere, false: inside the
// scenario's folder); the engine's Up then finds them resolved and does not
// look again.
func loadScenario(path string, hostPaths ...bool) (*scenario.Scenario, error) {
	sc, err := scenario.Load(path)
	if err == nil && len(hostPaths) > 0 {
		err = sc.ResolveHostPaths(hostPaths[0])
	}
	if err != nil {
		var errs scenario.Errors
		if errors.As(err, &errs) {
			return nil, exitError{code: 2, err: fmt.Errorf("%s is not a valid scenario:\n%w", path, err)}
		}
		return nil, err
	}
	return sc, nil
}

// labEnv names the environment variable that gives the default of --lab.
const labEnv = "SOCKETLAB_LAB"

// labFlag adds --lab to c, defaulting to $SOCKETLAB_LAB, with completion.
func labFlag(c *cobra.Command, name *string) {
	c.Flags().StringVar(name, "lab", "", "the lab (default: $"+labEnv+", else the only lab that is up)")
	c.RegisterFlagCompletionFunc("lab", completeLabs)
}

// pickLab names the lab a command acts on: the one given, else the one
// $SOCKETLAB_LAB names, else the only lab that is up.
func pickLab(ctx context.Context, name string) (string, error) {
	if name != "" {
		return name, nil
	}
	if env := os.Getenv(labEnv); env != "" {
		return env, nil
	}
	labs, err := listLabs(ctx)
	if err != nil {
		return "", err
	}
	switch len(labs) {
	case 0:
		return "", fmt.Errorf("no lab is up: start one with labctl up scenarios/default.yaml (or make lab)")
	case 1:
		return labs[0].Name, nil
	}
	names := make([]string, len(labs))
	for i, l := range labs {
		names[i] = l.Name
	}
	return "", usageError{fmt.Errorf("%d labs are up (%s): say which with --lab NAME, or once for the shell with export %s=NAME",
		len(labs), strings.Join(names, ", "), labEnv)}
}

// openLab opens the lab named by the --lab flag, $SOCKETLAB_LAB, or the only one up.
func openLab(ctx context.Context, name string) (*lab.Lab, error) {
	given := name
	name, err := pickLab(ctx, name)
	if err != nil {
		return nil, err
	}
	l, err := openNamed(ctx, name)
	if err != nil && given == "" && os.Getenv(labEnv) != "" {
		return nil, fmt.Errorf("%s=%s: %w", labEnv, name, err)
	}
	return l, err
}

// isFile tells whether arg names a scenario file rather than a lab.
func isFile(arg string) bool {
	if strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml") || strings.ContainsRune(arg, os.PathSeparator) {
		return true
	}
	st, err := os.Stat(arg)
	return err == nil && st.Mode().IsRegular()
}

// completeLabs offers the names of the labs that are up.
func completeLabs(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	labs, err := listLabs(cmd.Context())
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, l := range labs {
		names = append(names, l.Name+"\t"+fmt.Sprintf("%d nodes, %d running", l.Nodes, l.Running))
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// completeNodes offers the nodes of the lab named by --lab (or the only one).
func completeNodes(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	name, _ := cmd.Flags().GetString("lab")
	l, err := openLab(cmd.Context(), name)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	st, err := l.Status(cmd.Context())
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var nodes []string
	for _, n := range st.Nodes {
		nodes = append(nodes, n.Name+"\t"+n.Image+" "+n.State)
	}
	return nodes, cobra.ShellCompDirectiveNoFileComp
}

func completeYAML(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
}

// engineKey finds the run's engine in a command's context.
type engineKey struct{}

// hostsEnv names the environment variable that gives the default of --hosts.
const hostsEnv = "SOCKETLAB_HOSTS"

// lazyEngine connects to the container engine on first use, once per run.
type lazyEngine struct {
	hosts string // the hosts file, "" for one Docker engine
	once  sync.Once
	e     *lab.Engine
	err   error
}

func (l *lazyEngine) close() {
	if l.e != nil {
		l.e.Close()
	}
}

// engine is the run's connection to the Docker engine.
func engine(ctx context.Context) (*lab.Engine, error) {
	l, ok := ctx.Value(engineKey{}).(*lazyEngine)
	if !ok {
		return nil, errors.New("labctl: no engine in this context")
	}
	l.once.Do(func() {
		name, where := pickBackend(l.hosts)
		b, err := backends.Open(ctx, name, where)
		if err != nil {
			l.err = err
			return
		}
		if l.e, l.err = lab.New(b); l.err != nil {
			b.Close()
		}
	})
	return l.e, l.err
}

func listLabs(ctx context.Context) ([]lab.Summary, error) {
	e, err := engine(ctx)
	if err != nil {
		return nil, err
	}
	return e.List(ctx)
}

func downLab(ctx context.Context, name string, opts ...lab.DownOption) error {
	e, err := engine(ctx)
	if err != nil {
		return err
	}
	return e.Down(ctx, name, opts...)
}

func upLab(ctx context.Context, sc *scenario.Scenario, opts ...lab.UpOption) (*lab.Lab, error) {
	e, err := engine(ctx)
	if err != nil {
		return nil, err
	}
	return e.Up(ctx, sc, opts...)
}

func openNamed(ctx context.Context, name string) (*lab.Lab, error) {
	e, err := engine(ctx)
	if err != nil {
		return nil, err
	}
	return e.Open(ctx, name)
}

// backends are the container engines labctl drives, by name.
var backends = backend.Registry{
	"docker": func(ctx context.Context, _ string) (backend.Backend, error) {
		if w := docker.EnvWarning(); w != "" {
			fmt.Fprintln(os.Stderr, "labctl: warning:", w)
		}
		return docker.New(ctx)
	},
	"swarm": swarmBackend,
}

// pickBackend chooses the backend and where it connects: the swarm of a
// hosts file when one is given, else the one Docker engine of
// $DOCKER_HOST (or its default socket).
func pickBackend(hosts string) (name, where string) {
	if hosts != "" {
		return "swarm", hosts
	}
	return "docker", ""
}

// swarmBackend connects to the hosts the hosts file names.
func swarmBackend(ctx context.Context, file string) (backend.Backend, error) {
	hs, err := swarm.LoadHosts(file)
	if err != nil {
		return nil, exitError{code: 2, err: err}
	}
	for _, w := range hs.Warnings() {
		fmt.Fprintln(os.Stderr, "labctl: warning:", w)
	}
	return swarm.New(ctx, hs)
}
