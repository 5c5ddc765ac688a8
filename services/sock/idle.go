package main

import (
	"fmt"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func init() {
	commands = append(commands, &cobra.Command{
		Use:   "idle",
		Short: "Wait until SIGTERM or SIGINT, then exit 0 (the client container's main process)",
		Long: "idle keeps a client container running so that a person or a scenario step can run\n" +
			"sock inside it with docker exec or labctl exec. A scratch image has no shell or\n" +
			"sleep, so the client binary does the waiting itself.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			fmt.Fprintln(cmd.OutOrStdout(), `{"msg":"idle: waiting for docker exec; SIGTERM ends it"}`)
			<-ctx.Done()
			return nil
		},
	})
}
