package certs

import (
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
)

// PEM block types.
const (
	pemCertificate = "CERTIFICATE"
	pemPrivateKey  = "PRIVATE KEY"
	pemECKey       = "EC PRIVATE KEY"
	pemRSAKey      = "RSA PRIVATE KEY"
	pemCSR         = "CERTIFICATE REQUEST"
)

// HashDER returns the pin of a certificate: the SHA-256 of its DER bytes, as 64 lowercase hex digits.
func HashDER(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// CertHash returns HashDER(cert.Raw).
func CertHash(cert *x509.Certificate) string { return HashDER(cert.Raw) }

// EncodeCertPEM returns der as a PEM CERTIFICATE block.
func EncodeCertPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: der})
}

// ParseCertsPEM parses every CERTIFICATE block of b, in order. Other block types are an error, as is
// input with no certificate.
func ParseCertsPEM(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != pemCertificate {
			return nil, fmt.Errorf("%w: unexpected PEM block %q", ErrBadCertificate, blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadCertificate, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no PEM certificate", ErrBadCertificate)
	}
	return out, nil
}

// EncodeKeyPEM returns key as a PKCS #8 PRIVATE KEY PEM block.
func EncodeKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: der}), nil
}

// ParseKeyPEM parses the first PEM block of b as a private key: PKCS #8 (PRIVATE KEY), SEC 1 (EC
// PRIVATE KEY) or PKCS #1 (RSA PRIVATE KEY).
func ParseKeyPEM(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrBadKey)
	}
	var (
		k   any
		err error
	)
	switch blk.Type {
	case pemPrivateKey:
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case pemECKey:
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	case pemRSAKey:
		k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("%w: unexpected PEM block %q", ErrBadKey, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %T is not a signer", ErrBadKey, k)
	}
	return s, nil
}

// NewTLSCertificate pairs a PEM certificate chain (leaf first) with its private key, checking that they
// match, with Leaf set.
func NewTLSCertificate(chainPEM []byte, key crypto.Signer) (tls.Certificate, error) {
	chain, err := ParseCertsPEM(chainPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	if !samePublicKey(chain[0].PublicKey, key.Public()) {
		return tls.Certificate{}, fmt.Errorf("%w: the certificate is not for this key", ErrBadCertificate)
	}
	c := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, x := range chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c, nil
}

// samePublicKey reports whether a and b are the same public key (the standard key types all have Equal).
func samePublicKey(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}
