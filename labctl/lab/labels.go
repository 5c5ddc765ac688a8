package lab

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"
	"os/user"
	"reflect"
	"slices"
	"strconv"

	"socketlab/labctl/backend"
	"socketlab/labctl/scenario"
)

// The labels on every resource of a lab. Down, Status and the node
// operations find a lab's resources by them, without the scenario file.
const (
	LabelLab     = "socketlab.lab"        // the lab's name, on every container and network
	LabelRole    = "socketlab.role"       // RoleNode or RoleHelper, on containers
	LabelNode    = "socketlab.node"       // the node's name, on its container and on its helpers
	LabelNetwork = "socketlab.network"    // the network's scenario name, on its network
	LabelIndex   = "socketlab.index"      // position in the scenario, for listing in file order
	LabelSpec    = "socketlab.spec"       // digest of the definition, to tell a changed scenario
	LabelFile    = "socketlab.file"       // the scenario file the lab came from
	LabelStack   = "socketlab.stack"      // dual, ipv4 or ipv6, on networks
	LabelEgress  = "socketlab.egress"     // "true" on a network whose nodes may leave the lab
	LabelKind    = "socketlab.kind"       // the node's kind, on its container
	LabelReady   = "socketlab.ready"      // what up checked before calling the node ready
	LabelUp      = "socketlab.up"         // the `up` that created the resource, for rollback
	LabelHelper  = "socketlab.helper"     // the helper's purpose (capture, impair), on helpers
	LabelFiles   = "socketlab.files"      // the image a node's files are added to, on that node and on the image AddFiles made
	LabelFilesOf = "socketlab.files.of"   // on a node with files: the ID of the image they were added to
	LabelFilesAt = "socketlab.files.sums" // on a node with files: each file's target and a digest of its content (filesSums)
	LabelOwner   = "socketlab.owner"      // host and pid of the up holding a lab's lock
	LabelCreator = "socketlab.creator"    // who brought the lab up: user@host
	LabelHost    = backend.LabelHost      // the host a node is placed on, in a lab across several
	// LabelAttach + network name holds the node's attachment to that network
	// (fixed addresses, aliases) as JSON, so Connect can restore it.
	LabelAttach = "socketlab.attach."
)

// The roles of a lab's containers. A container without LabelRole is a node
// (labs made before helpers existed).
const (
	RoleNode   = "node"
	RoleHelper = "helper"
	RoleLock   = "lock" // held by the up that is bringing the lab up
)

// isHelper tells whether a container is not a node: a helper, or the lock
// of an up in progress.
func isHelper(labels map[string]string) bool {
	r := labels[LabelRole]
	return r == RoleHelper || r == RoleLock
}

// dockerName is the runtime name of a lab's network or container.
func dockerName(lab, name string) string { return lab + "-" + name }

func baseLabels(lab, file, upID string, index int, spec string) map[string]string {
	l := map[string]string{
		LabelLab:     lab,
		LabelIndex:   strconv.Itoa(index),
		LabelSpec:    spec,
		LabelUp:      upID,
		LabelCreator: Creator(),
	}
	if file != "" {
		l[LabelFile] = file
	}
	return l
}

func digest(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain data is digested
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// networkSpec is what makes two networks the same: an engine-allocated
// subnet may differ, an explicit one may not.
func networkSpec(n *scenario.Network) string {
	return digest(struct {
		Stack      scenario.Stack
		IPv4, IPv6 string
		Internal   bool
		Egress     bool `json:",omitempty"` // so that the digests of labs made before it stay
	}{stackOf(n), prefixText(n.IPv4), prefixText(n.IPv6), n.Internal, n.Egress})
}

func prefixText(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

// nodeSpec is what makes two nodes the same (the image's content is
// compared separately, by image ID).
func nodeSpec(n *scenario.Node) string {
	env := make([]string, 0, len(n.Env))
	for k, v := range n.Env {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	atts := make([]attachment, len(n.Networks))
	for i, a := range n.Networks {
		atts[i] = attachmentOf(a, n.Name)
	}
	return digest(struct {
		Image     string
		Networks  []attachment
		Env       []string
		Args      []string
		Memory    int64
		Pids      int64
		Container *containerDef `json:",omitempty"`
	}{n.Image, atts, env, n.Args, int64(n.Memory), n.Pids, containerDefOf(n)})
}

func stackOf(n *scenario.Network) scenario.Stack {
	if n.Stack == "" {
		return scenario.Dual
	}
	return n.Stack
}

// attachment is what Connect needs to rejoin a network as the scenario says,
// kept as JSON in the node's LabelAttach label.
type attachment struct {
	Network string     `json:"network,omitempty"`
	IPv4    netip.Addr `json:"ipv4,omitzero"`
	IPv6    netip.Addr `json:"ipv6,omitzero"`
	Aliases []string   `json:"aliases,omitempty"`
}

func attachmentOf(a *scenario.Attachment, node string) attachment {
	return attachment{IPv4: a.IPv4, IPv6: a.IPv6, Aliases: append([]string{node}, a.Aliases...)}
}

func attachLabel(a attachment) string {
	b, _ := json.Marshal(a)
	return string(b)
}

// containerDef is what a scenario sets on a node's container beyond its
// image, networks and limits; nil when it sets none of it, so that the
// digest of a plain node is what it always was.
type containerDef struct {
	Command, Entrypoint []string
	WorkDir, User       string
	Files, Mounts       []string
	ReadOnly            *bool
	Tmpfs, CapAdd       []string
	Publish             []string
	Ready               *scenario.Ready
}

func containerDefOf(n *scenario.Node) *containerDef {
	d := &containerDef{Command: n.Command, Entrypoint: n.Entrypoint, WorkDir: n.WorkDir, User: n.User,
		ReadOnly: n.ReadOnly, Tmpfs: n.Tmpfs, CapAdd: n.CapAdd, Ready: n.Ready}
	for _, f := range n.Files {
		d.Files = append(d.Files, f.String())
	}
	for _, m := range n.Mounts {
		d.Mounts = append(d.Mounts, m.HostPath+":"+m.Target+map[bool]string{true: ":rw", false: ""}[m.Writable])
	}
	for _, p := range n.Publish {
		d.Publish = append(d.Publish, p.String())
	}
	if reflect.ValueOf(*d).IsZero() {
		return nil
	}
	return d
}

// Creator names who runs this process, as labs record it: user@host.
func Creator() string {
	name := strconv.Itoa(os.Getuid())
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if env := os.Getenv("SUDO_USER"); env != "" {
		name = env // the person behind sudo, not root
	}
	host, _ := os.Hostname()
	return name + "@" + host
}
