package swarm

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Hosts is a hosts file: the Docker engines of a swarm's nodes, by name, in
// the order the file gives them. In YAML:
//
//	hosts:
//	  one: {endpoint: unix:///var/run/docker.sock}
//	  two: {endpoint: tcp://10.0.0.2:2375}
//
// A scenario node's host: field names one of them.
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
	// Endpoint is the engine's address: unix:///path or tcp://host:port.
	Endpoint string
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
				default:
					at(f, "hosts.%s: %q is not known (a host has endpoint: only)", x.Name, f.Value)
				}
			}
			if x.Endpoint == "" {
				at(k, "hosts.%s: no endpoint (add endpoint: unix:///var/run/docker.sock or tcp://HOST:PORT)", x.Name)
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
	case u.Scheme == "ssh":
		return fmt.Errorf("%q: ssh is not supported: forward the engine's socket and give unix:// or tcp://", e)
	default:
		return fmt.Errorf("%q is not a Docker endpoint (unix:///var/run/docker.sock or tcp://HOST:PORT)", strings.TrimSpace(e))
	}
	return nil
}
