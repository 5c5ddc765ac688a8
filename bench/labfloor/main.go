// Command labfloor is the floor `make bench-lab` measures labctl up
// against: a scenario's networks and containers created, connected and
// started with bare Docker API calls, every node at once, with no
// readiness wait and no checks. It prints the seconds up and down took.
//
//	labfloor scenarios/default.yaml
package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"socketlab/internal/images"
	"socketlab/labctl/scenario"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: labfloor SCENARIO")
		os.Exit(2)
	}
	if err := run(context.Background(), os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "labfloor:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, file string) error {
	sc, err := scenario.Load(file)
	if err != nil {
		return err
	}
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return err
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return err
	}
	prefix := fmt.Sprintf("floor-%d-", os.Getpid())
	var ctrs []string
	nets := map[string]string{}
	defer func() { // whatever happens, nothing is left
		for _, id := range ctrs {
			cli.ContainerRemove(context.WithoutCancel(ctx), id, client.ContainerRemoveOptions{Force: true})
		}
		for _, id := range nets {
			cli.NetworkRemove(context.WithoutCancel(ctx), id, client.NetworkRemoveOptions{})
		}
	}()

	began := time.Now()
	for _, n := range sc.Networks {
		id, err := createNetwork(ctx, cli, prefix+n.Name, n)
		if err != nil {
			return err
		}
		nets[n.Name] = id
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(sc.Nodes))
	for i, n := range sc.Nodes {
		wg.Go(func() {
			first := n.Networks[0]
			res, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
				Name:   prefix + n.Name,
				Config: &container.Config{Image: images.Ref(n.Image, ""), Hostname: n.Name, Cmd: n.Args},
				HostConfig: &container.HostConfig{
					NetworkMode: container.NetworkMode(nets[first.Network]), ReadonlyRootfs: true,
					CapDrop: []string{"ALL"}, SecurityOpt: []string{"no-new-privileges"},
				},
				NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
					nets[first.Network]: {Aliases: []string{n.Name}},
				}},
			})
			if err != nil {
				errs[i] = err
				return
			}
			mu.Lock()
			ctrs = append(ctrs, res.ID)
			mu.Unlock()
			for _, a := range n.Networks[1:] {
				if _, err := cli.NetworkConnect(ctx, nets[a.Network], client.NetworkConnectOptions{
					Container: res.ID, EndpointConfig: &network.EndpointSettings{Aliases: []string{n.Name}},
				}); err != nil {
					errs[i] = err
					return
				}
			}
			_, errs[i] = cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	up := time.Since(began)

	began = time.Now()
	for _, id := range ctrs {
		wg.Go(func() { cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true}) })
	}
	wg.Wait()
	for _, id := range nets {
		wg.Go(func() { cli.NetworkRemove(ctx, id, client.NetworkRemoveOptions{}) })
	}
	wg.Wait()
	ctrs, nets = nil, nil
	fmt.Printf("%.3f %.3f\n", up.Seconds(), time.Since(began).Seconds())
	return nil
}

// createNetwork makes a dual-stack bridge on a random free /24 and /64 of
// ranges labctl does not use, retrying on overlap.
func createNetwork(ctx context.Context, cli *client.Client, name string, n *scenario.Network) (string, error) {
	for range 20 {
		k := rand.IntN(250)
		v4 := netip.MustParsePrefix(fmt.Sprintf("10.252.%d.0/24", k))
		v6 := netip.MustParsePrefix(fmt.Sprintf("fd5c:1ab:fffc:%x::/64", k))
		on := true
		res, err := cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{
			Driver: "bridge", EnableIPv6: &on, Internal: n.Internal,
			IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: v4}, {Subnet: v6}}},
		})
		if cerrdefs.IsPermissionDenied(err) { // the subnet is taken
			continue
		}
		return res.ID, err
	}
	return "", fmt.Errorf("network %s: no free subnet in 10.252/16", n.Name)
}
