package certs

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/edgehive/edgehive/hub"
)

func TestSignNodeCSR(t *testing.T) {
	ctx := t.Context()
	a, clk := newAuthority(t)
	tok := mustToken(t, a, 0)
	key := mustKey(t)
	nc, err := a.SignNodeCSR(ctx, mustCSR(t, "edge-1", key), tok)
	if err != nil {
		t.Fatal(err)
	}
	c := nc.Certificate
	switch {
	case nc.Node != "edge-1":
		t.Errorf("node %q", nc.Node)
	case c.Subject.CommonName != "system:node:edge-1":
		t.Errorf("CN %q", c.Subject.CommonName)
	case len(c.Subject.Organization) != 1 || c.Subject.Organization[0] != "system:nodes":
		t.Errorf("O %q", c.Subject.Organization)
	case len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth:
		t.Errorf("ExtKeyUsage %v", c.ExtKeyUsage)
	case c.IsCA || !c.BasicConstraintsValid:
		t.Errorf("a node certificate is a CA")
	case !c.NotAfter.Equal(clk.Now().Add(DefaultNodeCertValidity).Truncate(time.Second)):
		t.Errorf("NotAfter %v", c.NotAfter)
	case c.SerialNumber.BitLen() < 120:
		t.Errorf("serial %x is short", c.SerialNumber)
	case !samePublicKey(c.PublicKey, key.Public()):
		t.Errorf("certificate is not for the requested key")
	case len(c.DNSNames)+len(c.IPAddresses)+len(c.EmailAddresses)+len(c.URIs) != 0:
		t.Errorf("node certificate has SANs")
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: a.CA().Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: clk.Now()}); err != nil {
		t.Fatalf("verify: %v", err)
	}
	chain, err := ParseCertsPEM(nc.ChainPEM)
	if err != nil || len(chain) != 2 || chain[1].Equal(a.CA().Certificate()) == false {
		t.Fatalf("chain: %v, %d certificates", err, len(chain))
	}
	// DER works too, and serials differ.
	blk, _ := pem.Decode(mustCSR(t, "edge-2", key))
	nc2, err := a.SignNodeCSR(ctx, blk.Bytes, tok)
	if err != nil || nc2.Certificate.SerialNumber.Cmp(c.SerialNumber) == 0 {
		t.Fatalf("DER request: %v", err)
	}
	// The validity is cut to the CA's.
	short, _ := NewCA(CAConfig{Validity: time.Hour})
	sa, _ := NewAuthority(AuthorityConfig{CA: short})
	snc, err := sa.SignNodeCSR(ctx, mustCSR(t, "edge-1", key), mustToken(t, sa, 0))
	if err != nil || snc.Certificate.NotAfter.After(short.Certificate().NotAfter) {
		t.Fatalf("node certificate outlives its CA: %v", err)
	}
}

func TestSignNodeCSRRefusals(t *testing.T) {
	ctx := t.Context()
	a, _ := newAuthority(t)
	tok := mustToken(t, a, 0)
	key := mustKey(t)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	good := mustCSR(t, "edge-1", key)
	blk, _ := pem.Decode(good)
	tampered := append([]byte{}, blk.Bytes...)
	tampered[len(tampered)-3] ^= 0xff // inside the signature
	cases := []struct {
		name string
		csr  []byte
		want error
	}{
		{"CN without prefix", csrWith(t, pkix.Name{CommonName: "edge-1"}, key), ErrBadCommonName},
		{"CN with other prefix", csrWith(t, pkix.Name{CommonName: "system:nodes:edge-1"}, key), ErrBadCommonName},
		{"empty CN", csrWith(t, pkix.Name{}, key), ErrBadCommonName},
		{"name not DNS-1123", csrWith(t, pkix.Name{CommonName: "system:node:Edge_1"}, key), ErrBadCommonName},
		{"name too long", csrWith(t, pkix.Name{CommonName: "system:node:" + strings.Repeat("a", 254)}, key), ErrBadCommonName},
		{"other organization", csrWith(t, pkix.Name{CommonName: "system:node:edge-1", Organization: []string{"system:masters"}}, key), ErrBadCommonName},
		{"two organizations", csrWith(t, pkix.Name{CommonName: "system:node:edge-1", Organization: []string{"system:nodes", "system:masters"}}, key), ErrBadCommonName},
		{"P-521 key", csrWith(t, pkix.Name{CommonName: "system:node:edge-1"}, p521), ErrUnsupportedKey},
		{"RSA 1024 key", csrWith(t, pkix.Name{CommonName: "system:node:edge-1"}, rsa1024), ErrUnsupportedKey},
		{"bad signature", tampered, ErrCSRSignature},
		{"garbage", []byte("not a request"), ErrCSRMalformed},
		{"empty", nil, ErrCSRMalformed},
		{"certificate PEM", a.CA().CertPEM(), ErrCSRMalformed},
		{"too big", make([]byte, MaxCSRSize+1), ErrCSRMalformed},
	}
	for _, c := range cases {
		if _, err := a.SignNodeCSR(ctx, c.csr, tok); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// Supported key types.
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := a.SignNodeCSR(ctx, mustCSR(t, "edge-ed", edKey), tok); err != nil {
		t.Errorf("Ed25519: %v", err)
	}
	if _, err := a.SignNodeCSR(ctx, mustCSR(t, "edge-p384", p384), tok); err != nil {
		t.Errorf("P-384: %v", err)
	}
	// The token is checked before the request: a bad token with a bad request says "token".
	if _, err := a.SignNodeCSR(ctx, []byte("junk"), "junk"); !errors.Is(err, ErrTokenMalformed) {
		t.Errorf("bad token and request: %v", err)
	}
	// A revoked node cannot join again.
	if err := a.Denylist().DenyNode(ctx, "edge-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SignNodeCSR(ctx, good, tok); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked node: %v", err)
	}
	if _, err := NewNodeCSR("Bad_Name", key); !errors.Is(err, hub.ErrBadNodeName) {
		t.Errorf("NewNodeCSR with a bad name: %v", err)
	}
	if _, err := NewNodeCSR("edge-1", rsa1024); !errors.Is(err, ErrUnsupportedKey) {
		t.Errorf("NewNodeCSR with a small RSA key: %v", err)
	}
}

func TestRenewNodeCert(t *testing.T) {
	ctx := t.Context()
	a, _ := newAuthority(t)
	newKey := mustKey(t)
	nc, err := a.RenewNodeCert(ctx, "edge-1", mustCSR(t, "edge-1", newKey))
	if err != nil || nc.Node != "edge-1" || !samePublicKey(nc.Certificate.PublicKey, newKey.Public()) {
		t.Fatalf("renew: %v", err)
	}
	if _, err := a.RenewNodeCert(ctx, "edge-1", mustCSR(t, "edge-2", newKey)); !errors.Is(err, ErrBadCommonName) {
		t.Fatalf("renew for another node: %v", err)
	}
	a.Denylist().DenyNode(ctx, "edge-1")
	if _, err := a.RenewNodeCert(ctx, "edge-1", mustCSR(t, "edge-1", newKey)); !errors.Is(err, ErrRevoked) {
		t.Fatalf("renew of a revoked node: %v", err)
	}
}

func TestIssueServerCert(t *testing.T) {
	a, _ := newAuthority(t)
	c, err := a.IssueServerCert(ServerCertConfig{DNSNames: []string{"cloud.example.com"}, IPAddresses: []net.IP{net.IPv4(10, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	leaf := c.Leaf
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || leaf.Subject.CommonName != DefaultServerCommonName {
		t.Fatalf("server certificate %+v", leaf)
	}
	for _, name := range []string{"cloud.example.com", "10.0.0.1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: a.CA().Pool(), DNSName: name}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	for _, bad := range []ServerCertConfig{{}, {DNSNames: []string{""}}, {DNSNames: []string{"x"}, Validity: -1}} {
		if _, err := a.IssueServerCert(bad); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("IssueServerCert(%+v) = %v", bad, err)
		}
	}
	if _, err := NewAuthority(AuthorityConfig{}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("authority without CA: %v", err)
	}
}
