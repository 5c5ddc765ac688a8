package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"socketlab/labctl/backend"
)

// version and commit are stamped by make build (-ldflags -X); a labctl
// built otherwise (go install, go run) reads them from Go's build info.
var (
	version = ""
	commit  = ""
)

// versionReport is what labctl version prints (its -o json).
type versionReport struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Modified  bool   `json:"modified,omitempty"` // built from a tree with uncommitted changes
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
	// Engine is the container engine that answered; EngineError says why
	// none did.
	Engine      *versionEngine `json:"engine,omitempty"`
	EngineError string         `json:"engine_error,omitempty"`
}

// versionEngine is the engine labctl would drive.
type versionEngine struct {
	Product    string `json:"product"`
	Version    string `json:"version"`
	APIVersion string `json:"api_version"`
	Rootless   bool   `json:"rootless"`
	ImageStore string `json:"image_store"`
	Endpoint   string `json:"endpoint,omitempty"`
}

// engineText names the engine as a person would: product and version,
// rootless or not, API and image store.
func engineText(e versionEngine) string {
	s := e.Product + " " + e.Version
	if e.Rootless {
		s += ", rootless"
	}
	s += fmt.Sprintf(" (API %s", e.APIVersion)
	if e.ImageStore != "" {
		s += ", images: " + e.ImageStore
	}
	return s + ")"
}

func engineOf(info backend.Info) versionEngine {
	return versionEngine{Product: info.Product, Version: info.Version, APIVersion: info.APIVersion,
		Rootless: info.Rootless, ImageStore: info.ImageStore}
}

func versionCommand() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "version",
		Short: "Print labctl's version, commit and Go version, and the engine's when one answers",
		Long: `version prints which labctl this is (its version, the commit it was built from,
the Go it was built with) and, when a container engine answers within a few
seconds (DOCKER_HOST, else the local socket), which engine that is: Docker or
Podman, its version and API version, rootless or not, and its image store.
No engine is not an error here: version says why none answered.

Put the output in a bug report: it says most of what differs between machines.`,
		Example: `  labctl version
  labctl --version
  labctl version -o json | jq -r .engine.version`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return usageError{fmt.Errorf("version: -o %q: want text or json", output)}
			}
			return printVersion(cmd.Context(), cmd.OutOrStdout(), output)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "text", "text or json")
	c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

// printVersion writes labctl's version and the engine's to w.
func printVersion(ctx context.Context, w io.Writer, output string) error {
	rep := buildVersion()
	ectx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if e, err := engine(ectx); err != nil {
		rep.EngineError = err.Error()
	} else if info, err := e.Backend().Info(ectx); err != nil {
		rep.EngineError = err.Error()
	} else {
		ve := engineOf(info)
		if ep, ok := e.Backend().(interface{ Endpoint() string }); ok {
			ve.Endpoint = ep.Endpoint()
		}
		rep.Engine = &ve
	}
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	v := rep.Version
	if rep.Commit != "" {
		v += " (commit " + rep.Commit
		if rep.Modified {
			v += ", modified"
		}
		v += ")"
	}
	fmt.Fprintf(w, "labctl  %s\n", v)
	fmt.Fprintf(w, "go      %s %s\n", rep.GoVersion, rep.Platform)
	if rep.Engine != nil {
		fmt.Fprintf(w, "engine  %s at %s\n", engineText(*rep.Engine), rep.Engine.Endpoint)
	} else {
		fmt.Fprintf(w, "engine  none answered: %s\n", rep.EngineError)
	}
	return nil
}

// buildVersion is labctl's own version: what make build stamped, else
// what Go recorded (the module's version, the VCS revision).
func buildVersion() versionReport {
	rep := versionReport{Version: version, Commit: commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if rep.Version == "" && bi.Main.Version != "" {
			rep.Version = bi.Main.Version // (devel) for a build from a checkout
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if rep.Commit == "" {
					rep.Commit = s.Value[:min(len(s.Value), 12)]
				}
			case "vcs.modified":
				rep.Modified = rep.Modified || s.Value == "true"
			}
		}
	}
	if rep.Version == "" {
		rep.Version = "(devel)"
	}
	return rep
}
