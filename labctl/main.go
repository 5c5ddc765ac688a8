// Command labctl brings socketlab labs up and down from YAML scenarios and
// lets a person look inside them: status, logs, and clients run in a node.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// prog is how the hints name labctl: as it was invoked when that was a
// relative path (bin/labctl from the repository), else labctl.
var prog = "labctl"

func main() {
	if strings.HasPrefix(os.Args[0], "bin/") || strings.HasPrefix(os.Args[0], "./") {
		prog = os.Args[0]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes labctl with args and returns its exit status: 0 success,
// 1 failure, 2 wrong usage or an invalid scenario, or what `exec` ran returned.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	lz := &lazyEngine{}
	defer lz.close()
	ctx = context.WithValue(ctx, engineKey{}, lz)
	root := rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ee.err != nil {
			fmt.Fprintf(stderr, "labctl: %v\n", ee.err)
		}
		return ee.code
	default:
		fmt.Fprintf(stderr, "labctl: %v\n", err)
		if isUsage(err) {
			return 2
		}
		return 1
	}
}
