// Package images is the catalog of what socketlab ships: its images (the six
// services, the client, the toolbox, the helpers), how a short name becomes
// an image reference, each service's ports, client and the hint the CLI
// prints for it, and each helper's capabilities. The scenario format, the
// engine, the CLI's tables and graphs, capture's decoders, the build
// scripts' checks and the tests all read it from here; TestOneList keeps
// the scripts and compose.yaml, which cannot import it, in step.
package images

import (
	"slices"
	"strconv"
	"strings"
)

// Prefix starts every socketlab image reference: the node image "echo"
// runs socketlab/echo.
const Prefix = "socketlab/"

// DefaultTag is the tag `make images` builds and a lab runs unless told
// otherwise.
const DefaultTag = "latest"

// Client is the image that carries the sock client: the node steps run in.
const Client = "client"

// Toolbox is the Debian image with python3, the usual network tools and
// sock (make toolbox): a node for a learner's own programs and a shell.
const Toolbox = "toolbox"

// Capture is the capture helper's image: labctl runs it in a node's
// network namespace with NET_RAW only (helpers/capture).
const Capture = "capture"

// Isolate is the isolation helper's image: labctl runs it in each node's
// network namespace at up to filter IPv6 between networks and labs, and on
// the host's network to guard a lab's bridges (helpers/isolate).
const Isolate = "isolate"

// Impair is the link impairment helper's image: labctl runs it in a node's
// network namespace with NET_ADMIN only (helpers/impair).
const Impair = "impair"

// Pin6 is the IPv6 pinning helper's image: on a lab across several hosts,
// labctl runs it in each node's network namespace to set the node's IPv6
// addresses and neighbours on the overlay networks (helpers/pin6).
const Pin6 = "pin6"

// Linux capabilities a helper is given, as Docker spells them (no CAP_).
const (
	CapNetRaw   = "NET_RAW"   // read packets (AF_PACKET)
	CapNetAdmin = "NET_ADMIN" // change interfaces, qdiscs, routes, nftables
)

// Helper is one helper image: never a node, run by labctl next to one.
type Helper struct {
	// Name is the image's short name and the folder helpers/NAME/cmd.
	Name string
	// Caps are the only capabilities it runs with.
	Caps []string
}

var helpers = []Helper{
	{Name: Capture, Caps: []string{CapNetRaw}},
	{Name: Impair, Caps: []string{CapNetAdmin}},
	{Name: Isolate, Caps: []string{CapNetAdmin}},
	{Name: Pin6, Caps: []string{CapNetAdmin}},
}

// Helpers returns the names of the helper images (helpers/NAME/cmd).
func Helpers() []string {
	out := make([]string, len(helpers))
	for i, h := range helpers {
		out[i] = h.Name
	}
	return out
}

// Caps returns the capabilities the helper image name runs with, nil for a
// name that is not a helper. The slice is the caller's to keep.
func Caps(name string) []string {
	for _, h := range helpers {
		if h.Name == name {
			return slices.Clone(h.Caps)
		}
	}
	return nil
}

// Port is a transport and port number a server listens on.
type Port struct {
	Proto  string // "tcp" or "udp"
	Number int
}

// String is the port as Docker's EXPOSE and labctl graph write it: tcp/9999.
func (p Port) String() string { return p.Proto + "/" + strconv.Itoa(p.Number) }

func tcp(n int) Port { return Port{"tcp", n} }
func udp(n int) Port { return Port{"udp", n} }

// Service is one of socketlab's servers, one image each, and how a person
// meets it.
type Service struct {
	// Name is the image's short name and the folder services/NAME.
	Name string
	// Ports are what the server listens on by default; a PORT variable or a
	// --port argument moves them all to one other number.
	Ports []Port
	// Fixed are further ports the image serves that --port does not move
	// (chat's line mode has its own flag).
	Fixed []Port
	// Client is the sock sub-command that talks to the service.
	Client string
	// Try is the command that meets the service from a client node, %s
	// being the service node's name; Interactive says it needs a terminal
	// (exec -i).
	Try         string
	Interactive bool
	// Comment says what Try shows.
	Comment string
}

// Exposed is every port the image serves: Ports, then Fixed.
func (s Service) Exposed() []Port { return append(slices.Clone(s.Ports), s.Fixed...) }

// services are the servers, in the order the docs list them.
var services = []Service{
	{Name: "welcome", Ports: []Port{tcp(9999)}, Client: "welcome",
		Try: "sock welcome -6 %s", Comment: "the address and family the server saw"},
	{Name: "echo", Ports: []Port{tcp(7), udp(7)}, Client: "echo",
		Try: "sock echo -6 %s hello", Comment: "your message back (-u: over UDP)"},
	{Name: "chat", Ports: []Port{tcp(6667)}, Fixed: []Port{tcp(1042)}, Client: "chat",
		Try: "sock chat -6 %s --nick ada", Interactive: true, Comment: "IRC in #lab; type, /quit to leave"},
	{Name: "responder", Ports: []Port{udp(9999)}, Client: "responder",
		Try: "sock responder -4 %s", Comment: "a UDP reply naming your address"},
	{Name: "lookup", Ports: []Port{tcp(65432)}, Client: "lookup",
		Try: "sock lookup -6 %s search socket", Comment: "the framed protocol: a glossary entry"},
	{Name: "web", Ports: []Port{tcp(80)}, Client: "browse",
		Try: "sock browse -6 http://%s/", Comment: "A and AAAA answers, then the raw HTTP"},
}

// Services returns the names of the service images.
func Services() []string {
	out := make([]string, len(services))
	for i, s := range services {
		out[i] = s.Name
	}
	return out
}

// LookupService returns the service whose image is name.
func LookupService(name string) (Service, bool) {
	i := slices.IndexFunc(services, func(s Service) bool { return s.Name == name })
	if i < 0 {
		return Service{}, false
	}
	s := services[i]
	s.Ports, s.Fixed = slices.Clone(s.Ports), slices.Clone(s.Fixed)
	return s, true
}

// Clients returns the sock sub-commands, one per service, in the services'
// order: what a scenario's run steps may name.
func Clients() []string {
	out := make([]string, len(services))
	for i, s := range services {
		out[i] = s.Client
	}
	return out
}

// PortOf returns the default port number of the service name on proto
// ("tcp" or "udp"), 0 if it serves none there.
func PortOf(name, proto string) int {
	s, _ := LookupService(name)
	for _, p := range s.Ports {
		if p.Proto == proto {
			return p.Number
		}
	}
	return 0
}

// Nodes returns every short image name a scenario node may use: the
// services, the client, then the toolbox.
func Nodes() []string { return append(Services(), Client, Toolbox) }

// IsShortName reports whether name is one of the short names of Nodes.
func IsShortName(name string) bool { return slices.Contains(Nodes(), name) }

// HasSock reports whether the image of the short name carries the sock
// client, so that a scenario's run steps can run in its nodes.
func HasSock(name string) bool { return name == Client || name == Toolbox }

// IsService reports whether name is one of the service images.
func IsService(name string) bool { _, ok := LookupService(name); return ok }

// Ref is the reference of the socketlab image name with tag ("" means
// DefaultTag): Ref("echo", "") is socketlab/echo:latest.
func Ref(name, tag string) string {
	if tag == "" {
		tag = DefaultTag
	}
	return Prefix + name + ":" + tag
}

// ShortName is the short name of a socketlab image reference of any tag:
// socketlab/echo:latest is echo. ok is false for a reference outside
// Prefix.
func ShortName(ref string) (name string, ok bool) {
	rest, ok := strings.CutPrefix(ref, Prefix)
	if !ok {
		return "", false
	}
	name, _, _ = strings.Cut(rest, ":")
	return name, true
}
