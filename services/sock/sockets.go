package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"socketlab/internal/socktable"
)

func init() {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "sockets",
		Short: "List the sockets that wait for peers here (TCP listeners, UDP sockets), and who can reach them",
		Long: "sockets reads this network namespace's socket tables (/proc/net/tcp, tcp6, udp, udp6:\n" +
			"what ss -ltun shows) and lists every TCP listener and unconnected UDP socket with the\n" +
			"address it is bound to. One bound to 127.0.0.1 or ::1 answers only this host: other\n" +
			"nodes get \"connection refused\"; bind \"\", 0.0.0.0 or :: to be reachable. Run in a\n" +
			"helper that shares a node's network namespace, it shows the node's sockets without\n" +
			"connecting to them.",
		Example: "  sock sockets\n  sock sockets --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			socks, err := socktable.Read("/proc/self")
			if err != nil {
				return err
			}
			if asJSON {
				if socks == nil {
					socks = []socktable.Socket{}
				}
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"sockets": socks})
			}
			for _, s := range socks {
				who := "other hosts too"
				if !s.Reachable() {
					who = "this host only (loopback)"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-4s %-40s %s\n", s.Proto, s.Local, who)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print one JSON object: {"sockets": [{"proto": "tcp", "local": "0.0.0.0:7"}, ...]}`)
	commands = append(commands, cmd)
}
