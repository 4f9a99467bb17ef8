package certs

import (
	"crypto/x509"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestNewCA(t *testing.T) {
	ca, err := NewCA(CAConfig{CommonName: "test-ca", Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c := ca.Certificate()
	if !c.IsCA || c.Subject.CommonName != "test-ca" || c.KeyUsage&x509.KeyUsageCertSign == 0 || !c.MaxPathLenZero {
		t.Fatalf("CA certificate %+v", c)
	}
	if c.NotAfter.Sub(c.NotBefore) != time.Hour+backdate {
		t.Fatalf("validity %v", c.NotAfter.Sub(c.NotBefore))
	}
	if c.PublicKeyAlgorithm != x509.ECDSA {
		t.Fatalf("key %v", c.PublicKeyAlgorithm)
	}
	if h := ca.Hash(); len(h) != 64 || h != CertHash(c) || h != HashDER(c.Raw) {
		t.Fatalf("hash %q", h)
	}
	if _, err := hex.DecodeString(ca.Hash()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool()}); err != nil {
		t.Fatalf("self-signed CA does not verify: %v", err)
	}
	other, _ := NewCA(CAConfig{})
	if other.Hash() == ca.Hash() || other.Certificate().SerialNumber.Cmp(c.SerialNumber) == 0 {
		t.Fatal("two CAs share a hash or serial")
	}
	for _, bad := range []CAConfig{{Validity: -1}, {CommonName: string(make([]byte, 65))}} {
		if _, err := NewCA(bad); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewCA(%+v) = %v", bad, err)
		}
	}
}

func TestLoadOrCreateCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	ca, err := LoadOrCreateCA(dir, CAConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{CAKeyFile: 0o600, CACertFile: 0o644, ".": 0o700} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", name, st.Mode().Perm(), err, want)
		}
	}
	again, err := LoadOrCreateCA(dir, CAConfig{})
	if err != nil || again.Hash() != ca.Hash() {
		t.Fatalf("reload: %v, same hash %v", err, err == nil && again.Hash() == ca.Hash())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("CA directory holds %d files, want 2 (no temporary left behind)", len(entries))
	}

	// A key readable by others is refused.
	if err := os.Chmod(filepath.Join(dir, CAKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCA(dir, CAConfig{}); !errors.Is(err, ErrKeyPermissions) {
		t.Fatalf("open key: %v", err)
	}
	// Half a CA is refused, not replaced.
	os.Remove(filepath.Join(dir, CAKeyFile))
	if _, err := LoadOrCreateCA(dir, CAConfig{}); !errors.Is(err, ErrCAIncomplete) {
		t.Fatalf("certificate without key: %v", err)
	}
	// A key that is not the certificate's.
	other, _ := NewCA(CAConfig{})
	keyPEM, _ := EncodeKeyPEM(other.key)
	if err := os.WriteFile(filepath.Join(dir, CAKeyFile), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCA(dir); !errors.Is(err, ErrBadCA) {
		t.Fatalf("mismatched key: %v", err)
	}
	// A leaf certificate is not a CA.
	a, _ := newAuthority(t)
	nc, err := a.SignNodeCSR(t.Context(), mustCSR(t, "edge-1", other.key), mustToken(t, a, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseCA(EncodeCertPEM(nc.Certificate.Raw), keyPEM); !errors.Is(err, ErrBadCA) {
		t.Fatalf("leaf as CA: %v", err)
	}
	if _, err := LoadCA(t.TempDir()); err == nil {
		t.Fatal("LoadCA of an empty directory succeeded")
	}
}

func TestKeyPEM(t *testing.T) {
	k := mustKey(t)
	b, err := EncodeKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseKeyPEM(b)
	if err != nil || !samePublicKey(back.Public(), k.Public()) {
		t.Fatalf("key round trip: %v", err)
	}
	for _, bad := range [][]byte{nil, []byte("junk"), EncodeCertPEM([]byte{1, 2})} {
		if _, err := ParseKeyPEM(bad); !errors.Is(err, ErrBadKey) {
			t.Errorf("ParseKeyPEM(%q) = %v", bad, err)
		}
	}
	if _, err := ParseCertsPEM([]byte("nothing")); !errors.Is(err, ErrBadCertificate) {
		t.Fatal(err)
	}
}
