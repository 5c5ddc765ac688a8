package docker

import (
	"slices"
	"testing"

	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
)

// TestDescribeEngine tells the engines apart by what their version and
// info answers hold (as Docker 20.10, Docker 29, rootless Podman 4.3 and
// Docker Desktop answer).
func TestDescribeEngine(t *testing.T) {
	for _, c := range []struct {
		name     string
		v        client.ServerVersionResult
		in       system.Info
		product  string
		rootless bool
		store    string
	}{
		{"docker 20.10", client.ServerVersionResult{Components: []system.ComponentVersion{{Name: "Engine"}}},
			system.Info{Driver: "overlay2", SecurityOptions: []string{"name=seccomp,profile=default"}}, ProductDocker, false, "overlay2"},
		{"docker 29", client.ServerVersionResult{Components: []system.ComponentVersion{{Name: "Engine"}, {Name: "containerd"}}},
			system.Info{Driver: "overlayfs", DriverStatus: [][2]string{{"driver-type", "io.containerd.snapshotter.v1"}}},
			ProductDocker, false, "containerd, overlayfs snapshotter"},
		{"rootless docker", client.ServerVersionResult{},
			system.Info{Driver: "overlay2", SecurityOptions: []string{"name=seccomp,profile=builtin", "name=rootless", "name=cgroupns"}}, ProductDocker, true, "overlay2"},
		{"rootless podman", client.ServerVersionResult{Components: []system.ComponentVersion{{Name: "Podman Engine", Version: "4.3.1"}}},
			system.Info{Driver: "overlay", SecurityOptions: []string{"name=seccomp,profile=default", "name=rootless"}}, ProductPodman, true, "containers/storage, overlay"},
		{"docker desktop", client.ServerVersionResult{Platform: client.PlatformInfo{Name: "Docker Desktop 4.49.0 (208003)"}},
			system.Info{Driver: "overlay2"}, ProductDockerDesktop, false, "overlay2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			product, rootless, store := describeEngine(c.v, c.in)
			if product != c.product || rootless != c.rootless || store != c.store {
				t.Errorf("describeEngine = %q, rootless %v, %q; want %q, %v, %q", product, rootless, store, c.product, c.rootless, c.store)
			}
		})
	}
}

// TestPodmanCaps reads Podman's capability report as Docker's.
func TestPodmanCaps(t *testing.T) {
	for _, c := range []struct {
		name              string
		drop, add         []string
		wantDrop, wantAdd []string
	}{
		{"drop all, add NET_RAW", []string{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}, nil,
			[]string{"ALL"}, []string{"NET_RAW"}},
		{"drop all, add NET_ADMIN", []string{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}, []string{"CAP_NET_ADMIN"},
			[]string{"ALL"}, []string{"NET_ADMIN"}},
		{"nothing dropped", nil, nil, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			drop, add := podmanCaps(c.drop, c.add)
			if !slices.Equal(drop, c.wantDrop) || !slices.Equal(add, c.wantAdd) {
				t.Errorf("podmanCaps = drop %v, add %v; want drop %v, add %v", drop, add, c.wantDrop, c.wantAdd)
			}
		})
	}
}
