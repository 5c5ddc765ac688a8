package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"socketlab/labctl/backend"
	"socketlab/labctl/scenario"
)

// LabelReadyCheck holds a node's readiness check from the scenario, as
// JSON, so that Start runs the same check without the file.
const LabelReadyCheck = "socketlab.ready.check"

// probeTimeout bounds one attempt of a tcp or udp check.
const probeTimeout = time.Second

// probeSpec is what a tcp or udp check needs to run its probe: the image
// with sock, and the labels and name of the helper it runs in.
type probeSpec struct {
	image  string
	name   string
	labels map[string]string
}

// scenarioReadiness is the readiness check a scenario gives a node, and
// what removes what the check left running (a probe helper) once the wait
// is over.
//
// tcp and udp checks run sock in a helper container in the node's network
// namespace (the image with sock, socketlab/client), because the node's
// image may have no tools at all and the engine's host may not reach the
// node's addresses (a remote engine, Docker Desktop): a helper reaches
// 127.0.0.1 of the node wherever the engine runs. It starts once per wait
// and each attempt is an exec in it, tens of milliseconds.
func scenarioReadiness(r *scenario.Ready, p probeSpec) (Readiness, func()) {
	none := func() {}
	switch {
	case r.None:
		return Readiness{}, none
	case r.Log != "":
		return Readiness{What: r.String(), Check: func(ctx context.Context, b ReadyBackend, id string) error {
			return logCheck(ctx, b, id, r.Log)
		}}, none
	case len(r.Exec) > 0:
		argv := r.Exec
		return Readiness{What: r.String(), Check: func(ctx context.Context, b ReadyBackend, id string) error {
			return execCheck(ctx, b, id, argv)
		}}, none
	}
	pr := &prober{spec: p}
	return Readiness{What: r.String(), Check: func(ctx context.Context, b ReadyBackend, id string) error {
		return pr.check(ctx, b, id, r)
	}}, pr.close
}

// readyLabel is the label that carries r for Start.
func readyLabel(r *scenario.Ready) string {
	b, _ := json.Marshal(r)
	return string(b)
}

// readinessFromLabels is the scenario's readiness check of a node as its
// labels keep it; ok false when the scenario gave none.
func readinessFromLabels(labels map[string]string, p probeSpec) (Readiness, func(), bool) {
	s, found := labels[LabelReadyCheck]
	if !found {
		return Readiness{}, nil, false
	}
	var r scenario.Ready
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return Readiness{}, nil, false
	}
	rd, done := scenarioReadiness(&r, p)
	return rd, done, true
}

// logCheck passes when a line of the container's output contains text.
func logCheck(ctx context.Context, b backend.Containers, id, text string) error {
	var out bytes.Buffer
	w := &limited{w: &out, n: 4 << 20}
	if err := b.Logs(ctx, id, false, 0, w, w); err != nil {
		return err
	}
	for line := range strings.SplitSeq(out.String(), "\n") {
		if strings.Contains(line, text) {
			return nil
		}
	}
	return fmt.Errorf("no line of its output contains %q yet", text)
}

// prober runs tcp and udp checks from a helper in the node's network
// namespace, started at the first attempt.
type prober struct {
	spec probeSpec
	mu   sync.Mutex
	h    backend.Helper
}

func (p *prober) check(ctx context.Context, b ReadyBackend, node string, r *scenario.Ready) error {
	p.mu.Lock()
	if p.h == nil {
		h, err := b.RunHelper(ctx, node, backend.HelperSpec{
			Name: p.spec.name + "-ready-" + newID()[:6], Image: p.spec.image,
			Cmd: []string{"idle"}, Labels: p.spec.labels, // the client image runs sock
		})
		if err != nil {
			p.mu.Unlock()
			return fmt.Errorf("start the readiness probe (%s): %w", p.spec.image, err)
		}
		go io.Copy(io.Discard, h.Stdout())
		p.h = h
	}
	h := p.h
	p.mu.Unlock()
	var last error
	for _, host := range []string{"127.0.0.1", "[::1]"} {
		if last = probe(ctx, b, h.ID(), host, r); last == nil {
			return nil
		}
	}
	return last
}

// probe runs one attempt: sock connects to the node's TCP port (ready once
// it connects, whatever the server then says), or sends a datagram to its
// UDP port (ready once any reply comes).
func probe(ctx context.Context, b backend.Execer, helper, host string, r *scenario.Ready) error {
	t := probeTimeout.String()
	var argv []string
	if r.TCP != 0 {
		argv = []string{"sock", "echo", "--json", "--timeout", t, "--size", "0", host + ":" + strconv.FormatInt(r.TCP, 10)}
	} else {
		argv = []string{"sock", "responder", "--json", "--timeout", t, host + ":" + strconv.FormatInt(r.UDP, 10), r.SendOrDefault()}
	}
	var out, errb bytes.Buffer
	if _, err := b.Exec(ctx, helper, argv, backend.Streams{Stdout: &out, Stderr: &errb}); err != nil {
		return err
	}
	var res struct {
		Local         string `json:"local"`
		BytesReceived int64  `json:"bytes_received"`
		Error         string `json:"error"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return fmt.Errorf("the probe gave no result: %s", strings.TrimSpace(errb.String()+out.String()))
	}
	switch {
	case r.TCP != 0 && res.Local != "":
		return nil
	case r.UDP != 0 && res.BytesReceived > 0:
		return nil
	case res.Error != "":
		return errors.New(res.Error)
	}
	return errors.New("no answer")
}

// close removes the probe's helper, if it started.
func (p *prober) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.h == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p.h.Remove(ctx, 0)
	p.h = nil
}

// helperLabels are the labels of a helper the engine runs for node.
func helperLabels(node map[string]string, purpose string) map[string]string {
	l := map[string]string{}
	for _, k := range []string{LabelLab, LabelFile, LabelUp} {
		if v, ok := node[k]; ok {
			l[k] = v
		}
	}
	l[LabelRole] = RoleHelper
	l[LabelNode] = node[LabelNode]
	l[LabelHelper] = purpose
	return maps.Clone(l)
}
