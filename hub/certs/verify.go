package certs

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"

	"github.com/edgehive/edgehive/hub"
)

// NodeFromCertificate returns the node a verified client certificate belongs to, from its CommonName
// only (never from anything the node says). It refuses a certificate without ExtKeyUsage ClientAuth or
// outside Organization system:nodes (ErrNotClientCert), a CommonName that is not system:node:<valid
// name> (ErrBadCommonName), and a denied node or serial (ErrRevoked; deny may be nil). It does not
// verify the chain: give it a certificate that TLS has verified against the CA.
func NodeFromCertificate(cert *x509.Certificate, deny Denylist) (hub.NodeName, error) {
	if cert == nil {
		return "", ErrNoClientCert
	}
	if !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		return "", fmt.Errorf("%w: no client-auth usage", ErrNotClientCert)
	}
	if !slices.Equal(cert.Subject.Organization, []string{hub.NodesGroup}) {
		return "", fmt.Errorf("%w: organization %q, want [%s]", ErrNotClientCert, cert.Subject.Organization, hub.NodesGroup)
	}
	node, err := hub.NodeFromCommonName(cert.Subject.CommonName)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadCommonName, err)
	}
	if deny != nil && deny.Denied(node, cert.SerialNumber) {
		return "", fmt.Errorf("%w: node %q, serial %x", ErrRevoked, node, cert.SerialNumber)
	}
	return node, nil
}

// VerifyNode returns the node of a TLS connection from its verified client certificate chain (the leaf
// of cs.VerifiedChains[0], see NodeFromCertificate), or ErrNoClientCert if TLS verified none. The cloud
// hub calls it after the handshake and again on open connections when the denylist changes.
func VerifyNode(cs tls.ConnectionState, deny Denylist) (hub.NodeName, error) {
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return "", ErrNoClientCert
	}
	return NodeFromCertificate(cs.VerifiedChains[0][0], deny)
}
