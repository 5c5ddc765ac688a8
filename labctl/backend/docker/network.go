package docker

import (
	"context"
	"fmt"
	"net/netip"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"socketlab/labctl/backend"
)

// CreateNetwork creates a bridge network.
func (b *Backend) CreateNetwork(ctx context.Context, spec backend.NetworkSpec) (string, error) {
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
	ipam := &network.IPAM{Driver: "default"}
	for _, s := range []netip.Prefix{spec.IPv4, spec.IPv6} {
		if s.IsValid() {
			ipam.Config = append(ipam.Config, network.IPAMConfig{Subnet: s})
		}
	}
	want6 := spec.IPv6.IsValid()
	res, err := b.cli.NetworkCreate(ctx, spec.Name, client.NetworkCreateOptions{
		Driver: "bridge", EnableIPv4: enable4, EnableIPv6: &want6, IPAM: ipam,
		Internal: spec.Internal, Options: opts, Labels: spec.Labels,
	})
	switch {
	case err == nil:
		return res.ID, nil
	case cerrdefs.IsPermissionDenied(err): // 403: libnetwork's "Pool overlaps"
		return "", fmt.Errorf("create network %s: %w (%v)", spec.Name, backend.ErrOverlap, err)
	case cerrdefs.IsConflict(err):
		return "", fmt.Errorf("create network %s: %w", spec.Name, backend.ErrNameInUse)
	}
	return "", classify("create network "+spec.Name, err)
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
