package certs

import (
	"crypto/tls"
	"sync/atomic"
	"time"
)

// RotateFraction is the part of a certificate's validity after which the edge asks for a new one: 80 %,
// so a one-year certificate is renewed about 73 days before it expires, leaving time for retries while
// the node is offline.
const RotateFraction = 0.8

// RotateAt returns when a certificate valid from notBefore to notAfter should be renewed: notBefore plus
// RotateFraction of the validity. A certificate with no validity (notAfter not after notBefore) is due
// at once (notBefore). Callers with many nodes may add their own jitter.
func RotateAt(notBefore, notAfter time.Time) time.Time {
	d := notAfter.Sub(notBefore)
	if d <= 0 {
		return notBefore
	}
	return notBefore.Add(d - d/5) // exactly 80 %, without float rounding or overflow
}

// ShouldRotate reports whether, at now, a certificate valid from notBefore to notAfter is due for
// renewal (now is at or after RotateAt). It is a pure function.
func ShouldRotate(now, notBefore, notAfter time.Time) bool {
	return !now.Before(RotateAt(notBefore, notAfter))
}

// CertHolder holds the edge's current client certificate for ClientTLSConfig: after a rotation, Set
// the new certificate and the next handshake presents it, with no new tls.Config. It is safe for
// concurrent use; the zero value holds no certificate.
type CertHolder struct {
	p atomic.Pointer[tls.Certificate]
}

// NewCertHolder returns a holder of c.
func NewCertHolder(c tls.Certificate) *CertHolder {
	h := &CertHolder{}
	h.Set(c)
	return h
}

// Set replaces the held certificate.
func (h *CertHolder) Set(c tls.Certificate) { h.p.Store(&c) }

// Certificate returns the held certificate, or nil.
func (h *CertHolder) Certificate() *tls.Certificate { return h.p.Load() }

// GetClientCertificate is a tls.Config.GetClientCertificate that presents the held certificate (none if
// the holder is empty).
func (h *CertHolder) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	if c := h.p.Load(); c != nil {
		return c, nil
	}
	return &tls.Certificate{}, nil
}
