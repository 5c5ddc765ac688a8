package swarm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseHosts(t *testing.T) {
	h, err := ParseHosts("hosts.yaml", []byte("hosts:\n  one: {endpoint: unix:///var/run/docker.sock}\n  two:\n    endpoint: ssh://me@10.0.0.2:2222\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(h.Names(), ","); got != "one,two" || h.Hosts[1].Endpoint != "ssh://me@10.0.0.2:2222" || h.Hosts[1].Line != 3 {
		t.Errorf("hosts = %+v", h.Hosts)
	}
	if w := h.Warnings(); len(w) != 0 {
		t.Errorf("warnings %q for authenticated hosts", w)
	}
}

// certDir makes a directory with ca.pem, cert.pem and key.pem (their
// content does not matter to the parser) and a hosts file path beside it.
func certDir(t *testing.T) (hostsFile string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "certs"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ca.pem", "cert.pem", "key.pem"} {
		if err := os.WriteFile(filepath.Join(dir, "certs", f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "hosts.yaml")
}

// TestParseHostsTLS: tls: as three files or as a DOCKER_CERT_PATH
// directory, relative to the hosts file.
func TestParseHostsTLS(t *testing.T) {
	file := certDir(t)
	dir := filepath.Dir(file)
	for _, tt := range []struct{ name, yaml string }{
		{"files", "hosts:\n  two:\n    endpoint: tcp://10.0.0.2:2376\n    tls: {ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem}\n"},
		{"directory", "hosts:\n  two: {endpoint: tcp://10.0.0.2:2376, tls: certs}\n"},
		{"absolute", "hosts:\n  two: {endpoint: tcp://10.0.0.2:2376, tls: " + filepath.Join(dir, "certs") + "}\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHosts(file, []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			got := h.Hosts[0].TLS
			if got == nil || got.CA != filepath.Join(dir, "certs", "ca.pem") || got.Cert != filepath.Join(dir, "certs", "cert.pem") || got.Key != filepath.Join(dir, "certs", "key.pem") {
				t.Errorf("tls = %+v, want the files under %s/certs", got, dir)
			}
		})
	}
}

// TestInsecureHostWarns: plain TCP beyond loopback is allowed only with
// insecure: true, and then warned about; on loopback it needs nothing.
func TestInsecureHostWarns(t *testing.T) {
	h, err := ParseHosts("hosts.yaml", []byte("hosts:\n  one: {endpoint: tcp://127.0.0.1:2375}\n  two: {endpoint: tcp://10.0.0.2:2375, insecure: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	w := h.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "hosts.yaml:3:3: host two (tcp://10.0.0.2:2375) is reached on plain TCP with no authentication") || !strings.Contains(w[0], "give it tls:") {
		t.Errorf("warnings = %q, want one about host two", w)
	}
}

func TestParseHostsErrors(t *testing.T) {
	file := certDir(t)
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"no hosts", "name: x\n", []string{`hosts.yaml:1:1: "name" is not known`, "no hosts: add hosts:"}},
		{"bad endpoint", "hosts:\n  one: {endpoint: http://x}\n", []string{`hosts.yaml:2:19: hosts.one.endpoint: "http://x" is not a Docker endpoint`}},
		{"tcp without port", "hosts:\n  one: {endpoint: tcp://x}\n", []string{"hosts.one.endpoint"}},
		{"plain tcp", "hosts:\n  two: {endpoint: tcp://10.0.0.2:2375}\n", []string{
			"hosts.yaml:2:3: hosts.two: tcp://10.0.0.2:2375 is a Docker API on plain TCP, which has no authentication",
			"give tls: {ca: ca.pem, cert: cert.pem, key: key.pem}", "ssh://USER@10.0.0.2", "add insecure: true"}},
		{"plain tcp by name", "hosts:\n  two: {endpoint: tcp://docker.lan:2375}\n", []string{"no authentication"}},
		{"ssh with a password", "hosts:\n  one: {endpoint: 'ssh://me:pw@x'}\n", []string{"a password does not go in the address"}},
		{"ssh without host", "hosts:\n  one: {endpoint: 'ssh://'}\n", []string{"is not a Docker endpoint"}},
		{"tls on unix", "hosts:\n  one: {endpoint: unix:///s, tls: certs}\n", []string{"hosts.one: tls: goes with a tcp:// endpoint only (unix is authenticated by the socket's permissions)"}},
		{"tls and insecure", "hosts:\n  one: {endpoint: tcp://10.0.0.2:2376, tls: certs, insecure: true}\n", []string{"insecure: true and tls: both"}},
		{"insecure on ssh", "hosts:\n  one: {endpoint: ssh://me@x, insecure: true}\n", []string{"insecure: true goes with a tcp:// endpoint only"}},
		{"insecure not a bool", "hosts:\n  one: {endpoint: tcp://10.0.0.2:2375, insecure: maybe}\n", []string{"hosts.one.insecure: want true or false"}},
		{"tls file missing", "hosts:\n  one:\n    endpoint: tcp://10.0.0.2:2376\n    tls: {ca: certs/ca.pem, cert: certs/nope.pem, key: certs/key.pem}\n",
			[]string{"hosts.yaml:4:35: hosts.one.tls.cert: certs/nope.pem: no such file or directory"}},
		{"tls key left out", "hosts:\n  one:\n    endpoint: tcp://10.0.0.2:2376\n    tls: {ca: certs/ca.pem, cert: certs/cert.pem}\n", []string{"hosts.one.tls: no key:"}},
		{"tls directory empty", "hosts:\n  one: {endpoint: tcp://10.0.0.2:2376, tls: .}\n", []string{"hosts.one.tls: .: no ca.pem there (a directory as DOCKER_CERT_PATH holds"}},
		{"tls unknown key", "hosts:\n  one: {endpoint: tcp://10.0.0.2:2376, tls: {ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem, verify: no}}\n", []string{`hosts.one.tls: "verify" is not known`}},
		{"no endpoint", "hosts:\n  one: {}\n", []string{"hosts.yaml:2:3: hosts.one: no endpoint"}},
		{"bad name", "hosts:\n  One_1: {endpoint: unix:///s}\n", []string{`hosts.yaml:2:3: hosts.One_1: host name "One_1" is not valid`}},
		{"twice", "hosts:\n  a: {endpoint: unix:///s}\n  a: {endpoint: unix:///t}\n", []string{`host "a" is named twice`}},
		{"unknown field", "hosts:\n  a: {endpoint: unix:///s, verify: true}\n", []string{`hosts.a: "verify" is not known`}},
		{"not a mapping", "- a\n", []string{"want a mapping"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHosts(file, []byte(tt.yaml))
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
