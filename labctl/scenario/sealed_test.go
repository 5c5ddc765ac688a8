package scenario

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestWarningsSealed: a step aimed outside the lab, or at a gateway, from
// a node on no egress network is valid and warned about, saying it cannot
// succeed; the same step from an egress network, a step that expects the
// failure, and a step aimed inside the lab are not.
func TestWarningsSealed(t *testing.T) {
	head := func(egress string) string {
		return "name: w\nnetworks:\n  lab: {" + egress + "}\n  fixed: {ipv4: 10.80.1.0/24, ipv6: 'fd00:80:1::/64'}\n" +
			"nodes:\n  client: {image: client, networks: [lab, fixed]}\n  box: {image: toolbox, networks: [fixed]}\n  echo: {image: echo, networks: [lab]}\nsteps:\n"
	}
	tests := []struct {
		name, egress, step string
		want               []string // substrings of the one warning; nil: none
	}{
		{"the internet", "", "  - {node: client, run: echo, target: '8.8.8.8:53', args: [x]}\n",
			[]string{"w.yaml:10:39: steps[0].target: 8.8.8.8 is outside the lab's networks, and node client is sealed (none of its networks has egress: true): the step cannot succeed (give one of the node's networks egress: true"}},
		{"metadata service", "", "  - {node: client, run: browse, target: 'http://169.254.169.254/latest/'}\n", []string{"169.254.169.254 is outside the lab's networks"}},
		{"docker0", "", "  - {node: client, run: echo, target: '172.17.0.1:9', args: [x]}\n", []string{"172.17.0.1 is outside"}},
		{"a fixed network's gateway", "", "  - {node: client, run: echo, target: 10.80.1.1, args: [x]}\n", []string{"10.80.1.1 is network fixed's gateway, an address of the host"}},
		{"a fixed network's IPv6 gateway", "", "  - {node: client, run: echo, target: '[fd00:80:1::1]:7', args: [x]}\n", []string{"fd00:80:1::1 is network fixed's gateway"}},
		{"a picked network's gateway", "", "  - {node: client, run: browse, target: 'http://10.200.179.1:18080/'}\n", []string{"10.200.179.1 is the gateway of a network labctl picks"}},
		{"exec aimed outside", "", "  - {node: box, exec: [curl, 'http://192.0.2.7/']}\n", []string{"steps[0].exec: 192.0.2.7 is outside", "node box is sealed"}},
		{"exec with a port", "", "  - {node: box, exec: [nc, '-z', '198.51.100.4:80']}\n", []string{"198.51.100.4 is outside"}},
		{"a node by name", "", "  - {node: client, run: echo, target: echo, args: [x]}\n", nil},
		{"a node's fixed address", "", "  - {node: client, run: echo, target: 10.80.1.9, args: [x]}\n", nil},
		{"a picked network's node", "", "  - {node: client, run: echo, target: 10.200.179.5, args: [x]}\n", nil},
		{"loopback", "", "  - {node: box, exec: [nc, '-z', '127.0.0.1:80']}\n", nil},
		{"expects the failure", "", "  - {node: client, run: echo, target: '8.8.8.8:53', args: [x], expect: {fail: timeout}}\n", nil},
		{"exec expects a failure", "", "  - {node: box, exec: [curl, 'http://192.0.2.7/'], expect: {exit: 7}}\n", nil},
		{"egress", "egress: true", "  - {node: client, run: echo, target: '8.8.8.8:53', args: [x]}\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := Parse("w.yaml", []byte(head(tt.egress)+tt.step))
			if err != nil {
				t.Fatalf("a warning must not be an error: %v", err)
			}
			ws := sc.Warnings()
			if tt.want == nil {
				if len(ws) > 0 {
					t.Errorf("warnings %v, want none", ws)
				}
				return
			}
			if len(ws) != 1 {
				t.Fatalf("warnings %v, want one", ws)
			}
			for _, w := range tt.want {
				if !strings.Contains(ws[0].Error(), w) {
					t.Errorf("warning %q\n does not say %q", ws[0], w)
				}
			}
		})
	}
}

// TestLibraryHasNoWarnings: the scenarios shipped are sealed and aim at
// nothing outside themselves.
func TestLibraryHasNoWarnings(t *testing.T) {
	files, err := filepath.Glob("../../scenarios/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("scenarios: %v, %v", files, err)
	}
	for _, f := range files {
		sc, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		if ws := sc.Warnings(); len(ws) > 0 {
			t.Errorf("%s: %v", f, ws)
		}
	}
}

func TestInternalAndEgress(t *testing.T) {
	_, err := Parse("w.yaml", []byte("name: w\nnetworks:\n  lab: {internal: true, egress: true}\nnodes:\n  e: {image: echo, networks: [lab]}\n"))
	if err == nil || !strings.Contains(err.Error(), "w.yaml:3:33: networks.lab.egress: internal: true cuts the network off from the outside, egress: true lets it out (leave out one of them)") {
		t.Errorf("error %v", err)
	}
}
