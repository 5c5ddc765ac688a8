package docker

import (
	"context"
	"fmt"
	"io"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// SwarmState is what an engine says of its part in a swarm.
type SwarmState struct {
	// NodeID is the engine's node in the swarm ("" when not in one).
	NodeID string
	// Active: the engine is an active member of a swarm.
	Active bool
	// Manager: the engine manages the swarm (it can create networks).
	Manager bool
	// ClusterID names the swarm; only a manager knows it.
	ClusterID string
	// Managers are the addresses of the managers a worker knows.
	Managers []string
	// Error is the engine's own word on a swarm it cannot reach.
	Error string
}

// Swarm reads the engine's swarm membership.
func (b *Backend) Swarm(ctx context.Context) (SwarmState, error) {
	in, err := b.cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return SwarmState{}, classify("engine info", err)
	}
	sw := in.Info.Swarm
	st := SwarmState{
		NodeID: sw.NodeID, Active: sw.LocalNodeState == swarm.LocalNodeStateActive,
		Manager: sw.ControlAvailable, Error: sw.Error,
	}
	if sw.Cluster != nil {
		st.ClusterID = sw.Cluster.ID
	}
	for _, p := range sw.RemoteManagers {
		st.Managers = append(st.Managers, p.Addr)
	}
	return st, nil
}

// SwarmNodes lists the IDs of the swarm's nodes; only a manager can.
func (b *Backend) SwarmNodes(ctx context.Context) ([]string, error) {
	res, err := b.cli.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return nil, classify("list swarm nodes", err)
	}
	ids := make([]string, len(res.Items))
	for i, n := range res.Items {
		ids[i] = n.ID
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("list swarm nodes: none")
	}
	return ids, nil
}

// CopyImage copies the image ref from this engine to dst (docker save |
// docker load through the API), so that both hold the same build, ID and
// all; nothing is pulled.
func (b *Backend) CopyImage(ctx context.Context, ref string, dst *Backend) error {
	saved, err := b.cli.ImageSave(ctx, []string{ref})
	if err != nil {
		return classify("save image "+ref, err)
	}
	defer saved.Close()
	res, err := dst.cli.ImageLoad(ctx, saved, client.ImageLoadWithQuiet(true))
	if err != nil {
		return classify("load image "+ref+" at "+dst.Endpoint(), err)
	}
	defer res.Close()
	if _, err := io.Copy(io.Discard, res); err != nil {
		return fmt.Errorf("load image %s at %s: %w", ref, dst.Endpoint(), err)
	}
	return nil
}
