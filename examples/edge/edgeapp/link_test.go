package edgeapp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/certs"
)

// writeIdentity writes what a join of node leaves in dir, signed by a fresh CA.
func writeIdentity(t *testing.T, dir string, node hub.NodeName) {
	t.Helper()
	ca, err := certs.NewCA(certs.CAConfig{})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := certs.NewAuthority(certs.AuthorityConfig{CA: ca})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.IssueToken(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	key, err := certs.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := certs.NewNodeCSR(node, key)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := auth.SignNodeCSR(t.Context(), csr, tok.String())
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := certs.EncodeKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	c := &credentials{dir: dir, node: node}
	if err := c.save(nc.ChainPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(filepath.Join(dir, fileCA), ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	c, err := newCredentials(config{DataDir: dir, NodeName: "edge-1"})
	if err != nil || c.joined() {
		t.Fatalf("empty data dir: joined=%v, err=%v", c != nil && c.joined(), err)
	}
	writeIdentity(t, dir, "edge-1")
	if fi, err := os.Stat(filepath.Join(dir, fileNodeKey)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("node key: %v, %v", fi, err)
	}
	c, err = newCredentials(config{DataDir: dir, NodeName: "edge-1"})
	if err != nil || !c.joined() {
		t.Fatalf("joined data dir: joined=%v, err=%v", c != nil && c.joined(), err)
	}
	if _, err := newCredentials(config{DataDir: dir, NodeName: "edge-2"}); err == nil || !strings.Contains(err.Error(), "edge-1") {
		t.Fatalf("another node's data dir: err = %v", err)
	}
	if err := os.Remove(filepath.Join(dir, fileCA)); err != nil {
		t.Fatal(err)
	}
	if _, err := newCredentials(config{DataDir: dir, NodeName: "edge-1"}); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Fatalf("partial identity: err = %v", err)
	}
}
