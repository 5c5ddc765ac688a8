// Package images is the one list of socketlab's own images: the six
// services, the client, the helpers, and how a short name becomes an image
// reference. The scenario format, the engine, the build scripts' checks and
// the tests all read it from here.
package images

import "slices"

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

// helpers are the helper images: never nodes, run by labctl next to one.
// Isolate is the isolation helper's image: labctl runs it in each node's
// network namespace at up to filter IPv6 between networks and labs.
const Isolate = "isolate"

// Impair is the link impairment helper's image: labctl runs it in a node's
// network namespace with NET_ADMIN only (helpers/impair).
const Impair = "impair"

// Pin6 is the IPv6 pinning helper's image: on a lab across several hosts,
// labctl runs it in each node's network namespace to set the node's IPv6
// addresses and neighbours on the overlay networks (helpers/pin6).
const Pin6 = "pin6"

var helpers = []string{Capture, Impair, Isolate, Pin6}

// Helpers returns the names of the helper images (helpers/NAME/cmd).
func Helpers() []string { return slices.Clone(helpers) }

// services are the servers, one image each, in the order the docs list them.
var services = []string{"welcome", "echo", "chat", "responder", "lookup", "web"}

// Services returns the names of the service images.
func Services() []string { return slices.Clone(services) }

// Nodes returns every short image name a scenario node may use: the
// services, the client, then the toolbox.
func Nodes() []string { return append(Services(), Client, Toolbox) }

// IsShortName reports whether name is one of the short names of Nodes.
func IsShortName(name string) bool { return slices.Contains(Nodes(), name) }

// HasSock reports whether the image of the short name carries the sock
// client, so that a scenario's run steps can run in its nodes.
func HasSock(name string) bool { return name == Client || name == Toolbox }

// IsService reports whether name is one of the service images.
func IsService(name string) bool { return slices.Contains(services, name) }

// Ref is the reference of the socketlab image name with tag ("" means
// DefaultTag): Ref("echo", "") is socketlab/echo:latest.
func Ref(name, tag string) string {
	if tag == "" {
		tag = DefaultTag
	}
	return Prefix + name + ":" + tag
}
