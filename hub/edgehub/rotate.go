package edgehub

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/certs"
)

// DefaultRotateCheck is how often a connected edge checks whether its certificate is due for renewal.
const DefaultRotateCheck = time.Hour

// Rotation renews the node certificate over the authenticated link (hub.OpCertRotate) when
// certs.ShouldRotate says so (at 80 % of its validity), while connected.
type Rotation struct {
	// Holder is the CertHolder of the TLS configuration (certs.ClientTLSConfig). Required.
	Holder *certs.CertHolder
	// Save, if set, stores the new chain and key (PEM) before the holder presents them; if it fails
	// the new certificate is not used.
	Save func(chainPEM, keyPEM []byte) error
	// Check is how often to look (default DefaultRotateCheck); Now is the clock (default time.Now).
	Check time.Duration
	Now   func() time.Time
}

// ErrRotate wraps the failures of a certificate rotation.
var ErrRotate = errors.New("edgehub: certificate rotation failed")

// rotateLoop checks at once and then every Rotation.Check whether the certificate is due, and renews it.
func (s *edgeSession) rotateLoop(ctx context.Context) {
	r := s.e.cfg.Rotation
	t := time.NewTicker(r.Check)
	defer t.Stop()
	for {
		if due, err := s.rotationDue(); err != nil {
			s.e.cfg.Logger.Warn("edgehub: cannot read the node certificate", "err", err)
		} else if due {
			if err := s.rotate(ctx); err != nil {
				s.e.counter.rotateErrors.Add(1)
				s.e.cfg.Logger.Warn("edgehub: certificate rotation failed", "err", err)
			} else {
				s.e.counter.rotations.Add(1)
			}
		}
		select {
		case <-t.C:
		case <-s.conn.Done():
			return
		case <-ctx.Done():
			return
		}
	}
}

func (s *edgeSession) leaf() (*x509.Certificate, error) {
	c := s.e.cfg.Rotation.Holder.Certificate()
	if c == nil || len(c.Certificate) == 0 {
		return nil, fmt.Errorf("%w: no certificate held", ErrRotate)
	}
	if c.Leaf != nil {
		return c.Leaf, nil
	}
	return x509.ParseCertificate(c.Certificate[0])
}

func (s *edgeSession) rotationDue() (bool, error) {
	leaf, err := s.leaf()
	if err != nil {
		return false, err
	}
	return certs.ShouldRotate(s.e.cfg.Rotation.Now(), leaf.NotBefore, leaf.NotAfter), nil
}

// rotate asks the cloud for a certificate for a new key, and installs it.
func (s *edgeSession) rotate(ctx context.Context) error {
	r := s.e.cfg.Rotation
	leaf, err := s.leaf()
	if err != nil {
		return err
	}
	node, err := hub.NodeFromCommonName(leaf.Subject.CommonName)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRotate, err)
	}
	key, err := certs.GenerateKey()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRotate, err)
	}
	csr, err := certs.NewNodeCSR(node, key)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRotate, err)
	}
	req := hub.Frame{
		Header:  beehive.Header{ID: s.e.ids.Next(), Sync: true},
		Router:  beehive.Router{Operation: hub.OpCertRotate},
		Content: csr,
	}
	resp, err := s.call(ctx, &req, 3*s.e.cfg.WriteTimeout)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRotate, err)
	}
	if resp.Router.Operation != hub.OpResponse {
		return fmt.Errorf("%w: the cloud answered %s: %s", ErrRotate, resp.Router.Operation, resp.Content)
	}
	cert, err := certs.NewTLSCertificate(resp.Content, key)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRotate, err)
	}
	if r.Save != nil {
		keyPEM, err := certs.EncodeKeyPEM(key)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrRotate, err)
		}
		if err := r.Save(resp.Content, keyPEM); err != nil {
			return fmt.Errorf("%w: save: %w", ErrRotate, err)
		}
	}
	r.Holder.Set(cert)
	if s.e.sessions != nil {
		s.e.sessions.clear() // a resumed session would present the old certificate's identity
	}
	s.e.cfg.Logger.Info("edgehub: node certificate renewed", "node", node, "notAfter", cert.Leaf.NotAfter)
	return nil
}

// call sends a request frame and waits for the frame whose ParentID is its ID.
func (s *edgeSession) call(ctx context.Context, req *hub.Frame, timeout time.Duration) (hub.Frame, error) {
	ch := make(chan hub.Frame, 1)
	s.mu.Lock()
	s.calls[req.Header.ID] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.calls, req.Header.ID)
		s.mu.Unlock()
	}()
	if err := s.conn.Send(ctx, req); err != nil {
		return hub.Frame{}, err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case f := <-ch:
		return f, nil
	case <-t.C:
		return hub.Frame{}, fmt.Errorf("no answer in %v", timeout)
	case <-s.conn.Done():
		return hub.Frame{}, errors.New("connection closed")
	case <-ctx.Done():
		return hub.Frame{}, ctx.Err()
	}
}

// answer hands a response frame to its waiting call, if any.
func (s *edgeSession) answer(f *hub.Frame) bool {
	s.mu.Lock()
	ch, ok := s.calls[f.Header.ParentID]
	s.mu.Unlock()
	if ok {
		select {
		case ch <- *f:
		default:
		}
	}
	return ok
}
