package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
)

// Engine kinds the Docker API may be served by, as backend.Info.Product
// names them.
const (
	ProductDocker        = "Docker"
	ProductDockerDesktop = "Docker Desktop"
	ProductPodman        = "Podman"
)

// describeEngine tells which engine answers the Docker API, whether it
// runs rootless, and where it keeps images, from its version and info.
// Podman names itself among the version's components; Docker 29's
// containerd image store shows as a snapshotter driver type.
func describeEngine(v client.ServerVersionResult, in system.Info) (product string, rootless bool, store string) {
	product = ProductDocker
	if strings.HasPrefix(v.Platform.Name, "Docker Desktop") {
		product = ProductDockerDesktop
	}
	for _, c := range v.Components {
		if strings.Contains(c.Name, "Podman") {
			product = ProductPodman
		}
	}
	rootless = slices.ContainsFunc(in.SecurityOptions, func(o string) bool {
		return slices.Contains(strings.Split(o, ","), "name=rootless")
	})
	store = in.Driver
	for _, kv := range in.DriverStatus {
		if kv[0] == "driver-type" && strings.HasPrefix(kv[1], "io.containerd.snapshotter") {
			store = "containerd, " + in.Driver + " snapshotter"
		}
	}
	if product == ProductPodman {
		store = "containers/storage, " + in.Driver
	}
	return product, rootless, store
}

// podmanInfo is what Podman's own API (libpod) says of it that its Docker
// API leaves out: its compatible /info names no rootless security option.
type podmanInfo struct {
	Host struct {
		Security struct {
			Rootless bool `json:"rootless"`
		} `json:"security"`
	} `json:"host"`
}

// podmanRootless asks a Podman engine whether it runs rootless.
func (b *Backend) podmanRootless(ctx context.Context) (bool, error) {
	dial := b.cli.Dialer()
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
	}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+client.DummyHost+"/v4.0.0/libpod/info", nil)
	if err != nil {
		return false, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, fmt.Errorf("podman info: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("podman info: status %d", resp.StatusCode)
	}
	var in podmanInfo
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&in); err != nil {
		return false, fmt.Errorf("podman info: %w", err)
	}
	return in.Host.Security.Rootless, nil
}
