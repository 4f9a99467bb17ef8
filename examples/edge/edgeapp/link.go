package edgeapp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/certs"
	"github.com/edgehive/edgehive/hub/edgehub"
)

// Files of the node's identity in the data dir.
const (
	fileNodeKey  = "node.key" // PEM private key, 0600
	fileNodeCert = "node.crt" // PEM node certificate then CA certificate
	fileCA       = "ca.crt"   // PEM CA certificate, pinned at join
)

// Backoff of the join retries.
const (
	joinBackoffInitial = 500 * time.Millisecond
	joinBackoffMax     = 30 * time.Second
	joinTimeout        = 30 * time.Second
)

// credentials are the node's key, certificate and the pinned CA, kept in the data dir.
type credentials struct {
	dir  string
	node hub.NodeName
	ca   *x509.Certificate
	cert tls.Certificate
}

// newCredentials loads the node's identity from the data dir, if it has one. A data dir holding a
// certificate of another node, or only part of the files, is an error.
func newCredentials(cfg config) (*credentials, error) {
	c := &credentials{dir: cfg.DataDir, node: cfg.NodeName}
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(c.dir, name)) }
	keyPEM, kerr := read(fileNodeKey)
	chainPEM, cerr := read(fileNodeCert)
	caPEM, aerr := read(fileCA)
	missing := 0
	for _, err := range []error{kerr, cerr, aerr} {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing++
		case err != nil:
			return nil, fmt.Errorf("data dir %s: %w", c.dir, err)
		}
	}
	switch missing {
	case 3:
		return c, nil
	case 0:
	default:
		return nil, fmt.Errorf("data dir %s: incomplete node identity (%s, %s, %s): remove them to join again",
			c.dir, fileNodeKey, fileNodeCert, fileCA)
	}
	key, err := certs.ParseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("data dir %s: %s: %w", c.dir, fileNodeKey, err)
	}
	cert, err := certs.NewTLSCertificate(chainPEM, key)
	if err != nil {
		return nil, fmt.Errorf("data dir %s: %s: %w", c.dir, fileNodeCert, err)
	}
	cas, err := certs.ParseCertsPEM(caPEM)
	if err != nil || len(cas) == 0 {
		return nil, fmt.Errorf("data dir %s: %s: bad CA certificate: %v", c.dir, fileCA, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("data dir %s: %s: %w", c.dir, fileNodeCert, err)
	}
	if n, err := hub.NodeFromCommonName(leaf.Subject.CommonName); err != nil || n != c.node {
		return nil, fmt.Errorf("data dir %s holds the certificate of %q, not of node %q: use another data dir",
			c.dir, leaf.Subject.CommonName, c.node)
	}
	c.ca, c.cert = cas[0], cert
	return c, nil
}

func (c *credentials) joined() bool { return c.ca != nil }

// join trades token for a node certificate at the join endpoint, and saves the result.
func (c *credentials) join(ctx context.Context, joinAddr, token string) error {
	key, err := certs.GenerateKey()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	res, err := certs.Join(ctx, "https://"+joinAddr, token, c.node, key)
	if err != nil {
		return err
	}
	keyPEM, err := certs.EncodeKeyPEM(key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(c.dir, fileCA), res.CAPEM, 0o644); err != nil {
		return err
	}
	if err := c.save(res.ChainPEM, keyPEM); err != nil {
		return err
	}
	c.ca, c.cert = res.CA, res.Certificate
	return nil
}

// save stores a node certificate chain and its key (also after a rotation).
func (c *credentials) save(chainPEM, keyPEM []byte) error {
	if err := writeFileAtomic(filepath.Join(c.dir, fileNodeKey), keyPEM, 0o600); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(c.dir, fileNodeCert), chainPEM, 0o644)
}

// writeFileAtomic writes b to path through a temporary file renamed into place.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// linkModule is the module "edgehub" of the edge: it joins the cloud if the node has no certificate
// yet (retrying with backoff until it succeeds or the hive stops), then runs the edge hub with the
// same beehive handle. Until then, messages for the cloud wait in its mailbox, and the other modules
// work offline.
type linkModule struct {
	cfg     config
	creds   *credentials
	digests hub.DigestSource
	log     *slog.Logger
}

func (l *linkModule) Name() string         { return edgehub.Name }
func (l *linkModule) Group() beehive.Group { return edgehub.Group }

// Run implements beehive.Module.
func (l *linkModule) Run(ctx context.Context, c *beehive.Context) error {
	if !l.creds.joined() {
		if err := l.joinLoop(ctx); err != nil {
			return nil // ctx ended
		}
	}
	host, _, _ := net.SplitHostPort(l.cfg.Cloud)
	holder := certs.NewCertHolder(l.creds.cert)
	eh, err := edgehub.New(edgehub.Config{
		URL:          "wss://" + l.cfg.Cloud + "/v1/hub",
		TLS:          certs.ClientTLSConfig(l.creds.ca, host, holder),
		OutboxPath:   filepath.Join(l.cfg.DataDir, "outbox.db"),
		DigestSource: l.digests,
		NotifyGroups: []beehive.Group{beehive.GroupMeta, beehive.GroupTwin, reporterGroup},
		Rotation:     &edgehub.Rotation{Holder: holder, Save: l.creds.save},
		Logger:       l.log,
	})
	if err != nil {
		return err
	}
	return eh.Run(ctx, c)
}

// joinLoop joins the cloud, retrying with exponential backoff and jitter; it fails only when ctx ends.
func (l *linkModule) joinLoop(ctx context.Context) error {
	delay := joinBackoffInitial
	for {
		err := l.creds.join(ctx, l.cfg.Join, l.cfg.Token)
		if err == nil {
			l.log.Info("joined the cloud", "join", l.cfg.Join)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := delay/2 + rand.N(delay/2+1)
		l.log.Warn("join failed, retrying", "join", l.cfg.Join, "err", err, "retryIn", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		delay = min(2*delay, joinBackoffMax)
	}
}
