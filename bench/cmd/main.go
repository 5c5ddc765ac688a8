// Command bench is `make bench`: socketlab's services measured on loopback
// next to references, as a table, JSON and benchstat input.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"socketlab/bench/suite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := root().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func root() *cobra.Command {
	var (
		cfg                     suite.Config
		only, jsonOut, benchOut string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure socketlab's servers on loopback next to references (make bench)",
		Long: "bench starts the servers in --bin and their references (iperf3, naive Go echo servers)\n" +
			"as processes on 127.0.0.1, loads them, and prints each figure as the median (min–max) of\n" +
			"--runs runs, the reference measured in the same run, the ratio and the goal.",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if only != "" {
				re, err := regexp.Compile(only)
				if err != nil {
					return fmt.Errorf("--only: %w", err)
				}
				cfg.Only = re
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			cfg.Self, cfg.Progress = self, cmd.ErrOrStderr()
			r, err := suite.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			r.WriteTable(cmd.OutOrStdout())
			if jsonOut != "" {
				if err := r.WriteJSON(jsonOut); err != nil {
					return err
				}
			}
			if benchOut != "" {
				f, err := os.Create(benchOut)
				if err != nil {
					return err
				}
				r.WriteBenchfmt(f)
				if err := f.Close(); err != nil {
					return err
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Bin, "bin", "bin", "directory of the server binaries (make build)")
	f.IntVar(&cfg.Runs, "runs", 5, "runs per figure (chat and memory: at most 3)")
	f.DurationVar(&cfg.Duration, "duration", 2*time.Second, "length of one throughput run")
	f.StringVar(&only, "only", "", "run only the groups matching this regexp: echo-stream echo-pingpong echo-rtt udp chat-fanout memory lookup")
	f.StringVar(&jsonOut, "json", "bench/results.json", "write the results as JSON here (empty: don't)")
	f.StringVar(&benchOut, "benchfmt", "bench/results.txt", "write every run in Go benchmark format here, for benchstat (empty: don't)")
	f.StringVar(&cfg.ProfileDir, "profile", "", "our servers write CPU and allocation profiles (pprof) into this directory")
	f.StringVar(&cfg.Iperf3, "iperf3", "iperf3", "the iperf3 command, reference for the echo stream (empty: not measured)")
	f.StringVar(&cfg.LookupRef, "lookup-ref", "", "directory holding the sockets tutorial's app-server.py: an extra reference for lookup")
	cmd.AddCommand(naiveCmd(), loadUDPCmd(), compareCmd(), &cobra.Command{
		Use:   "spin",
		Short: "Keep every CPU busy until stopped (run it at nice 19)",
		Args:  cobra.NoArgs,
		Run:   func(cmd *cobra.Command, _ []string) { suite.Spin(cmd.Context()) },
	})
	return cmd
}

func naiveCmd() *cobra.Command {
	var style, addr string
	cmd := &cobra.Command{
		Use:   "serve-naive",
		Short: "Serve a naive reference echo server (copy, buf: TCP; udp: UDP)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return suite.ServeNaive(cmd.Context(), style, addr)
		},
	}
	cmd.Flags().StringVar(&style, "style", "copy", "copy (io.Copy), buf (1 KiB loop) or udp")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:7007", "address to serve on")
	return cmd
}

func loadUDPCmd() *cobra.Command {
	var addr string
	var d time.Duration
	cmd := &cobra.Command{
		Use:   "load-udp",
		Short: "Flood a UDP server with 64-byte datagrams and print the replies per second",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := suite.LoadUDP(cmd.Context(), addr, d)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%.0f\n", v)
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:7", "UDP server address")
	cmd.Flags().DurationVar(&d, "duration", 2*time.Second, "how long to send")
	return cmd
}

func compareCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "compare OLD.json NEW.json",
		Short: "Compare two results files (from two commits)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			old, err := suite.ReadJSON(args[0])
			if err != nil {
				return err
			}
			cur, err := suite.ReadJSON(args[1])
			if err != nil {
				return err
			}
			suite.Compare(cmd.OutOrStdout(), old, cur)
			return nil
		},
	}
}
