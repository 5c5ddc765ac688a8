// Command isolate is the isolation helper (socketlab/isolate): run in a
// node's network namespace with NET_ADMIN, it installs the node's IPv6
// input filter and, with --seal, the seal that lets the node send only to
// the lab, and exits.
//
//	isolate fd5c:1ab:0:12::/64 fd5c:1ab:0:13::/64   # accept IPv6 from these only; no seal
//	isolate 10.200.12.0/24 fd5c:1ab:0:12::/64       # and IPv4 from these only
//	isolate --ipv4 fd5c:1ab:0:12::/64               # and no IPv4 (an IPv6-only network that has IPv4 all the same)
//	isolate --ipv4 --gateway 10.200.12.1 10.200.12.0/24  # from the gateway only DNS answers
//	isolate --gateway 10.200.12.1 --gateway fd5c:1ab:0:12::1 \
//	        --seal --lab 10.200.12.0/24 --lab fd5c:1ab:0:12::/64 fd5c:1ab:0:12::/64
//	isolate --no-input --gateway 10.200.12.1 --seal --lab 10.200.12.0/24
//	isolate --clear                                  # no filter at all
//
// Run in the engine host's network namespace instead, it keeps the lab's
// bridges apart from every other bridge (the forward guard; see package
// isolate):
//
//	isolate --guard br-0123456789ab br-ba9876543210
//	isolate --unguard br-0123456789ab
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"socketlab/helpers/isolate"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) > 0 && (args[0] == "--guard" || args[0] == "--unguard") {
		do, done := isolate.Guard, "guarded"
		if args[0] == "--unguard" {
			do, done = isolate.Unguard, "unguarded"
		}
		if err := do(args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("%s: %v\n", done, args[1:])
		return 0
	}
	f, clear, err := isolate.ParseArgs(args, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintln(os.Stderr, "isolate:", err)
		return 2
	case clear:
		err = isolate.Clear()
	default:
		err = isolate.Install(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if !clear && !f.NoInput {
		fmt.Printf("isolated: accepted from %v, link-local, loopback and replies only\n", f.Input)
	}
	if f.Seal != nil {
		fmt.Printf("sealed: the node sends only to %v, never to %v\n", f.Seal.Lab, f.Gateways)
	}
	return 0
}
