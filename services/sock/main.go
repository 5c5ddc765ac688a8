// Command sock is the socketlab client: one sub-command per service, each
// usable by a person at a terminal and, with --json, by a scenario step.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"socketlab/services/internal/probe"
)

// commands are the sub-commands; each service's file in this package adds its own.
var commands []*cobra.Command

func main() {
	root := &cobra.Command{
		Use:   "sock",
		Short: "Talk to the socketlab services over IPv4 and IPv6",
		Long: "sock is the client for every socketlab service. Each sub-command takes -4/-6,\n" +
			"--timeout and --json (one JSON object: what was sent and received, local and remote\n" +
			"address, family, timings, error). Exit status: 0 success, 1 the exchange failed,\n" +
			"2 the command was called wrongly.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(commands...)
	if err := root.Execute(); err != nil {
		var ee probe.ExitError
		if errors.As(err, &ee) {
			os.Exit(ee.Code)
		}
		fmt.Fprintf(os.Stderr, "sock: %v\n", err)
		os.Exit(2)
	}
}
