package docker

import (
	"context"
	"fmt"

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
