package swarm

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"socketlab/labctl/backend/docker"
)

// Hosts is a hosts file: the Docker engines of a swarm's nodes, by name, in
// the order the file gives them. In YAML:
//
//	hosts:
//	  one: {endpoint: unix:///var/run/docker.sock}
//	  two:
//	    endpoint: tcp://10.0.0.2:2376
//	    tls: {ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem}
//	  three: {endpoint: tcp://10.0.0.3:2376, tls: certs/three}  # ca.pem, cert.pem, key.pem there
//	  four: {endpoint: ssh://me@10.0.0.4}
//
// A scenario node's host: field names one of them. An engine on plain TCP
// has no authentication (whoever reaches its port is root on its host), so
// a tcp:// endpoint other than loopback needs tls:, or insecure: true to
// say that the network it is on is trusted (then Warnings says so).
type Hosts struct {
	// File is where the hosts were read from.
	File string
	// Hosts are in file order.
	Hosts []Host
}

// Host is one Docker engine of the swarm.
type Host struct {
	// Name is the host's name in the file (a DNS label).
	Name string
	// Endpoint is the engine's address: unix:///path, tcp://host:port or
	// ssh://[user@]host[:port].
	Endpoint string
	// TLS authenticates a tcp:// endpoint (absolute paths); nil for none.
	TLS *docker.TLS
	// Insecure: a tcp:// endpoint with no TLS, allowed by the file.
	Insecure bool
	// Line and Column locate the host in the file.
	Line, Column int
}

// Names are the hosts' names, in file order.
func (h *Hosts) Names() []string {
	names := make([]string, len(h.Hosts))
	for i, x := range h.Hosts {
		names[i] = x.Name
	}
	return names
}

var hostNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// LoadHosts reads a hosts file. Every problem is reported at once, each as
// file:line:col: what is wrong (how to fix it).
func LoadHosts(path string) (*Hosts, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("hosts file: %w", err)
	}
	return ParseHosts(path, data)
}

// ParseHosts reads a hosts file's content; file names it in errors.
func ParseHosts(file string, data []byte) (*Hosts, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w (see labctl up --help for the hosts file)", file, err)
	}
	var errs []error
	at := func(n *yaml.Node, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d:%d: %s", file, n.Line, n.Column, fmt.Sprintf(format, args...)))
	}
	h := &Hosts{File: file}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: want a mapping: hosts: {NAME: {endpoint: unix:///var/run/docker.sock}, ...}", file)
	}
	top := doc.Content[0]
	var hosts *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		switch k := top.Content[i]; k.Value {
		case "hosts":
			hosts = top.Content[i+1]
		default:
			at(k, "%q is not known (the file holds hosts: only)", k.Value)
		}
	}
	switch {
	case hosts == nil:
		errs = append(errs, fmt.Errorf("%s: no hosts: add hosts: {NAME: {endpoint: ENDPOINT}}", file))
	case hosts.Kind != yaml.MappingNode:
		at(hosts, "hosts: want a mapping from a host's name to its endpoint")
	default:
		seen := map[string]bool{}
		for i := 0; i+1 < len(hosts.Content); i += 2 {
			k, v := hosts.Content[i], hosts.Content[i+1]
			x := Host{Name: k.Value, Line: k.Line, Column: k.Column}
			switch {
			case seen[x.Name]:
				at(k, "hosts.%s: host %q is named twice", x.Name, x.Name)
			case !hostNameRE.MatchString(x.Name):
				at(k, "hosts.%s: host name %q is not valid (lowercase letters, digits and dashes)", x.Name, x.Name)
			}
			seen[x.Name] = true
			if v.Kind != yaml.MappingNode {
				at(v, "hosts.%s: want {endpoint: unix:///var/run/docker.sock} or {endpoint: tcp://HOST:PORT}", x.Name)
				continue
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				switch f := v.Content[j]; f.Value {
				case "endpoint":
					x.Endpoint = v.Content[j+1].Value
					if err := checkEndpoint(x.Endpoint); err != nil {
						at(v.Content[j+1], "hosts.%s.endpoint: %v", x.Name, err)
					}
				case "tls":
					x.TLS = tlsFiles(filepath.Dir(file), v.Content[j+1], func(n *yaml.Node, format string, args ...any) {
						at(n, "hosts.%s.tls%s", x.Name, fmt.Sprintf(format, args...))
					})
				case "insecure":
					if err := v.Content[j+1].Decode(&x.Insecure); err != nil {
						at(v.Content[j+1], "hosts.%s.insecure: want true or false", x.Name)
					}
				default:
					at(f, "hosts.%s: %q is not known (a host has endpoint:, tls: and insecure:)", x.Name, f.Value)
				}
			}
			if x.Endpoint == "" {
				at(k, "hosts.%s: no endpoint (add endpoint: unix:///var/run/docker.sock, tcp://HOST:2376 with tls:, or ssh://USER@HOST)", x.Name)
			} else if err := x.checkAuth(); err != nil {
				at(k, "hosts.%s: %v", x.Name, err)
			}
			h.Hosts = append(h.Hosts, x)
		}
		if len(hosts.Content) == 0 {
			at(hosts, "hosts: no host is named")
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return h, nil
}

// checkEndpoint tells whether e is an endpoint the Docker client dials.
func checkEndpoint(e string) error {
	u, err := url.Parse(e)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not an address: %v", e, err)
	case u.Scheme == "unix" && u.Path != "":
	case u.Scheme == "tcp" && u.Host != "" && u.Port() != "":
	case u.Scheme == "ssh" && u.Hostname() != "" && (u.Path == "" || u.Path == "/") && u.RawQuery == "":
		if _, set := u.User.Password(); set {
			return fmt.Errorf("%q: a password does not go in the address: ssh asks for it, or use a key (ssh-copy-id)", e)
		}
	default:
		return fmt.Errorf("%q is not a Docker endpoint (unix:///var/run/docker.sock, tcp://HOST:PORT or ssh://USER@HOST)", strings.TrimSpace(e))
	}
	return nil
}

// checkAuth tells whether the host's endpoint is reached with
// authentication, or the file says it need not be: TLS goes with tcp://
// only (ssh authenticates itself, a unix socket by its permissions), and a
// tcp:// endpoint beyond loopback needs TLS or insecure: true.
func (x Host) checkAuth() error {
	u, err := url.Parse(x.Endpoint)
	if err != nil {
		return nil // checkEndpoint said so
	}
	switch {
	case u.Scheme != "tcp" && x.TLS != nil:
		return fmt.Errorf("tls: goes with a tcp:// endpoint only (%s is authenticated by %s)", u.Scheme, map[string]string{"ssh": "ssh", "unix": "the socket's permissions"}[u.Scheme])
	case u.Scheme != "tcp" && x.Insecure:
		return fmt.Errorf("insecure: true goes with a tcp:// endpoint only")
	case x.TLS != nil && x.Insecure:
		return fmt.Errorf("insecure: true and tls: both: drop insecure:, TLS authenticates the engine")
	case u.Scheme == "tcp" && x.TLS == nil && !x.Insecure && !docker.LoopbackHost(u.Hostname()):
		return fmt.Errorf("%s is a Docker API on plain TCP, which has no authentication: whoever reaches that port is root on that host, so labctl does not use it. "+
			"Start dockerd with --tlsverify and give tls: {ca: ca.pem, cert: cert.pem, key: key.pem} (docs/multihost.md), "+
			"or use ssh://USER@%s; on a network only you can reach, add insecure: true", x.Endpoint, u.Hostname())
	}
	return nil
}

// Warnings are what a command says on every run about the file: each
// host reached with no authentication.
func (h *Hosts) Warnings() []string {
	var ws []string
	for _, x := range h.Hosts {
		if u, err := url.Parse(x.Endpoint); err == nil && x.Insecure && !docker.LoopbackHost(u.Hostname()) {
			ws = append(ws, fmt.Sprintf("%s:%d:%d: host %s (%s) is reached on plain TCP with no authentication (insecure: true): whoever reaches %s is root on that host; give it tls: (see docs/multihost.md)",
				h.File, x.Line, x.Column, x.Name, x.Endpoint, u.Host))
		}
	}
	return ws
}

// tlsFiles reads a host's tls: a mapping {ca, cert, key} of file paths, or
// one directory path holding ca.pem, cert.pem and key.pem (Docker's
// DOCKER_CERT_PATH layout); relative paths are from dir, the hosts file's
// directory. Each file must exist; at reports what is wrong, its format
// continuing "hosts.NAME.tls".
func tlsFiles(dir string, n *yaml.Node, at func(n *yaml.Node, format string, args ...any)) *docker.TLS {
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	t := &docker.TLS{}
	fields := map[string]*string{"ca": &t.CA, "cert": &t.Cert, "key": &t.Key}
	switch n.Kind {
	case yaml.ScalarNode:
		d := abs(n.Value)
		t.CA, t.Cert, t.Key = filepath.Join(d, "ca.pem"), filepath.Join(d, "cert.pem"), filepath.Join(d, "key.pem")
		for _, k := range []string{"ca", "cert", "key"} {
			if _, err := os.Stat(*fields[k]); err != nil {
				at(n, ": %s: no %s.pem there (a directory as DOCKER_CERT_PATH holds ca.pem, cert.pem and key.pem)", n.Value, k)
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			if !ok {
				at(k, ": %q is not known (tls: has ca:, cert: and key:)", k.Value)
				continue
			}
			*f = abs(v.Value)
			if _, err := os.Stat(*f); err != nil {
				at(v, ".%s: %s: %v", k.Value, v.Value, errors.Unwrap(err))
			}
		}
		for _, k := range []string{"ca", "cert", "key"} {
			if *fields[k] == "" {
				at(n, ": no %s: (tls: {ca: ca.pem, cert: cert.pem, key: key.pem})", k)
			}
		}
	default:
		at(n, ": want {ca: FILE, cert: FILE, key: FILE} or a directory holding ca.pem, cert.pem and key.pem")
	}
	return t
}
