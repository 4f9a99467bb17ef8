package certs

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"time"

	"github.com/edgehive/edgehive/hub"
)

// Defaults of AuthorityConfig and ServerCertConfig.
const (
	DefaultTokenTTL           = 24 * time.Hour
	DefaultNodeCertValidity   = 365 * 24 * time.Hour
	DefaultServerCertValidity = 365 * 24 * time.Hour
	DefaultServerCommonName   = "edgehive-cloudhub"
)

// AuthorityConfig configures an Authority. Zero fields take the defaults.
type AuthorityConfig struct {
	// CA signs every certificate. Required.
	CA *CA
	// Tokens keeps the join tokens (default: a new MemTokenStore).
	Tokens TokenStore
	// Denylist refuses revoked nodes and certificates (default: a new MemDenylist).
	Denylist Denylist
	// TokenTTL is the lifetime of a token from IssueToken with ttl 0 (default DefaultTokenTTL).
	TokenTTL time.Duration
	// NodeCertValidity is the lifetime of node certificates (default DefaultNodeCertValidity), cut to the
	// CA's own expiry.
	NodeCertValidity time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Validate reports a bad config, wrapping ErrInvalidConfig.
func (c AuthorityConfig) Validate() error {
	switch {
	case c.CA == nil:
		return fmt.Errorf("%w: no CA", ErrInvalidConfig)
	case c.TokenTTL < 0:
		return fmt.Errorf("%w: negative token TTL %v", ErrInvalidConfig, c.TokenTTL)
	case c.NodeCertValidity < 0:
		return fmt.Errorf("%w: negative node certificate validity %v", ErrInvalidConfig, c.NodeCertValidity)
	}
	return nil
}

// Authority is the cloud's side of node identity: it issues join tokens, signs node certificates
// against a token (join) or over the authenticated link (rotation), issues the cloud hub's server
// certificate, and keeps the denylist. It is safe for concurrent use.
type Authority struct {
	cfg AuthorityConfig
}

// NewAuthority returns an Authority for cfg.
func NewAuthority(cfg AuthorityConfig) (*Authority, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Tokens == nil {
		cfg.Tokens = NewMemTokenStore()
	}
	if cfg.Denylist == nil {
		cfg.Denylist = NewMemDenylist()
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.NodeCertValidity == 0 {
		cfg.NodeCertValidity = DefaultNodeCertValidity
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Authority{cfg: cfg}, nil
}

// CA returns the authority's CA.
func (a *Authority) CA() *CA { return a.cfg.CA }

// Denylist returns the authority's denylist.
func (a *Authority) Denylist() Denylist { return a.cfg.Denylist }

// IssueToken creates a join token valid for ttl (0: the configured TokenTTL) and records it.
func (a *Authority) IssueToken(ctx context.Context, ttl time.Duration) (Token, error) {
	if ttl < 0 {
		return Token{}, fmt.Errorf("%w: negative token TTL %v", ErrInvalidConfig, ttl)
	}
	if ttl == 0 {
		ttl = a.cfg.TokenTTL
	}
	t, err := NewToken(a.cfg.CA.Hash())
	if err != nil {
		return Token{}, err
	}
	if err := a.cfg.Tokens.Put(ctx, StoredToken{SecretHash: t.SecretHash(), Expires: a.cfg.Now().Add(ttl)}); err != nil {
		return Token{}, fmt.Errorf("certs: store token: %w", err)
	}
	return t, nil
}

// DeleteToken withdraws a token before it expires.
func (a *Authority) DeleteToken(ctx context.Context, t Token) error {
	return a.cfg.Tokens.Delete(ctx, t.SecretHash())
}

// CheckToken parses s and checks it: ErrTokenMalformed, ErrCAHashMismatch (made for another CA),
// ErrTokenUnknown, ErrTokenExpired (an expired token is also deleted from the store).
func (a *Authority) CheckToken(ctx context.Context, s string) (Token, error) {
	t, err := ParseToken(s)
	if err != nil {
		return Token{}, err
	}
	if t.CAHash != a.cfg.CA.Hash() {
		return Token{}, fmt.Errorf("%w: the token was made for CA %.12s…, this is %.12s…", ErrCAHashMismatch, t.CAHash, a.cfg.CA.Hash())
	}
	h := t.SecretHash()
	st, ok, err := a.cfg.Tokens.Lookup(ctx, h)
	if err != nil {
		return Token{}, fmt.Errorf("certs: look up token: %w", err)
	}
	if !ok {
		return Token{}, ErrTokenUnknown
	}
	if !a.cfg.Now().Before(st.Expires) {
		_ = a.cfg.Tokens.Delete(ctx, h) // best effort; it stays refused either way
		return Token{}, fmt.Errorf("%w: at %s", ErrTokenExpired, st.Expires.UTC().Format(time.RFC3339))
	}
	return t, nil
}

// NodeCert is a node certificate the Authority issued.
type NodeCert struct {
	Node        hub.NodeName
	Certificate *x509.Certificate
	// ChainPEM is the node certificate then the CA certificate, in PEM.
	ChainPEM []byte
}

// SignNodeCSR is the join: it checks token (see CheckToken) before it looks at the request, then the
// request (see ParseNodeCSR, PEM or DER), refuses a denied node (ErrRevoked), and issues a client
// certificate: CommonName system:node:<node>, Organization system:nodes, ExtKeyUsage ClientAuth only,
// a random serial, valid from a few minutes ago for NodeCertValidity.
func (a *Authority) SignNodeCSR(ctx context.Context, csr []byte, token string) (NodeCert, error) {
	if _, err := a.CheckToken(ctx, token); err != nil {
		return NodeCert{}, err
	}
	req, node, err := ParseNodeCSR(csr)
	if err != nil {
		return NodeCert{}, err
	}
	return a.issueNode(node, req.PublicKey)
}

// RenewNodeCert is the rotation over the authenticated link: node is the connection's node (from its
// verified certificate, see VerifyNode), and the request must name that node (ErrBadCommonName
// otherwise). No token is needed. The new key may differ from the old one.
func (a *Authority) RenewNodeCert(ctx context.Context, node hub.NodeName, csr []byte) (NodeCert, error) {
	if err := ctx.Err(); err != nil {
		return NodeCert{}, err
	}
	req, n, err := ParseNodeCSR(csr)
	if err != nil {
		return NodeCert{}, err
	}
	if n != node {
		return NodeCert{}, fmt.Errorf("%w: the request names node %q, the connection is %q", ErrBadCommonName, n, node)
	}
	return a.issueNode(node, req.PublicKey)
}

func (a *Authority) issueNode(node hub.NodeName, pub crypto.PublicKey) (NodeCert, error) {
	if a.cfg.Denylist.Denied(node, nil) {
		return NodeCert{}, fmt.Errorf("%w: node %q", ErrRevoked, node)
	}
	usage := x509.KeyUsageDigitalSignature
	if _, ok := pub.(*rsa.PublicKey); ok {
		usage |= x509.KeyUsageKeyEncipherment
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: node.CommonName(), Organization: []string{hub.NodesGroup}},
		KeyUsage:    usage,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	cert, err := a.sign(tmpl, pub, a.cfg.NodeCertValidity)
	if err != nil {
		return NodeCert{}, err
	}
	chain := append(EncodeCertPEM(cert.Raw), a.cfg.CA.certPEM...)
	return NodeCert{Node: node, Certificate: cert, ChainPEM: chain}, nil
}

// sign completes tmpl (serial, validity, constraints) and signs it with the CA.
func (a *Authority) sign(tmpl *x509.Certificate, pub crypto.PublicKey, validity time.Duration) (*x509.Certificate, error) {
	ca := a.cfg.CA
	now := a.cfg.Now()
	tmpl.SerialNumber = randSerial()
	tmpl.NotBefore = now.Add(-backdate)
	tmpl.NotAfter = now.Add(validity)
	if tmpl.NotAfter.After(ca.cert.NotAfter) {
		tmpl.NotAfter = ca.cert.NotAfter
	}
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("certs: sign certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// ServerCertConfig describes the cloud hub's server certificate.
type ServerCertConfig struct {
	// CommonName (default DefaultServerCommonName); clients check the names below, not this.
	CommonName string
	// DNSNames and IPAddresses are the names edges dial; at least one is required.
	DNSNames    []string
	IPAddresses []net.IP
	// Validity (default DefaultServerCertValidity), cut to the CA's expiry.
	Validity time.Duration
	// Key is the server's key (default: a new ECDSA P-256 key).
	Key crypto.Signer
}

// Validate reports a bad config, wrapping ErrInvalidConfig.
func (c ServerCertConfig) Validate() error {
	if len(c.DNSNames) == 0 && len(c.IPAddresses) == 0 {
		return fmt.Errorf("%w: a server certificate needs a DNS name or an IP address", ErrInvalidConfig)
	}
	for _, n := range c.DNSNames {
		if n == "" {
			return fmt.Errorf("%w: empty DNS name", ErrInvalidConfig)
		}
	}
	if c.Validity < 0 {
		return fmt.Errorf("%w: negative server certificate validity %v", ErrInvalidConfig, c.Validity)
	}
	if c.Key != nil {
		if err := checkPublicKey(c.Key.Public()); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
	}
	return nil
}

// IssueServerCert issues a server certificate (ExtKeyUsage ServerAuth) for the cloud hub and the join
// endpoint, ready for tls.Config.Certificates; the chain holds the server certificate alone.
func (a *Authority) IssueServerCert(cfg ServerCertConfig) (tls.Certificate, error) {
	if err := cfg.Validate(); err != nil {
		return tls.Certificate{}, err
	}
	if cfg.CommonName == "" {
		cfg.CommonName = DefaultServerCommonName
	}
	if cfg.Validity == 0 {
		cfg.Validity = DefaultServerCertValidity
	}
	key := cfg.Key
	if key == nil {
		k, err := GenerateKey()
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("certs: generate server key: %w", err)
		}
		key = k
	}
	usage := x509.KeyUsageDigitalSignature
	if _, ok := key.Public().(*rsa.PublicKey); ok {
		usage |= x509.KeyUsageKeyEncipherment
	}
	cert, err := a.sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: cfg.CommonName},
		DNSNames:    cfg.DNSNames,
		IPAddresses: cfg.IPAddresses,
		KeyUsage:    usage,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, key.Public(), cfg.Validity)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, nil
}
