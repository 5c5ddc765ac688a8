// Package testcert makes the certificates of an engine reached with TLS,
// for tests: a CA, a server certificate for the engine's addresses and a
// client certificate, written as dockerd --tlsverify and Docker's
// DOCKER_CERT_PATH name them.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Files are the paths Write made.
type Files struct {
	// CA is the CA's certificate (ca.pem): both sides trust it.
	CA string
	// ServerCert and ServerKey are the engine's (server-cert.pem,
	// server-key.pem): dockerd --tlscert, --tlskey.
	ServerCert, ServerKey string
	// Cert and Key are the client's (cert.pem, key.pem), in the directory
	// with ca.pem: that directory is a DOCKER_CERT_PATH.
	Cert, Key string
}

// Write makes a CA, a server certificate valid for hosts (IP addresses or
// DNS names) and a client certificate, all signed by the CA, and writes
// them into dir.
func Write(dir string, hosts ...string) (Files, error) {
	f := Files{
		CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem"),
		ServerCert: filepath.Join(dir, "server-cert.pem"), ServerKey: filepath.Join(dir, "server-key.pem"),
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, fmt.Errorf("testcert: %w", err)
	}
	ca := template(1, "socketlab test CA")
	ca.IsCA, ca.BasicConstraintsValid = true, true
	ca.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return f, fmt.Errorf("testcert: CA: %w", err)
	}
	if err := writePEM(f.CA, "CERTIFICATE", caDER); err != nil {
		return f, err
	}
	srv := template(2, "socketlab test engine")
	srv.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			srv.IPAddresses = append(srv.IPAddresses, ip)
		} else {
			srv.DNSNames = append(srv.DNSNames, h)
		}
	}
	cli := template(3, "socketlab test client")
	cli.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	for _, c := range []struct {
		tmpl      *x509.Certificate
		cert, key string
	}{{srv, f.ServerCert, f.ServerKey}, {cli, f.Cert, f.Key}} {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return f, fmt.Errorf("testcert: %w", err)
		}
		der, err := x509.CreateCertificate(rand.Reader, c.tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return f, fmt.Errorf("testcert: %s: %w", c.tmpl.Subject.CommonName, err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return f, fmt.Errorf("testcert: %w", err)
		}
		if err := writePEM(c.cert, "CERTIFICATE", der); err != nil {
			return f, err
		}
		if err := writePEM(c.key, "EC PRIVATE KEY", keyDER); err != nil {
			return f, err
		}
	}
	return f, nil
}

func template(serial int64, name string) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
}

func writePEM(path, typ string, der []byte) error {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("testcert: %w", err)
	}
	return nil
}
