// Command impair impairs the egress of interfaces in the network namespace
// it runs in (delay, jitter, loss, duplication, reordering, corruption,
// rate); see package shaper. labctl runs it as a helper container with
// only CAP_NET_ADMIN in a node's network namespace.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"socketlab/helpers/impair/shaper"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := shaper.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
