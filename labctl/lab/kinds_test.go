package lab

import (
	"testing"

	"socketlab/labctl/backend"
	"socketlab/labctl/scenario"
)

// specialKind runs one image the image kind would also take.
type specialKind struct{ imageKind }

func (specialKind) Name() string                { return "special" }
func (specialKind) Match(n *scenario.Node) bool { return n.Image == "example/special:1" }

func TestKindsOrder(t *testing.T) {
	t.Parallel()
	// A new kind, listed last: still before the catch-all image kind.
	withNew := append(kindSet{}, kinds...)
	withNew = append(withNew, specialKind{})
	for _, tc := range []struct {
		name, image string
		ks          kindSet
		want        string
	}{
		{"a service", "echo", kinds, "service"},
		{"the client", "client", kinds, "client"},
		{"the toolbox", "toolbox", kinds, "toolbox"},
		{"any image", "python:3.12-slim", kinds, "image"},
		{"an image of a new kind, before it is listed", "example/special:1", kinds, "image"},
		{"an image of a new kind, listed last", "example/special:1", withNew, "special"},
		{"any image, with the new kind listed", "python:3.12-slim", withNew, "image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := tc.ks.of(&scenario.Node{Name: "n", Image: tc.image})
			if err != nil {
				t.Fatal(err)
			}
			if k.Name() != tc.want {
				t.Errorf("image %s is of kind %s, want %s", tc.image, k.Name(), tc.want)
			}
		})
	}
	// The image kind never takes a socketlab short name.
	if k, err := (kindSet{}).of(&scenario.Node{Name: "n", Image: "echo"}); err == nil {
		t.Errorf("a short name with its kind not listed is of kind %s, want an error", k.Name())
	}
	var spec backend.NodeSpec
	specialKind{}.Configure(&scenario.Node{}, &spec)
	if !spec.Security.ReadOnlyRoot {
		t.Error("the new kind's node is not hardened")
	}
}
