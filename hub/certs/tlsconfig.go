package certs

import (
	"crypto/tls"
	"crypto/x509"
)

// ServerTLSConfig returns the cloud hub's TLS configuration: TLS 1.3 only, the server certificate cert,
// and mutual TLS — a client certificate is required and verified against ca, and VerifyConnection
// refuses any whose node is not valid or is denied (VerifyNode), on every handshake, resumed sessions
// included. Set GetCertificate on the result to rotate the server certificate without a restart.
func ServerTLSConfig(ca *x509.Certificate, cert tls.Certificate, deny Denylist) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := VerifyNode(cs, deny)
			return err
		},
	}
}

// JoinTLSConfig returns the TLS configuration of the join endpoint (JoinHandler): TLS 1.3 only, the
// server certificate cert, no client certificate (a joining edge has none yet).
func JoinTLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}}
}

// ClientTLSConfig returns the edge's TLS configuration for the cloud hub: TLS 1.3 only, trusting ca
// alone, expecting serverName in the server certificate, and presenting the client certificate held by
// certs at each handshake, so that a rotated certificate is used from the next connection on. It keeps
// no session cache on purpose: a resumed session would carry the old certificate's identity.
func ClientTLSConfig(ca *x509.Certificate, serverName string, certs *CertHolder) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{
		MinVersion:           tls.VersionTLS13,
		RootCAs:              pool,
		ServerName:           serverName,
		GetClientCertificate: certs.GetClientCertificate,
	}
}
