package scenario

import (
	"testing"
	"time"

	"socketlab/helpers/impair/shape"
)

// TestImpairTyped: impairment settings come out of Parse typed, on an
// attachment and on impair and heal steps.
func TestImpairTyped(t *testing.T) {
	sc, err := Parse("lossy.yaml", []byte(`name: lossy
networks:
  front: {}
nodes:
  echo:
    image: echo
    networks: [front]
  client:
    image: client
    networks: [{name: front, impair: {delay: 50ms, jitter: 10ms, loss: 20%, rate: 1mbit}}]
steps:
  - {node: client, action: impair, network: front, impair: {loss: 5, duplicate: 0.5%}}
  - {node: client, action: heal, network: front}
  - {node: client, action: heal}
  - {action: heal}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := *sc.Node("client").Networks[0].Impair
	want := shape.Settings{Delay: 50 * time.Millisecond, Jitter: 10 * time.Millisecond, Loss: 20, Rate: 1e6}
	if got != want {
		t.Errorf("attachment impair = %+v, want %+v", got, want)
	}
	if k, ok := sc.Steps[0].Kind.(ImpairStep); !ok || k.Settings != (shape.Settings{Loss: 5, Duplicate: 0.5}) {
		t.Errorf("step impair = %+v", sc.Steps[0].Kind)
	}
	if _, ok := sc.Steps[1].Kind.(HealStep); !ok {
		t.Errorf("heal step = %+v", sc.Steps[1])
	}
}
