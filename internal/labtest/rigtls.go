package labtest

import (
	"fmt"
	"os"
	"path/filepath"

	"socketlab/internal/testcert"
	"socketlab/labctl/backend/swarm"
)

// rigTLS is how the rig's second engine is reached: over TCP with TLS, as
// a remote engine must be (a plain tcp:// endpoint is refused), from a
// hosts file that names the certificates as Docker's DOCKER_CERT_PATH
// lays them out.
type rigTLS struct {
	// Args are dockerd's flags: listen on port 2376 of every address of
	// its namespace, --tlsverify with the test's CA and server certificate.
	Args []string
	// Endpoint is tcp://ADDR:2376.
	Endpoint string
	dir      string
}

// newRigTLS makes the certificates (a CA, the engine's for addr, the
// client's) in dir.
func newRigTLS(dir, addr string) (*rigTLS, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("rig TLS: %w", err)
	}
	f, err := testcert.Write(dir, addr)
	if err != nil {
		return nil, fmt.Errorf("rig TLS: %w", err)
	}
	return &rigTLS{
		Args:     []string{"--tlsverify", "--tlscacert", f.CA, "--tlscert", f.ServerCert, "--tlskey", f.ServerKey, "-H", "tcp://0.0.0.0:2376"},
		Endpoint: "tcp://" + addr + ":2376",
		dir:      dir,
	}, nil
}

// hosts writes the rig's hosts file beside the certificates (engine one
// at endpoint one, engine two over TLS) and reads it as labctl does.
func (r *rigTLS) hosts(one string) (*swarm.Hosts, error) {
	file := filepath.Join(r.dir, "hosts.yaml")
	yaml := fmt.Sprintf("hosts:\n  one: {endpoint: %q}\n  two: {endpoint: %q, tls: .}\n", one, r.Endpoint)
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		return nil, fmt.Errorf("rig hosts file: %w", err)
	}
	return swarm.LoadHosts(file)
}
