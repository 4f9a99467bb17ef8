package testenv

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// kubePKI is the key material of one test control plane, made fresh for every StartKube so that two
// control planes never trust each other's tokens or certificates.
//
// All keys are ECDSA P-256: generating one takes well under a millisecond, where an RSA-2048 key can take
// 100 ms or more (much more under -race), and every component accepts them — the apiserver signs service
// account tokens with ES256 when its signing key is an EC key.
type kubePKI struct {
	caCert *x509.Certificate
	caKey  crypto.Signer

	caCertPEM      []byte
	caKeyPEM       []byte
	servingCertPEM []byte
	servingKeyPEM  []byte
	saKeyPEM       []byte // service-account token signing key (private)
	saPubPEM       []byte // its public half, the apiserver's --service-account-key-file

	adminToken string // bearer token of the admin user (group system:masters)
	kcmToken   string // bearer token of kube-controller-manager (group system:masters, see kube.go)
}

// kubePKIFiles are the paths of a kubePKI written to disk.
type kubePKIFiles struct {
	Dir         string
	CACert      string
	CAKey       string
	ServingCert string
	ServingKey  string
	SAKey       string
	SAPub       string
	TokenFile   string
}

// certValidity is how long the test certificates are valid. NotBefore is backdated by certBackdate so
// that a clock that is a little off (a VM that just resumed) does not make them "not yet valid".
const (
	certValidity = 24 * time.Hour
	certBackdate = time.Hour
)

// apiServerSANs returns the names the serving certificate is valid for: loopback, which is all the tests
// use, plus the in-cluster names and the first address of the service range (10.96.0.1) so that a client
// configured the in-cluster way would verify it too. (A function, not a package-level slice: no shared
// mutable state.)
func apiServerSANs() ([]string, []net.IP) {
	return []string{
			"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local",
		},
		[]net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, net.IPv4(10, 96, 0, 1)}
}

// newKubePKI generates a CA, an apiserver serving certificate signed by it, a service-account key pair
// and two random bearer tokens.
func newKubePKI() (*kubePKI, error) {
	now := time.Now()
	p := &kubePKI{}

	caKey, caKeyPEM, err := newECKey()
	if err != nil {
		return nil, fmt.Errorf("ca key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          newSerial(),
		Subject:               pkix.Name{CommonName: "edgehive-testenv-ca"},
		NotBefore:             now.Add(-certBackdate),
		NotAfter:              now.Add(certValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	if p.caCert, err = x509.ParseCertificate(caDER); err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	p.caKey, p.caKeyPEM = caKey, caKeyPEM
	p.caCertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})

	srvKey, srvKeyPEM, err := newECKey()
	if err != nil {
		return nil, fmt.Errorf("serving key: %w", err)
	}
	hosts, ips := apiServerSANs()
	srvTmpl := &x509.Certificate{
		SerialNumber: newSerial(),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-certBackdate),
		NotAfter:     now.Add(certValidity),
		// ECDSA keys sign; KeyEncipherment is only meaningful for RSA key exchange.
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    hosts,
		IPAddresses: ips,
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, p.caCert, srvKey.Public(), p.caKey)
	if err != nil {
		return nil, fmt.Errorf("serving certificate: %w", err)
	}
	p.servingKeyPEM = srvKeyPEM
	p.servingCertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER})

	saKey, saKeyPEM, err := newECKey()
	if err != nil {
		return nil, fmt.Errorf("service-account key: %w", err)
	}
	saPub, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return nil, fmt.Errorf("service-account public key: %w", err)
	}
	p.saKeyPEM = saKeyPEM
	p.saPubPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub})

	p.adminToken, p.kcmToken = newToken(), newToken()
	return p, nil
}

// tokenFile is the apiserver's --token-auth-file: CSV lines of token,user,uid[,"group1,group2"].
//
// Both users are in system:masters, which the apiserver authorizes before and regardless of RBAC, so the
// admin can act from the first request on, even before the RBAC bootstrap roles exist.
func (p *kubePKI) tokenFile() []byte {
	return fmt.Appendf(nil, "%s,%s,%s,%s\n%s,%s,%s,%s\n",
		p.adminToken, kubeAdminUser, kubeAdminUser, "system:masters",
		p.kcmToken, kubeKCMUser, kubeKCMUser, "system:masters")
}

// write writes the key material to dir with owner-only permissions and returns the paths.
func (p *kubePKI) write(dir string) (kubePKIFiles, error) {
	f := kubePKIFiles{
		Dir:         dir,
		CACert:      filepath.Join(dir, "ca.crt"),
		CAKey:       filepath.Join(dir, "ca.key"),
		ServingCert: filepath.Join(dir, "apiserver.crt"),
		ServingKey:  filepath.Join(dir, "apiserver.key"),
		SAKey:       filepath.Join(dir, "sa.key"),
		SAPub:       filepath.Join(dir, "sa.pub"),
		TokenFile:   filepath.Join(dir, "tokens.csv"),
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f, err
	}
	for path, data := range map[string][]byte{
		f.CACert:      p.caCertPEM,
		f.CAKey:       p.caKeyPEM,
		f.ServingCert: p.servingCertPEM,
		f.ServingKey:  p.servingKeyPEM,
		f.SAKey:       p.saKeyPEM,
		f.SAPub:       p.saPubPEM,
		f.TokenFile:   p.tokenFile(),
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return f, err
		}
	}
	return f, nil
}

// newECKey returns a P-256 key and its PKCS#8 PEM ("PRIVATE KEY"), a form every component reads.
func newECKey() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// newSerial returns a random 128-bit certificate serial number. Since Go 1.24 crypto/rand.Read never
// returns an error (it crashes the program instead), hence no error results here and in newToken.
func newSerial() *big.Int {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[0] &= 0x7f // keep it positive
	return new(big.Int).SetBytes(b)
}

// newToken returns a random bearer token.
func newToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
