package docker

import (
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
