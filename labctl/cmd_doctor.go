package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"socketlab/helpers/impair/shape"
	"socketlab/internal/images"
	"socketlab/labctl/backend"
)

// doctorReport is what labctl doctor found (its -o json).
type doctorReport struct {
	Engine doctorEngine `json:"engine"`
	// Impair is the impairment helper's probe; ImpairError says why there
	// is none.
	Impair      *shape.Probe `json:"impair,omitempty"`
	ImpairError string       `json:"impair_error,omitempty"`
	// Capture tells whether the capture helper's image is built.
	Capture      bool   `json:"capture"`
	CaptureImage string `json:"capture_image"`
	// IPv6Isolated: the engine itself keeps IPv6 from crossing between its
	// networks. Where it does not, labctl does, with the isolate helper
	// (IsolateImage, built or not: Isolate).
	IPv6Isolated bool   `json:"ipv6_isolated"`
	Isolate      bool   `json:"isolate"`
	IsolateImage string `json:"isolate_image"`
	// Seal says how a lab is sealed on this engine, a line each (see
	// sealText); none when it cannot be (the isolate helper's image is not
	// built).
	Seal []string `json:"seal,omitempty"`
	// MissingImages are socketlab images not built yet.
	MissingImages []string `json:"missing_images,omitempty"`
}

// doctorEngine is the engine labctl drives.
type doctorEngine struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	APIVersion string `json:"api_version"`
	Product    string `json:"product"` // Docker, Docker Desktop, Podman
	Rootless   bool   `json:"rootless"`
	ImageStore string `json:"image_store"`
}

func doctorCommand() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Say what this Docker engine and its kernel give the lab: impairment, capture, IPv6 isolation",
		Long: `doctor checks what the lab can do on this machine. It brings up a throwaway lab
(one idle client node, named doctor-<random>), asks the impairment helper what
the kernel offers in the node's network namespace, and takes the lab down again.

  impairment  how labctl impair and a scenario's impair: degrade a link: the
              kernel's netem, or, where the kernel has none, the fallback:
              duplication by nftables at the interface's egress, rate by a TBF
              qdisc, delay, jitter, loss, reordering and corruption by a
              user-space delay line
  faults      whether labctl fault and a scenario's fault step can pick single
              packets: the delay line (NFQUEUE) does it on every kernel, netem or
              not; duplicating one needs the nftables egress hook
  capture     whether the packet capture helper's image is built
  IPv6        whether the engine itself keeps IPv6 from crossing between its
              networks (Docker 28 and later); when it does not, nodes on two
              networks may still reach each other over IPv6 through the host,
              and labctl's isolate helper filters it in each node
  guard       on such an engine, whose IPv4 filter between networks is open for
              milliseconds whenever it creates one, the forward guard that
              labctl installs on the host for each lab bridge
  seal        how a lab is kept to itself: on every engine, the isolate helper
              leaves a filter in each node's own network namespace that lets
              it send only to the lab's networks (not to the host through a
              gateway address, nor beyond), unless a network of the node has
              egress: true; a network with internal: true is also cut off by
              the engine (no route out)`,
		Example: `  labctl doctor
  labctl doctor -o json | jq .impair.mechanism`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return usageError{fmt.Errorf("doctor: -o %q: want table or json", output)}
			}
			ctx := cmd.Context()
			e, err := engine(ctx)
			if err != nil {
				return err
			}
			rep := doctorReport{CaptureImage: images.Ref(images.Capture, ""), IsolateImage: images.Ref(images.Isolate, "")}
			info, err := e.Info(ctx)
			if err != nil {
				return err
			}
			rep.Engine = doctorEngine{Name: info.Name, Version: info.Version, APIVersion: info.APIVersion,
				Product: info.Product, Rootless: info.Rootless, ImageStore: info.ImageStore}
			rep.IPv6Isolated = info.IsolatesIPv6
			if rep.MissingImages, err = e.ImagesMissing(ctx, append(images.Nodes(), images.Helpers()...)...); err != nil {
				return err
			}
			rep.Capture = !slices.Contains(rep.MissingImages, images.Capture)
			rep.Isolate = !slices.Contains(rep.MissingImages, images.Isolate)
			if rep.Isolate {
				rep.Seal = sealText(info)
			}
			if p, err := e.ProbeImpairment(ctx); err != nil {
				rep.ImpairError = err.Error()
			} else {
				rep.Impair = &p
			}
			out := cmd.OutOrStdout()
			if output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			writeDoctor(out, rep)
			return nil
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

// writeDoctor prints the report for a person: one line per ability, what
// it means, and what to do when it lacks.
func writeDoctor(w io.Writer, rep doctorReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tWHAT IT MEANS")
	e := rep.Engine
	fmt.Fprintf(tw, "engine\t%s\tthe engine labctl drives (labctl version says the same)\n",
		engineText(versionEngine{Product: e.Product, Version: e.Version, APIVersion: e.APIVersion, Rootless: e.Rootless, ImageStore: e.ImageStore}))
	switch p := rep.Impair; {
	case p == nil:
		fmt.Fprintf(tw, "impairment\tunknown\t%s\n", rep.ImpairError)
	case p.Mechanism == shape.MechanismNetem:
		fmt.Fprintln(tw, "impairment\tnetem\tthe kernel's netem qdisc does delay, jitter, loss, duplication, reordering, corruption and rate")
	case p.Mechanism == shape.MechanismFallback:
		fmt.Fprintln(tw, "impairment\tfallback\tthis kernel has no netem: duplication by nftables at the egress hook, rate by TBF,")
		fmt.Fprintln(tw, "\t\tdelay, jitter, loss, reordering and corruption by a user-space delay line (NFQUEUE, fail-open)")
	default:
		fmt.Fprintf(tw, "impairment\tnone\tthe kernel lacks %s: labctl impair cannot work on this engine\n", strings.Join(p.Missing, ", "))
	}
	writeFaultRow(tw, rep.Impair)
	if rep.Capture {
		fmt.Fprintf(tw, "capture\tyes\t%s is built: packets can be captured in a node\n", rep.CaptureImage)
	} else {
		fmt.Fprintf(tw, "capture\tno\t%s is not built: run make images\n", rep.CaptureImage)
	}
	switch {
	case rep.IPv6Isolated:
		fmt.Fprintln(tw, "IPv6 isolation\tby the engine\tthe engine keeps IPv6 from crossing between its networks, as it does IPv4")
	case rep.Isolate:
		fmt.Fprintln(tw, "IPv6 isolation\tby labctl\tthe engine filters only IPv4 between networks (Docker < 28): labctl's isolate")
		fmt.Fprintln(tw, "\t\thelper gives each node an IPv6 filter at up, so other networks stay out of reach")
		if rep.Engine.Rootless {
			fmt.Fprintln(tw, "forward guard\tnone\ta rootless engine's bridges are in a namespace of the user's, out of the host's")
			fmt.Fprintln(tw, "\t\treach: the engine's own firewall keeps networks apart (on Podman, netavark's isolate")
			fmt.Fprintln(tw, "\t\toption, which labctl gives every lab network); the host cannot reach node addresses")
		} else {
			fmt.Fprintln(tw, "forward guard\tby labctl\tthe engine's IPv4 filter between networks is open for milliseconds whenever it")
			fmt.Fprintln(tw, "\t\tcreates one: each lab bridge gets an nftables table of its own on the host at up")
		}
	default:
		fmt.Fprintln(tw, "IPv6 isolation\tno\tthe engine filters only IPv4 between networks (Docker < 28) and "+rep.IsolateImage)
		fmt.Fprintln(tw, "\t\tis not built: run make images, or nodes reach other networks over IPv6")
	}
	if len(rep.Seal) > 0 {
		fmt.Fprintf(tw, "seal\tyes\t%s\n", strings.Join(rep.Seal, "\n\t\t"))
	} else {
		fmt.Fprintf(tw, "seal\tno\t%s is not built: run make images (labctl up needs it: every lab is sealed)\n", rep.IsolateImage)
	}
	if len(rep.MissingImages) > 0 {
		fmt.Fprintf(tw, "images\tmissing\t%s: run make images\n", strings.Join(rep.MissingImages, ", "))
	} else {
		fmt.Fprintln(tw, "images\tall built\tevery socketlab image and helper is there")
	}
	tw.Flush()
}

// sealText says how a lab is sealed on the engine info describes: the
// mechanism, then what it means, a line each.
func sealText(info backend.Info) []string {
	lines := []string{
		"by each node: the isolate helper leaves a filter in each node's own network namespace",
		"(at up, start and connect) that lets it send only to the lab's subnets, never to a",
		"network's gateway (the host) nor beyond; egress: true on a network lets its nodes out",
	}
	if info.DNSAtGateway {
		lines = append(lines, "the engine's name server answers on the gateway: port 53 there stays open")
	}
	if len(info.Resolvers) > 0 {
		lines = append(lines, fmt.Sprintf("the engine's DNS asks %v for names outside the lab from within the node: port 53 there stays open", info.Resolvers))
	}
	return lines
}
