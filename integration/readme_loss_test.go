package integration

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestReadmeLossyEcho runs the README's first two lines of "Break the link"
// as written (with --lab for the test's own lab): 20% loss on the client,
// then sock echo --udp --count 200 --wait 200ms. It must succeed, and its
// summary must agree with itself: round trips = datagrams that came back,
// came back + lost = sent, about 160 of 200.
func TestReadmeLossyEcho(t *testing.T) {
	t.Parallel()
	needImpair(t)
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n### Break the link")
	block := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(sec)
	if !ok || block == nil {
		t.Fatal(`README.md has no shell block under "### Break the link"`)
	}
	lines := strings.Split(block[1], "\n")[:2]
	name := labctlUp(t, `name: pair
networks:
  net: {}
nodes:
  echo: {image: echo, networks: [net]}
  client: {image: client, networks: [net]}
`)
	var out string
	for _, line := range lines {
		line, _, _ = strings.Cut(line, "#")
		args := strings.Fields(line)
		if len(args) < 2 || args[0] != "bin/labctl" {
			t.Fatalf("README line %q is not a bin/labctl command", line)
		}
		args = append([]string{args[1], "--lab", name}, args[2:]...)
		code, stdout, stderr := labctl(t, args...)
		if code != 0 {
			t.Fatalf("README line %q: exit %d\n%s%s", line, code, stdout, stderr)
		}
		out = stdout
	}
	m := regexp.MustCompile(`(?m)^(\d+) round trips? of .*\n(\d+) of (\d+) datagrams came back, (\d+) lost`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary in:\n%s", out)
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	if n(1) != n(2) || n(2)+n(4) != n(3) || n(3) != 200 {
		t.Errorf("the summary contradicts itself or did not send 200:\n%s", out)
	}
	if n(2) < 120 || n(2) > 190 {
		t.Errorf("%d of 200 came back at 20%% loss, want about 160 (120 to 190):\n%s", n(2), out)
	}
	t.Logf("%s", out)
}
