package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"

	"github.com/edgehive/edgehive/hub"
)

// MaxCSRSize bounds a certificate request, PEM or DER, in bytes. A 4096-bit RSA request is about 2.3 KB
// of PEM.
const MaxCSRSize = 16 << 10

// Key types a node may use: those every TLS 1.3 stack offers for client certificates.
const (
	MinRSABits = 2048
	MaxRSABits = 4096 // bounds the cost of verifying a request
)

// GenerateKey returns a new ECDSA P-256 key, the node key edgehive uses.
func GenerateKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// NewNodeCSR returns a PEM certificate request for node, signed by key: CommonName system:node:<node>,
// Organization system:nodes, no extensions.
func NewNodeCSR(node hub.NodeName, key crypto.Signer) ([]byte, error) {
	if err := node.Validate(); err != nil {
		return nil, err
	}
	if err := checkPublicKey(key.Public()); err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: node.CommonName(), Organization: []string{hub.NodesGroup}},
	}, key)
	if err != nil {
		return nil, fmt.Errorf("certs: create certificate request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemCSR, Bytes: der}), nil
}

// ParseNodeCSR parses and checks a node's certificate request, PEM or DER: at most MaxCSRSize bytes
// (ErrCSRMalformed), a valid self-signature (ErrCSRSignature), a key of a supported type
// (ErrUnsupportedKey: ECDSA P-256 or P-384, Ed25519, RSA of 2048 to 4096 bits), the CommonName
// system:node:<DNS-1123 subdomain> (ErrBadCommonName), and an Organization that is empty or exactly
// system:nodes. Other requested attributes and extensions are ignored: a node certificate never copies
// anything from the request but its public key and its validated node name.
func ParseNodeCSR(b []byte) (*x509.CertificateRequest, hub.NodeName, error) {
	if len(b) > MaxCSRSize {
		return nil, "", fmt.Errorf("%w: %d bytes, limit %d", ErrCSRMalformed, len(b), MaxCSRSize)
	}
	der := b
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != pemCSR && blk.Type != "NEW "+pemCSR {
			return nil, "", fmt.Errorf("%w: PEM block %q", ErrCSRMalformed, blk.Type)
		}
		der = blk.Bytes
	}
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrCSRMalformed, err)
	}
	if err := checkPublicKey(req.PublicKey); err != nil {
		return nil, "", err
	}
	if err := req.CheckSignature(); err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrCSRSignature, err)
	}
	node, err := hub.NodeFromCommonName(req.Subject.CommonName)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrBadCommonName, err)
	}
	if o := req.Subject.Organization; len(o) > 1 || len(o) == 1 && o[0] != hub.NodesGroup {
		return nil, "", fmt.Errorf("%w: organization %q, want %q or none", ErrBadCommonName, o, hub.NodesGroup)
	}
	return req, node, nil
}

// checkPublicKey accepts the key types of node certificates.
func checkPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return nil
		}
		return fmt.Errorf("%w: ECDSA curve %s", ErrUnsupportedKey, k.Curve.Params().Name)
	case ed25519.PublicKey:
		return nil
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < MinRSABits || n > MaxRSABits {
			return fmt.Errorf("%w: RSA key of %d bits, want %d to %d", ErrUnsupportedKey, n, MinRSABits, MaxRSABits)
		}
		return nil
	}
	return fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
}
