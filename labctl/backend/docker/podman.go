package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"socketlab/labctl/backend"
)

// Podman serves the Docker API with differences labctl meets; each is
// mended here, where the backend knows which engine it talks to (Info):
//
//   - no ip_unprivileged_port_start=0 in containers (Docker sets it): a
//     node's servers could not listen below 1024 (web on 80), so nodes on
//     Podman get the sysctl (podmanSysctls);
//   - container inspect names a network by its name where the network
//     list gives its ID (networkID);
//   - image inspect has no Healthcheck: Podman's own API has it
//     (podmanHealthcheck);
//   - rootless, its bridges are in the user's own network namespace, out
//     of the host's reach, and no forward guard can be put on them: its
//     networks are listed with no host bridge (bridgesAway);
//   - netavark forwards between bridge networks unless each has the
//     option isolate=true: labctl's networks get it (createNetwork), or
//     labs and a lab's networks would reach each other;
//   - it gives every network IPv4, also one asked for with an IPv6
//     subnet only, and ignores the bridge option that drops IPv4 between
//     containers: labctl's nodes on a rootless engine filter IPv4
//     themselves and accept none on an IPv6-only network (lab/isolate.go);
//   - a subnet another network took, or one whose route is still on the
//     user's namespace after its network went, is refused with status 500
//     and no network to tell why, where Docker answers 403: on Podman a
//     refused network with subnets is taken for an overlap (createNetwork),
//     so that up picks others; the engine's words stay in the error;
//   - its compatible /info does not say it runs rootless: its own does
//     (podmanRootless).

// libpod GETs path from Podman's own API (not the Docker one) into out.
func (b *Backend) libpod(ctx context.Context, path string, out any) error {
	dial := b.cli.Dialer()
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
	}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+client.DummyHost+"/v4.0.0/libpod"+path, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("podman %s: status %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(out); err != nil {
		return fmt.Errorf("podman %s: %w", path, err)
	}
	return nil
}

// podmanRootless asks a Podman engine whether it runs rootless.
func (b *Backend) podmanRootless(ctx context.Context) (bool, error) {
	var in struct {
		Host struct {
			Security struct {
				Rootless bool `json:"rootless"`
			} `json:"security"`
		} `json:"host"`
	}
	err := b.libpod(ctx, "/info", &in)
	return in.Host.Security.Rootless, err
}

// podmanHealthcheck reads an image's HEALTHCHECK from Podman's own image
// inspect (its Docker one leaves it out); nil when it has none.
func (b *Backend) podmanHealthcheck(ctx context.Context, ref string) ([]string, error) {
	var img struct {
		HealthCheck *struct {
			Test []string `json:"Test"`
		} `json:"HealthCheck"`
	}
	if err := b.libpod(ctx, "/images/"+url.PathEscape(ref)+"/json", &img); err != nil || img.HealthCheck == nil {
		return nil, err
	}
	return healthArgv(img.HealthCheck.Test), nil
}

// podmanSysctls lets a node on Podman listen below port 1024, as Docker's
// nodes may; a scenario's own setting stays.
func podmanSysctls(hc *container.HostConfig) {
	if hc.NetworkMode.IsNone() || hc.NetworkMode.IsHost() || hc.NetworkMode.IsContainer() {
		return // no network namespace of its own to set it in
	}
	if _, ok := hc.Sysctls["net.ipv4.ip_unprivileged_port_start"]; ok {
		return
	}
	hc.Sysctls = maps.Clone(hc.Sysctls) // the spec's map stays as it was
	if hc.Sysctls == nil {
		hc.Sysctls = map[string]string{}
	}
	hc.Sysctls["net.ipv4.ip_unprivileged_port_start"] = "0"
}

// networkID is the ID of the network a container's endpoint is on: Docker
// gives it (id); Podman gives the network's name there, so its ID is looked up.
func (b *Backend) networkID(ctx context.Context, name, id string) string {
	if id != name {
		return id
	}
	n, err := b.cli.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	if err != nil {
		return id
	}
	return n.Network.ID
}

// bridgesAway tells whether the engine's bridges are out of the host's
// reach: rootless Podman keeps them in a namespace of the user's.
func bridgesAway(info backend.Info) bool {
	return info.Product == ProductPodman && info.Rootless
}

// stopped tells whether the container exists and is not running.
func (b *Backend) stopped(ctx context.Context, ctr string) bool {
	res, err := b.cli.ContainerInspect(ctx, ctr, client.ContainerInspectOptions{})
	return err == nil && res.Container.State != nil && !res.Container.State.Running
}

// imageName is a container's image as labctl named it: Podman prefixes
// the name of an image that came from no registry with localhost/.
func (b *Backend) imageName(ref string) string {
	if b.info.Product == ProductPodman {
		return strings.TrimPrefix(ref, "localhost/")
	}
	return ref
}

// dockerCaps is Docker's default capability set, which Podman's container
// inspect reports capabilities against.
var dockerCaps = []string{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}

// podmanCaps turns Podman's report of a container that dropped
// capabilities into Docker's for the same container: drop ALL, add what
// it has.
func podmanCaps(drop, add []string) ([]string, []string) {
	if len(drop) == 0 || slices.Contains(drop, "ALL") {
		return drop, add
	}
	name := func(c string) string { return strings.TrimPrefix(strings.ToUpper(c), "CAP_") }
	var have []string
	for _, c := range dockerCaps {
		if !slices.ContainsFunc(drop, func(d string) bool { return name(d) == c }) {
			have = append(have, c)
		}
	}
	for _, c := range add {
		if !slices.Contains(have, name(c)) {
			have = append(have, name(c))
		}
	}
	return []string{"ALL"}, have
}
