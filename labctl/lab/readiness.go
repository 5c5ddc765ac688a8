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

	"socketlab/internal/socktable"
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
// tcp and udp checks look at the node's sockets from a helper container in
// the node's network namespace (the image with sock, socketlab/client):
// sock sockets reads the namespace's socket tables (/proc/net/tcp, tcp6,
// udp, udp6) as the helper's own /proc shows them. The node's image may have
// no tools at all and the engine's host may not reach the node (a remote
// engine, Docker Desktop): a helper works wherever the engine runs. The check
// never connects: a server that serves one client is not used up by it, and a
// server bound to loopback only, which a connection from inside the node
// would reach, is found out. It starts once per wait and each attempt is an
// exec in it, tens of milliseconds.
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
	return probe(ctx, b, h.ID(), r)
}

// probe runs one attempt: the node's sockets must include one on the
// check's port that other nodes can reach (TCP: a listener; UDP: a bound,
// unconnected socket). One on loopback only is a permanent failure that
// says what to bind. A udp check that names send then also wants a reply.
func probe(ctx context.Context, b backend.Execer, helper string, r *scenario.Ready) error {
	proto, port := "tcp", uint16(r.TCP)
	if r.TCP == 0 {
		proto, port = "udp", uint16(r.UDP)
	}
	var out, errb bytes.Buffer
	code, err := b.Exec(ctx, helper, []string{"sock", "sockets", "--json"}, backend.Streams{Stdout: &out, Stderr: &errb})
	if err != nil {
		return err
	}
	var table struct {
		Sockets []socktable.Socket `json:"sockets"`
	}
	if code != 0 || json.Unmarshal(out.Bytes(), &table) != nil {
		return &lastingError{msg: fmt.Sprintf("the readiness probe could not list the node's sockets (sock sockets exited %d: %s): rebuild its image (make images)",
			code, strings.TrimSpace(errb.String()+out.String()))}
	}
	on := socktable.On(table.Sockets, proto, port)
	if len(on) == 0 {
		return fmt.Errorf("nothing listens on %s port %d yet", proto, port)
	}
	for _, s := range on {
		if s.Reachable() {
			if r.UDP != 0 && r.Send != "" {
				return udpReply(ctx, b, helper, r)
			}
			return nil
		}
	}
	var found []string
	for _, s := range on {
		found = append(found, s.Local.String())
	}
	return &lastingError{msg: fmt.Sprintf("it listens on %s %s only, a loopback address: other nodes cannot reach it (connection refused); bind every address instead: \"\" or \"0.0.0.0\" (IPv4), \"::\" (IPv4 and IPv6), e.g. in Python HOST = \"\"",
		proto, strings.Join(found, " and "))}
}

// lastingError is a readiness failure that waiting does not cure: the
// node's server listens where other nodes cannot reach it, or its sockets
// cannot be listed.
type lastingError struct{ msg string }

func (e *lastingError) Error() string { return e.msg }

// udpReply sends the check's datagram to the node's UDP port from inside
// its namespace: ready once any reply comes.
func udpReply(ctx context.Context, b backend.Execer, helper string, r *scenario.Ready) error {
	argv := []string{"sock", "responder", "--json", "--timeout", probeTimeout.String(), "127.0.0.1:" + strconv.FormatInt(r.UDP, 10), r.Send}
	var out, errb bytes.Buffer
	if _, err := b.Exec(ctx, helper, argv, backend.Streams{Stdout: &out, Stderr: &errb}); err != nil {
		return err
	}
	var res struct {
		BytesReceived int64  `json:"bytes_received"`
		Error         string `json:"error"`
	}
	switch {
	case json.Unmarshal(out.Bytes(), &res) != nil:
		return fmt.Errorf("the probe gave no result: %s", strings.TrimSpace(errb.String()+out.String()))
	case res.BytesReceived > 0:
		return nil
	case res.Error != "":
		return errors.New(res.Error)
	}
	return errors.New("no reply")
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
