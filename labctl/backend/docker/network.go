package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"socketlab/labctl/backend"
)

// CreateNetwork creates a bridge network.
func (b *Backend) CreateNetwork(ctx context.Context, spec backend.NetworkSpec) (string, error) {
	return b.createNetwork(ctx, spec, "bridge")
}

// CreateOverlay creates an attachable overlay network: on a swarm manager,
// one network that spans every host of the swarm, which plain containers
// on any of them may join.
func (b *Backend) CreateOverlay(ctx context.Context, spec backend.NetworkSpec) (string, error) {
	if spec.IPv4Off || spec.Isolated {
		return "", fmt.Errorf("create network %s: an IPv6-only overlay network: %w (give it IPv4 too)", spec.Name, backend.ErrUnsupported)
	}
	return b.createNetwork(ctx, spec, "overlay")
}

func (b *Backend) createNetwork(ctx context.Context, spec backend.NetworkSpec, driver string) (string, error) {
	if _, err := b.Info(ctx); err != nil {
		return "", err
	}
	opts := map[string]string{}
	var enable4 *bool
	if spec.IPv4Off {
		if !b.info.IPv6OnlyNetworks {
			return "", fmt.Errorf("create network %s: an IPv6-only bridge: %w (Docker %s; 28 or later can)", spec.Name, backend.ErrUnsupported, b.info.Version)
		}
		off := false
		enable4 = &off
	}
	if spec.Isolated {
		opts["com.docker.network.bridge.enable_icc"] = "false"
	}
	if b.info.Product == ProductPodman && driver == "bridge" {
		opts["isolate"] = "true"
	}
	ipam := &network.IPAM{Driver: "default"}
	for _, s := range []netip.Prefix{spec.IPv4, spec.IPv6} {
		if s.IsValid() {
			ipam.Config = append(ipam.Config, network.IPAMConfig{Subnet: s})
		}
	}
	want6 := spec.IPv6.IsValid()
	req := network.CreateRequest{
		Name: spec.Name, Driver: driver, EnableIPv4: enable4, EnableIPv6: &want6, IPAM: ipam,
		Internal: spec.Internal, Options: opts, Labels: spec.Labels, Attachable: driver == "overlay",
	}
	id, status, err := b.postNetwork(ctx, req)
	switch {
	case err == nil:
		return id, nil
	case status == http.StatusForbidden, // libnetwork's "Pool overlaps"
		b.info.Product == ProductPodman && (spec.IPv4.IsValid() || spec.IPv6.IsValid()): // Podman answers 500
		return "", fmt.Errorf("create network %s: %w (%v)", spec.Name, backend.ErrOverlap, err)
	case status == http.StatusConflict:
		return "", fmt.Errorf("create network %s: %w", spec.Name, backend.ErrNameInUse)
	}
	return "", classify("create network "+spec.Name, err)
}

// postNetwork creates a network with CheckDuplicate set. Engines before API
// 1.44 create a second network of a name already taken unless asked to
// check (two ups racing then leave "ambiguous" names behind), and the
// client no longer sends the field, so the request is made here on the
// client's own connection.
func (b *Backend) postNetwork(ctx context.Context, req network.CreateRequest) (id string, status int, err error) {
	body, err := json.Marshal(struct {
		network.CreateRequest
		CheckDuplicate bool
	}{req, true})
	if err != nil {
		return "", 0, err
	}
	dial := b.cli.Dialer()
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
	}}
	defer hc.CloseIdleConnections()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://"+client.DummyHost+"/v"+b.cli.ClientVersion()+"/networks/create", bytes.NewReader(body))
	if err != nil {
		return "", 0, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(hreq)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %v", backend.ErrUnreachable, err)
	}
	defer resp.Body.Close()
	var out struct {
		ID      string `json:"Id"`
		Message string `json:"message"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return "", resp.StatusCode, fmt.Errorf("network create: status %d: %w", resp.StatusCode, err)
	}
	if resp.StatusCode/100 != 2 {
		return "", resp.StatusCode, fmt.Errorf("error response from daemon: %s", out.Message)
	}
	return out.ID, resp.StatusCode, nil
}

// RemoveNetwork removes a network; one already gone is no error.
func (b *Backend) RemoveNetwork(ctx context.Context, id string) error {
	if _, err := b.cli.NetworkRemove(ctx, id, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
		return classify("remove network "+id, err)
	}
	return nil
}

// endpoint is the Docker endpoint configuration of ep.
func endpoint(ep backend.Endpoint) *network.EndpointSettings {
	es := &network.EndpointSettings{Aliases: ep.Aliases}
	if ep.IPv4.IsValid() || ep.IPv6.IsValid() {
		es.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: ep.IPv4, IPv6Address: ep.IPv6}
	}
	return es
}
