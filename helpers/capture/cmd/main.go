// Command capture is the capture helper; see package capture.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"socketlab/helpers/capture"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := capture.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
