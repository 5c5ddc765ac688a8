// Command labphases brings a scenario up with the engine, as labctl up does,
// and prints when each phase ended, from the engine's own progress events:
// networks created, then per node created, started and ready. It takes the
// lab down again. `make bench-lab` figures say how long up takes; this says
// where the time goes.
//
//	labphases scenarios/default.yaml
package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"socketlab/labctl/backend/docker"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: labphases SCENARIO")
		os.Exit(2)
	}
	if err := run(context.Background(), os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "labphases:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, file string) error {
	sc, err := scenario.Load(file)
	if err != nil {
		return err
	}
	b, err := docker.New(ctx)
	if err != nil {
		return err
	}
	defer b.Close()
	e, err := lab.New(b)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("phases-%d", os.Getpid())
	var mu sync.Mutex
	at := map[string][]time.Duration{} // phase -> when each resource reached it
	began := time.Now()
	_, err = e.Up(ctx, sc, lab.WithName(name), lab.WithProgress(func(ev lab.Event) {
		mu.Lock()
		defer mu.Unlock()
		key := string(ev.Kind) + " " + string(ev.Phase)
		at[key] = append(at[key], ev.Elapsed)
	}))
	total := time.Since(began)
	defer e.Down(context.WithoutCancel(ctx), name)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(at))
	for k := range at {
		keys = append(keys, k)
	}
	// In the order the phases ended.
	sort.Slice(keys, func(i, j int) bool { return slices.Max(at[keys[i]]) < slices.Max(at[keys[j]]) })
	fmt.Printf("%-16s %5s %9s %9s\n", "phase", "count", "first ms", "last ms")
	for _, k := range keys {
		fmt.Printf("%-16s %5d %9.0f %9.0f\n", k, len(at[k]), ms(slices.Min(at[k])), ms(slices.Max(at[k])))
	}
	fmt.Printf("%-16s %5s %9s %9.0f\n", "up returned", "", "", ms(total))
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
