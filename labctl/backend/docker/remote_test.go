package docker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"socketlab/internal/testcert"
	"socketlab/labctl/backend"
)

// TestNewAtTLS: against an engine that wants a client certificate signed
// by its CA (as dockerd --tlsverify), labctl with the hosts file's files
// connects and presents its certificate; without TLS, or with another
// CA's files, it does not connect, and says what to check.
func TestNewAtTLS(t *testing.T) {
	good, err := testcert.Write(t.TempDir(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	other, err := testcert.Write(t.TempDir(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(good.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	var clients []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, c := range r.TLS.PeerCertificates {
			clients = append(clients, c.Subject.CommonName)
		}
		w.Header().Set("Api-Version", "1.41")
		w.Write([]byte("OK"))
	}))
	cert, err := tls.LoadX509KeyPair(good.ServerCert, good.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	endpoint := "tcp://" + u.Host
	ctx := context.Background()

	b, err := NewAt(ctx, endpoint, &TLS{CA: good.CA, Cert: good.Cert, Key: good.Key})
	if err != nil {
		t.Fatalf("with the engine's CA and a client certificate: %v", err)
	}
	b.Close()
	if !slices.Contains(clients, "socketlab test client") {
		t.Errorf("the engine saw client certificates %q, want socketlab test client", clients)
	}
	if b.Endpoint() != endpoint {
		t.Errorf("Endpoint() = %q, want %q", b.Endpoint(), endpoint)
	}
	for _, c := range []struct {
		name string
		tls  *TLS
		want string
	}{
		{"plain TCP", nil, "is the Docker daemon running there"},
		{"another CA", &TLS{CA: other.CA, Cert: other.Cert, Key: other.Key}, "do its certificate and the CA match?"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := NewAt(ctx, endpoint, c.tls)
			if err == nil {
				b.Close()
				t.Fatal("connected")
			}
			if !errors.Is(err, backend.ErrUnreachable) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), endpoint) {
				t.Errorf("error %q: want ErrUnreachable at %s saying %q", err, endpoint, c.want)
			}
		})
	}
}

// TestSSHArgs: ssh is run as the docker CLI runs it, so that an ssh set up
// for docker -H ssh:// works for labctl too.
func TestSSHArgs(t *testing.T) {
	for _, c := range []struct{ endpoint, want string }{
		{"ssh://me@10.0.0.4", "-o ConnectTimeout=30 -T -l me -- 10.0.0.4 docker system dial-stdio"},
		{"ssh://docker.lan:2222", "-o ConnectTimeout=30 -T -p 2222 -- docker.lan docker system dial-stdio"},
	} {
		u, _ := url.Parse(c.endpoint)
		if got := strings.Join(sshArgs(u), " "); got != c.want {
			t.Errorf("%s: ssh %s, want ssh %s", c.endpoint, got, c.want)
		}
	}
}

// TestEnvWarning: DOCKER_HOST on plain TCP beyond loopback is warned
// about; with TLS, on loopback, on a socket or ssh it is not.
func TestEnvWarning(t *testing.T) {
	for _, c := range []struct {
		host, verify string
		warn         bool
	}{
		{"tcp://10.0.0.2:2375", "", true},
		{"tcp://docker.lan:2375", "", true},
		{"tcp://10.0.0.2:2376", "1", false},
		{"tcp://127.0.0.1:2375", "", false},
		{"tcp://localhost:2375", "", false},
		{"unix:///var/run/docker.sock", "", false},
		{"ssh://me@10.0.0.2", "", false},
		{"", "", false},
	} {
		t.Setenv("DOCKER_HOST", c.host)
		t.Setenv("DOCKER_TLS_VERIFY", c.verify)
		w := EnvWarning()
		if (w != "") != c.warn || c.warn && !strings.Contains(w, "no authentication") {
			t.Errorf("DOCKER_HOST=%s DOCKER_TLS_VERIFY=%q: warning %q", c.host, c.verify, w)
		}
	}
}
