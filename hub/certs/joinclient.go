package certs

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/edgehive/edgehive/hub"
)

// MaxResponseSize bounds what the join client reads from the join endpoint, in bytes.
const MaxResponseSize = 64 << 10

// JoinError is the join endpoint's refusal as the client sees it: the HTTP status and the code and
// message of the JSON error body. errors.Is matches it against ErrJoinRefused and against the sentinel
// of its code (ErrTokenExpired for "TokenExpired", ErrRevoked for "Revoked", …).
type JoinError struct {
	Status  int
	Code    string
	Message string
}

func (e *JoinError) Error() string {
	return fmt.Sprintf("certs: join refused: %d %s: %s", e.Status, e.Code, e.Message)
}

// Unwrap returns ErrJoinRefused and the sentinel of the code, if it has one.
func (e *JoinError) Unwrap() []error {
	if s := codeError(e.Code); s != nil {
		return []error{ErrJoinRefused, s}
	}
	return []error{ErrJoinRefused}
}

// JoinResult is what an edge keeps after joining.
type JoinResult struct {
	// CA is the pinned CA certificate, and CAPEM its PEM form.
	CA    *x509.Certificate
	CAPEM []byte
	// Certificate is the node certificate chain with the node's key, ready for a CertHolder.
	Certificate tls.Certificate
	// ChainPEM is the node certificate then the CA certificate, in PEM, to store beside the key.
	ChainPEM []byte
}

// Join is the edge's side of joining a cloud, at baseURL (https://host:port, with an optional path
// prefix), with a token printed by the cloud, for node, with the node's key:
//
//  1. it fetches the CA certificate (FetchCA) over TLS without verifying the server — only to read it;
//  2. it trusts that certificate only if it hashes to the token's CA hash (PinCA: ErrCAHashMismatch);
//  3. it posts a certificate request for node with the token (RequestCertificate) over a TLS connection
//     that trusts the pinned CA alone;
//  4. it checks the certificate it gets: signed by the CA for client authentication, for node, for key.
//
// Refusals of the cloud are *JoinError values (errors.Is(err, ErrTokenExpired), …). Join does no retry;
// ctx bounds the whole exchange.
func Join(ctx context.Context, baseURL, token string, node hub.NodeName, key crypto.Signer) (*JoinResult, error) {
	tok, err := ParseToken(token)
	if err != nil {
		return nil, err
	}
	csr, err := NewNodeCSR(node, key)
	if err != nil {
		return nil, err
	}
	caPEM, err := FetchCA(ctx, baseURL)
	if err != nil {
		return nil, err
	}
	ca, err := PinCA(caPEM, tok)
	if err != nil {
		return nil, err
	}
	chainPEM, err := RequestCertificate(ctx, baseURL, ca, token, csr)
	if err != nil {
		return nil, err
	}
	cert, err := NewTLSCertificate(chainPEM, key)
	if err != nil {
		return nil, err
	}
	if cn := cert.Leaf.Subject.CommonName; cn != node.CommonName() {
		return nil, fmt.Errorf("%w: the cloud issued a certificate for %q", ErrBadCertificate, cn)
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: poolOf(ca), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCertificate, err)
	}
	return &JoinResult{CA: ca, CAPEM: EncodeCertPEM(ca.Raw), Certificate: cert, ChainPEM: chainPEM}, nil
}

// FetchCA gets baseURL/ca.crt. The server is NOT authenticated (InsecureSkipVerify): the answer must be
// pinned with PinCA before anything trusts it.
func FetchCA(ctx context.Context, baseURL string) ([]byte, error) {
	u, err := endpoint(baseURL, PathCA)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("certs: fetch CA: %w", err)
	}
	// The server's identity is unknown until the CA is pinned; this connection only reads public data.
	return do(req, &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true})
}

// PinCA parses caPEM, which must hold exactly one CA certificate, and returns it if its SHA-256 is the
// token's CA hash (ErrCAHashMismatch otherwise).
func PinCA(caPEM []byte, token Token) (*x509.Certificate, error) {
	certs, err := ParseCertsPEM(caPEM)
	if err != nil {
		return nil, err
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("%w: %d certificates where one CA was expected", ErrBadCertificate, len(certs))
	}
	if h := CertHash(certs[0]); h != token.CAHash {
		return nil, fmt.Errorf("%w: got %.12s…, the token pins %.12s…", ErrCAHashMismatch, h, token.CAHash)
	}
	if !certs[0].IsCA {
		return nil, fmt.Errorf("%w: the pinned certificate is not a CA", ErrBadCertificate)
	}
	return certs[0], nil
}

// RequestCertificate posts a JoinRequest to baseURL/node/csr over TLS trusting ca alone, and returns
// the PEM certificate chain of the answer.
func RequestCertificate(ctx context.Context, baseURL string, ca *x509.Certificate, token string, csrPEM []byte) ([]byte, error) {
	u, err := endpoint(baseURL, PathCSR)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(JoinRequest{Token: token, CSR: string(csrPEM)})
	if err != nil {
		return nil, fmt.Errorf("certs: join request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("certs: join request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	return do(req, &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: poolOf(ca)})
}

func endpoint(baseURL, path string) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return "", fmt.Errorf("certs: join URL: %w", err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("%w: join URL %q must be https://host[:port][/prefix]", ErrInvalidConfig, baseURL)
	}
	return u.JoinPath(path).String(), nil
}

func poolOf(ca *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca)
	return p
}

// do sends req on a transport of its own (no keep-alive, no redirects, proxies from the environment),
// and returns the body of a 200 answer or the *JoinError of another.
func do(req *http.Request, tc *tls.Config) ([]byte, error) {
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     tc,
		DisableKeepAlives:   true,
		TLSHandshakeTimeout: 30 * time.Second,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("certs: %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("certs: %s %s: %w", req.Method, req.URL.Path, err)
	}
	if len(b) > MaxResponseSize {
		return nil, fmt.Errorf("%w: answer of %s over %d bytes", ErrTooLarge, req.URL.Path, MaxResponseSize)
	}
	if resp.StatusCode != http.StatusOK {
		je := &JoinError{Status: resp.StatusCode}
		var eb errorBody
		if json.Unmarshal(b, &eb) == nil && eb.Code != "" {
			je.Code, je.Message = eb.Code, eb.Message
		} else {
			je.Message = string(b[:min(len(b), 200)])
		}
		return nil, je
	}
	return b, nil
}
