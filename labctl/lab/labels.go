package lab

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	"socketlab/labctl/scenario"
)

// The labels on every Docker resource of a lab. Down, Status and the node
// operations find a lab's resources by them, without the scenario file.
const (
	LabelLab     = "socketlab.lab"     // the lab's name, on every container and network
	LabelNode    = "socketlab.node"    // the node's name, on its container
	LabelNetwork = "socketlab.network" // the network's scenario name, on its network
	LabelIndex   = "socketlab.index"   // position in the scenario, for listing in file order
	LabelSpec    = "socketlab.spec"    // digest of the definition, to tell a changed scenario
	LabelFile    = "socketlab.file"    // the scenario file the lab came from
	LabelStack   = "socketlab.stack"   // dual, ipv4 or ipv6, on networks
	LabelUp      = "socketlab.up"      // the `up` that created the resource, for rollback
	// LabelAttach + network name holds the node's attachment to that network
	// (fixed addresses, aliases) as JSON, so Connect can restore it.
	LabelAttach = "socketlab.attach."
)

// checkName tells whether name can name a lab (scenario.CheckLabName):
// Docker names of its resources are built from it.
func checkName(name string) error {
	if err := scenario.CheckLabName(name); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// dockerName is the Docker name of a lab's network or container.
func dockerName(lab, name string) string { return lab + "-" + name }

func baseLabels(lab, file, upID string, index int, spec string) map[string]string {
	l := map[string]string{
		LabelLab:   lab,
		LabelIndex: strconv.Itoa(index),
		LabelSpec:  spec,
		LabelUp:    upID,
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
		IPv4, IPv6 netip.Prefix // written as text, "" when left to the engine
		Internal   bool
	}{stack(n), n.IPv4, n.IPv6, n.Internal})
}

// nodeSpec is what makes two nodes the same (the image's content is
// compared separately, by image ID).
func nodeSpec(n *scenario.Node) string {
	env := make([]string, 0, len(n.Env))
	for k, v := range n.Env {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	memory := "" // as the digest wrote it when memory was text
	if n.Memory != 0 {
		memory = n.Memory.String()
	}
	return digest(struct {
		Image    string
		Networks []*scenario.Attachment
		Env      []string
		Args     []string
		Memory   string
		Pids     int64
	}{n.Image, n.Networks, env, n.Args, memory, n.Pids})
}

func stack(n *scenario.Network) scenario.Stack {
	if n.Stack == "" {
		return scenario.Dual
	}
	return n.Stack
}

// attachment is what Connect needs to rejoin a network as the scenario says.
type attachment struct {
	IPv4    netip.Addr `json:"ipv4,omitzero"`
	IPv6    netip.Addr `json:"ipv6,omitzero"`
	Aliases []string   `json:"aliases,omitempty"`
}

func attachLabel(a *scenario.Attachment, node string) string {
	b, _ := json.Marshal(attachment{IPv4: a.IPv4, IPv6: a.IPv6, Aliases: aliases(a, node)})
	return string(b)
}

// aliases are the DNS names of a node on a network: its own name first.
func aliases(a *scenario.Attachment, node string) []string {
	return append([]string{node}, a.Aliases...)
}
