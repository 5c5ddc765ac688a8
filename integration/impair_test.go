package integration

import (
	"socketlab/internal/labtest/need"

	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"socketlab/helpers/impair/shape"
	"socketlab/internal/images"
	"socketlab/internal/labtest"
	"socketlab/internal/result"
	"socketlab/labctl/check"
	"socketlab/labctl/lab"
	"socketlab/labctl/scenario"
)

// needImpair skips (or fails in CI) unless the impairment helper is built.
func needImpair(t *testing.T) {
	t.Helper()
	labtest.NeedImages(t, "echo", scenario.ClientImage)
	missing, err := labtest.Engine().ImagesMissing(context.Background(), images.Impair)
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		need.Missing(t, images.Ref(images.Impair, "")+" is not built: run make images")
	}
}

// echoes sends n numbered datagrams from the host to the echo server at
// addr (port 7), a little apart, and counts the distinct ones that come
// back within a second of the last. The host reaches the lab's containers
// directly, so the datagrams cross the echo node's link both ways.
func echoes(t *testing.T, addr string, n int) int {
	t.Helper()
	order, _ := numberedEchoes(t, addr, n, 500*time.Microsecond)
	got := map[uint32]bool{}
	for _, i := range order {
		got[i] = true
	}
	return len(got)
}

func impairLab(t *testing.T) (*lab.Lab, lab.NodeStatus) {
	t.Helper()
	l := labtest.Up(t, pair("echo"))
	return l, node(t, status(t, l), "echo")
}

// TestImpairLoss: 30% loss on the echo node's link, measured from outside
// over IPv4 and IPv6, falls within wide bounds; status lists it; heal
// brings every datagram back and leaves no helper.
func TestImpairLoss(t *testing.T) {
	t.Parallel()
	needImpair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, echo := impairLab(t)
	ims, err := l.ImpairLinks(ctx, "echo", "net", shape.Settings{Loss: 30})
	if err != nil {
		t.Fatalf("impair: %v", err)
	}
	if len(ims) != 1 || ims[0].Mechanism == "" || ims[0].Interface == "" {
		t.Errorf("impaired %+v, want one link with its interface and mechanism", ims)
	}
	st := status(t, l)
	if len(st.Impairments) != 1 || st.Impairments[0].Summary != "loss 30%" || !st.Impairments[0].Running {
		t.Errorf("status impairments = %+v, want echo:net loss 30%%", st.Impairments)
	}
	const n = 1000
	for _, fam := range []string{"IPv4", "IPv6"} {
		got := echoes(t, address(t, echo, "net", fam), n)
		t.Logf("%s: %d of %d datagrams came back with 30%% loss on the reply's link", fam, got, n)
		if got < 600 || got > 800 {
			t.Errorf("%s: %d of %d came back, want about 700 (600 to 800)", fam, got, n)
		}
	}
	if err := l.Heal(ctx, "echo", ""); err != nil {
		t.Fatalf("heal: %v", err)
	}
	for _, fam := range []string{"IPv4", "IPv6"} {
		if got := echoes(t, address(t, echo, "net", fam), 300); got != 300 {
			t.Errorf("%s after heal: %d of 300 came back, want all", fam, got)
		}
	}
	if left := helpersLeft(t, l.Name()); len(left) > 0 {
		t.Errorf("helpers left after heal: %v", left)
	}
	if st := status(t, l); len(st.Impairments) != 0 {
		t.Errorf("status after heal lists %+v", st.Impairments)
	}
}

// TestImpairHelperKilled: when the helper dies by SIGKILL, with a cut link
// and packets held in its delay line, traffic flows again (fail-open).
func TestImpairHelperKilled(t *testing.T) {
	t.Parallel()
	needImpair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, echo := impairLab(t)
	if _, err := l.ImpairLinks(ctx, "echo", "", shape.Settings{Loss: 100, Delay: 20 * time.Millisecond}); err != nil {
		t.Fatalf("impair: %v", err)
	}
	addr := address(t, echo, "net", "IPv6")
	if got := echoes(t, addr, 50); got != 0 {
		t.Errorf("with 100%% loss, %d of 50 came back", got)
	}
	st := status(t, l)
	if len(st.Impairments) != 1 {
		t.Fatalf("status impairments = %+v", st.Impairments)
	}
	if err := labtest.Engine().Backend().Kill(ctx, st.Impairments[0].Helper); err != nil {
		t.Fatalf("kill the helper: %v", err)
	}
	// Docker returns once the signal is sent; the kernel removes the
	// helper's rules when its process is gone.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		st := status(t, l)
		if len(st.Impairments) == 1 && !st.Impairments[0].Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status 10s after the kill = %+v, want the impairment shown as not running", st.Impairments)
		}
	}
	// With every packet dropped, the node's neighbour entries (NDP) went
	// stale too: give them a moment to be resolved again.
	began := time.Now()
	for echoes(t, addr, 10) == 0 {
		if time.Since(began) > 10*time.Second {
			t.Fatal("10s after SIGKILL of the helper, still no echo: the link stays cut")
		}
	}
	t.Logf("first echo %.1fs after the helper died", time.Since(began).Seconds())
	if got := echoes(t, addr, 100); got != 100 {
		t.Errorf("after SIGKILL of the helper, %d of 100 came back, want all", got)
	}
	if err := l.Heal(ctx, "", ""); err != nil {
		t.Fatalf("heal: %v", err)
	}
	if left := helpersLeft(t, l.Name()); len(left) > 0 {
		t.Errorf("helpers left after heal: %v", left)
	}
}

// TestImpairDelay: 100 ms on the client's link shows in every round trip
// of a TCP echo run from the client, over both families.
func TestImpairDelay(t *testing.T) {
	t.Parallel()
	needImpair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, _ := impairLab(t)
	if _, err := l.ImpairLinks(ctx, "client", "net", shape.Settings{Delay: 100 * time.Millisecond}); err != nil {
		t.Fatalf("impair: %v", err)
	}
	for _, fam := range []string{"-4", "-6"} {
		p, code := run(t, l, "client", "sock", "echo", "--json", fam, "--count", "5", "echo", "hi")
		if code != 0 {
			t.Fatalf("echo %s: exit %d: %s", fam, code, p.Error)
		}
		lat, _ := p.Details["rtt_us"].(map[string]any)
		p50, _ := lat["p50"].(float64)
		t.Logf("echo %s with 100 ms delay: rtt p50 %.1f ms", fam, p50/1000)
		if p50 < 100_000 {
			t.Errorf("echo %s: rtt p50 %.1f ms, want at least the 100 ms delay", fam, p50/1000)
		}
	}
}

// TestImpairSteps: a scenario's impair step cuts the link and its heal step
// restores it; both run through the steps runner.
func TestImpairSteps(t *testing.T) {
	t.Parallel()
	needImpair(t)
	sc := pair("echo")
	sc.Steps = []*scenario.Step{
		{Node: "client", Kind: &scenario.RunStep{Client: "echo", Target: "echo", Args: []string{"--udp", "hi"}}},
		{Node: "client", Kind: scenario.ImpairStep{Network: "net", Settings: shape.Settings{Loss: 100}}},
		{Node: "client", Timeout: scenario.Duration(2 * time.Second), Kind: &scenario.RunStep{Client: "echo", Target: "echo", Args: []string{"--udp", "hi"}, Family: scenario.FamilyBoth, Expect: &scenario.Expect{Fail: result.Timeout}}},
		{Node: "client", Kind: scenario.HealStep{}},
		{Node: "client", Kind: &scenario.RunStep{Client: "echo", Target: "echo", Args: []string{"--udp", "hi"}, Family: scenario.FamilyBoth}},
	}
	if err := sc.Validate(); err != nil {
		t.Fatal(err)
	}
	l := labtest.Up(t, sc)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep := check.Run(ctx, l, sc, nil)
	for _, r := range rep.Results {
		if r.Outcome != check.Pass {
			t.Errorf("%s %s: %s: expected %s, got %s %s", r.Name, r.Family, r.Outcome, r.Expected, r.Got, r.Message)
		}
	}
	if len(rep.Results) != 7 {
		t.Errorf("%d results, want 7", len(rep.Results))
	}
}

// TestImpairDeclared: impair: on an attachment is in force once up returns;
// up again with other settings, or none, changes the link to match; down
// leaves nothing behind.
func TestImpairDeclared(t *testing.T) {
	t.Parallel()
	needImpair(t)
	sc := pair("echo")
	sc.Nodes[1].Networks[0].Impair = &shape.Settings{Loss: 100}
	l := labtest.Up(t, sc)
	st := status(t, l)
	if len(st.Impairments) != 1 || st.Impairments[0].Node != "client" || st.Impairments[0].Summary != "loss 100%" {
		t.Fatalf("after up, impairments = %+v, want client:net loss 100%%", st.Impairments)
	}
	p, code := run(t, l, "client", "sock", "echo", "--json", "--udp", "--timeout", "1s", "echo", "hi")
	if code == 0 || p.ErrorKind != "timeout" {
		t.Errorf("UDP echo over the cut link: exit %d, %s (%s), want a timeout", code, p.Error, p.ErrorKind)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e := labtest.Engine()
	sc.Nodes[1].Networks[0].Impair = &shape.Settings{Delay: 10 * time.Millisecond}
	if _, err := e.Up(ctx, sc, lab.WithName(l.Name())); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if st := status(t, l); len(st.Impairments) != 1 || st.Impairments[0].Summary != "delay 10ms" {
		t.Errorf("after up with delay 10ms, impairments = %+v", st.Impairments)
	}
	sc.Nodes[1].Networks[0].Impair = nil
	if _, err := e.Up(ctx, sc, lab.WithName(l.Name())); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if st := status(t, l); len(st.Impairments) != 0 {
		t.Errorf("after up without impair:, impairments = %+v", st.Impairments)
	}
	if err := e.Down(ctx, l.Name()); err != nil {
		t.Fatal(err)
	}
	if labtest.Exists(t, l.Name()) {
		t.Errorf("lab %s still has resources after down", l.Name())
	}
}

// TestImpairBadInput: an unknown node or network, or impossible settings,
// fail with an error that says so and start no helper.
func TestImpairBadInput(t *testing.T) {
	t.Parallel()
	needImpair(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, _ := impairLab(t)
	cases := []struct {
		name, node, network string
		s                   shape.Settings
		is                  error
		says                string
	}{
		{"unknown node", "nobody", "", shape.Settings{Loss: 5}, lab.ErrNoNode, `"nobody"`},
		{"unknown network", "client", "elsewhere", shape.Settings{Loss: 5}, lab.ErrNoNetwork, `"elsewhere"`},
		{"jitter above delay", "client", "", shape.Settings{Delay: time.Millisecond, Jitter: time.Second}, lab.ErrInvalid, "jitter"},
		{"nothing", "client", "", shape.Settings{}, lab.ErrInvalid, "no setting given"},
	}
	for _, tt := range cases {
		_, err := l.ImpairLinks(ctx, tt.node, tt.network, tt.s)
		if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: %v, want %v saying %s", tt.name, err, tt.is, tt.says)
		}
	}
	if left := helpersLeft(t, l.Name()); len(left) > 0 {
		t.Errorf("helpers left: %v", left)
	}
}

// TestImpairCLI drives labctl impair as a person would: held in the
// foreground and reverted by Ctrl-C, applied and left in place, listed by
// status, cleared; bad input exits 2; doctor names the mechanism.
func TestImpairCLI(t *testing.T) {
	t.Parallel()
	needImpair(t)
	name := labctlUp(t, `name: pair
networks:
  net: {}
nodes:
  echo: {image: echo, networks: [net]}
  client: {image: client, networks: [net]}
`)
	bin, err := labctlBin()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "impair", "--lab", name, "client", "--loss", "100%", "--for", "1m")
	var stdout, stderr labtestBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stdout.String(), "holding for 1m0s"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("impair --for did not start holding: %s %s", stdout.String(), stderr.String())
		}
	}
	if _, out, _ := labctl(t, "status", name); !strings.Contains(out, "IMPAIRED") || !strings.Contains(out, "loss 100%") {
		t.Errorf("status while held does not list the impairment:\n%s", out)
	}
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("labctl impair --for did not end after Ctrl-C")
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(stdout.String(), "healed every link of client") {
		t.Errorf("after Ctrl-C: exit %d, stdout %q, stderr %q; want 0 and healed", code, stdout.String(), stderr.String())
	}
	if left := helpersLeft(t, name); len(left) > 0 {
		t.Errorf("helpers left after Ctrl-C: %v", left)
	}

	if code, out, stderr := labctl(t, "impair", "--lab", name, "client:net", "--delay", "50ms", "--rate", "10mbit"); code != 0 || !strings.Contains(out, "impaired client:net") {
		t.Fatalf("impair: exit %d: %s %s", code, out, stderr)
	}
	if _, out, _ := labctl(t, "status", name, "-o", "json"); !strings.Contains(out, `"summary": "delay 50ms rate 10mbit"`) {
		t.Errorf("status -o json after impair lacks the impairment:\n%s", out)
	}
	if code, out, stderr := labctl(t, "impair", "--lab", name, "--clear"); code != 0 || !strings.Contains(out, "healed every link of lab") {
		t.Errorf("impair --clear: exit %d: %s %s", code, out, stderr)
	}
	if left := helpersLeft(t, name); len(left) > 0 {
		t.Errorf("helpers left after --clear: %v", left)
	}

	for _, bad := range [][]string{
		{"impair", "--lab", name, "nobody", "--loss", "5%"},
		{"impair", "--lab", name, "client:elsewhere", "--loss", "5%"},
		{"impair", "--lab", name, "client", "--loss", "120%"},
	} {
		if code, _, stderr := labctl(t, bad...); code != 2 || stderr == "" {
			t.Errorf("%q: exit %d, stderr %q; want 2 with the reason", bad, code, stderr)
		}
	}
	if left := helpersLeft(t, name); len(left) > 0 {
		t.Errorf("helpers left after bad input: %v", left)
	}

	code, out, errs := labctl(t, "doctor", "-o", "json")
	if code != 0 || !strings.Contains(out, `"mechanism": "`) || strings.Contains(out, `"mechanism": ""`) {
		t.Errorf("doctor: exit %d, %s %s; want a mechanism", code, out, errs)
	}
}

// TestImpairSurvivesRestart: a stopped node that starts again has a new
// network namespace; its impairment is applied there again.
func TestImpairSurvivesRestart(t *testing.T) {
	t.Parallel()
	needImpair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, _ := impairLab(t)
	if _, err := l.ImpairLinks(ctx, "echo", "net", shape.Settings{Loss: 100}); err != nil {
		t.Fatalf("impair: %v", err)
	}
	if err := l.Stop(ctx, "echo"); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(ctx, "echo"); err != nil {
		t.Fatalf("start: %v", err)
	}
	echo := node(t, status(t, l), "echo")
	if got := echoes(t, address(t, echo, "net", "IPv4"), 50); got != 0 {
		t.Errorf("after a restart, %d of 50 came back through a cut link", got)
	}
	if st := status(t, l); len(st.Impairments) != 1 || !st.Impairments[0].Running {
		t.Errorf("impairments after restart = %+v, want one running", st.Impairments)
	}
}
