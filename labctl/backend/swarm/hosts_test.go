package swarm

import (
	"strings"
	"testing"
)

func TestParseHosts(t *testing.T) {
	h, err := ParseHosts("hosts.yaml", []byte("hosts:\n  one: {endpoint: unix:///var/run/docker.sock}\n  two:\n    endpoint: tcp://10.0.0.2:2375\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(h.Names(), ","); got != "one,two" || h.Hosts[1].Endpoint != "tcp://10.0.0.2:2375" || h.Hosts[1].Line != 3 {
		t.Errorf("hosts = %+v", h.Hosts)
	}
}

func TestParseHostsErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"no hosts", "name: x\n", []string{`hosts.yaml:1:1: "name" is not known`, "no hosts: add hosts:"}},
		{"bad endpoint", "hosts:\n  one: {endpoint: http://x}\n", []string{`hosts.yaml:2:19: hosts.one.endpoint: "http://x" is not a Docker endpoint`}},
		{"tcp without port", "hosts:\n  one: {endpoint: tcp://x}\n", []string{"hosts.one.endpoint"}},
		{"ssh", "hosts:\n  one: {endpoint: ssh://me@x}\n", []string{"ssh is not supported"}},
		{"no endpoint", "hosts:\n  one: {}\n", []string{"hosts.yaml:2:3: hosts.one: no endpoint"}},
		{"bad name", "hosts:\n  One_1: {endpoint: unix:///s}\n", []string{`hosts.yaml:2:3: hosts.One_1: host name "One_1" is not valid`}},
		{"twice", "hosts:\n  a: {endpoint: unix:///s}\n  a: {endpoint: unix:///t}\n", []string{`host "a" is named twice`}},
		{"unknown field", "hosts:\n  a: {endpoint: unix:///s, tls: true}\n", []string{`hosts.a: "tls" is not known`}},
		{"not a mapping", "- a\n", []string{"want a mapping"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHosts("hosts.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\n does not say %q", err, w)
				}
			}
		})
	}
}
