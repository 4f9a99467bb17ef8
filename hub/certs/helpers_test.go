package certs

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/edgehive/edgehive/hub"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newAuthority returns an Authority with a fresh CA and a settable clock.
func newAuthority(t testing.TB) (*Authority, *clock) {
	t.Helper()
	ca, err := NewCA(CAConfig{})
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	a, err := NewAuthority(AuthorityConfig{CA: ca, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return a, clk
}

func mustKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// csrWith builds a PEM certificate request with any subject, for the refusal tests.
func csrWith(t testing.TB, subject pkix.Name, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func mustCSR(t testing.TB, node string, key crypto.Signer) []byte {
	t.Helper()
	b, err := NewNodeCSR(hub.NodeName(node), key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustToken(t testing.TB, a *Authority, ttl time.Duration) string {
	t.Helper()
	tok, err := a.IssueToken(t.Context(), ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok.String()
}

// startJoinServer serves a's join endpoint over TLS on 127.0.0.1.
func startJoinServer(t testing.TB, a *Authority, cfg JoinConfig) *httptest.Server {
	t.Helper()
	srv, err := a.IssueServerCert(ServerCertConfig{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := a.JoinHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(h)
	ts.TLS = JoinTLSConfig(srv)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts
}
