package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Defaults of CAConfig, and the file names of a CA directory.
const (
	DefaultCACommonName = "edgehive-ca"
	DefaultCAValidity   = 10 * 365 * 24 * time.Hour
	CACertFile          = "ca.crt" // PEM certificate, mode 0644
	CAKeyFile           = "ca.key" // PEM PKCS #8 key, mode 0600
)

// backdate is how far before "now" certificates begin, to absorb clock skew between cloud and edges.
const backdate = 5 * time.Minute

// CAConfig says how to create a CA. Zero fields take the defaults.
type CAConfig struct {
	// CommonName of the CA certificate (default DefaultCACommonName), at most 64 bytes.
	CommonName string
	// Validity of the CA certificate (default DefaultCAValidity).
	Validity time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Validate reports a bad config, wrapping ErrInvalidConfig.
func (c CAConfig) Validate() error {
	if len(c.CommonName) > 64 {
		return fmt.Errorf("%w: CA common name is over 64 bytes", ErrInvalidConfig)
	}
	if c.Validity < 0 {
		return fmt.Errorf("%w: negative CA validity %v", ErrInvalidConfig, c.Validity)
	}
	return nil
}

// CA is the certificate authority of a cloud: an ECDSA P-256 key and its self-signed certificate. Its
// pin is the SHA-256 of the certificate's DER (Hash), which join tokens carry. A CA is immutable and
// safe for concurrent use.
type CA struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
	hash    string
}

// NewCA creates a CA in memory.
func NewCA(cfg CAConfig) (*CA, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.CommonName == "" {
		cfg.CommonName = DefaultCACommonName
	}
	if cfg.Validity == 0 {
		cfg.Validity = DefaultCAValidity
	}
	now := time.Now()
	if cfg.Now != nil {
		now = cfg.Now()
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certs: generate CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{CommonName: cfg.CommonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(cfg.Validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("certs: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certs: parse CA certificate: %w", err)
	}
	return newCA(cert, key)
}

func newCA(cert *x509.Certificate, key crypto.Signer) (*CA, error) {
	if !cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("%w: the certificate is not a CA certificate", ErrBadCA)
	}
	if !samePublicKey(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("%w: the key does not match the certificate", ErrBadCA)
	}
	return &CA{cert: cert, key: key, certPEM: EncodeCertPEM(cert.Raw), hash: CertHash(cert)}, nil
}

// ParseCA builds a CA from a PEM certificate and a PEM private key (for a CA kept outside files, such
// as in a Kubernetes Secret).
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	certs, err := ParseCertsPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCA, err)
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("%w: %d certificates, want 1", ErrBadCA, len(certs))
	}
	key, err := ParseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCA, err)
	}
	return newCA(certs[0], key)
}

// LoadCA reads dir/ca.crt and dir/ca.key. The key file must not be accessible to group or others
// (ErrKeyPermissions): give it mode 0600.
func LoadCA(dir string) (*CA, error) {
	keyPath := filepath.Join(dir, CAKeyFile)
	st, err := os.Stat(keyPath)
	if err != nil {
		return nil, fmt.Errorf("certs: load CA: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v, want 0600", ErrKeyPermissions, keyPath, st.Mode().Perm())
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("certs: load CA: %w", err)
	}
	certPEM, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, fmt.Errorf("certs: load CA: %w", err)
	}
	return ParseCA(certPEM, keyPEM)
}

// caSettle bounds how long LoadOrCreateCA waits for another creator to finish a CA directory (the two
// files are linked into place one after the other; only a crash between the links can leave one).
const (
	caSettle     = 5 * time.Second
	caSettlePoll = 5 * time.Millisecond
	caTmpPrefix  = ".tmp-ca."
)

// LoadOrCreateCA loads the CA in dir if dir holds one, and otherwise creates one with cfg and writes it
// there (the directory with mode 0700, the key 0600, the certificate 0644).
//
// Creators may race, in goroutines or in processes: all of them return the same CA, the one on disk.
// Each writes its key and certificate to synced temporary files in dir, then links the key into place
// (link(2) fails if the name exists: whoever links ca.key first has won), then the certificate. A
// creator that lost, or that finds the directory half made while another creator's temporary files are
// still there, waits (at most 5 s) for the winner to finish and loads the winner's CA. A directory with
// only one of the two files and no creator at work is an error (ErrCAIncomplete): the operator must look
// at it. A crash leaves no half-written file.
func LoadOrCreateCA(dir string, cfg CAConfig) (*CA, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	certOK, err := exists(certPath)
	if err != nil {
		return nil, err
	}
	keyOK, err := exists(keyPath)
	if err != nil {
		return nil, err
	}
	if certOK || keyOK {
		if err := awaitCA(dir); err != nil {
			return nil, err
		}
		return LoadCA(dir)
	}
	ca, err := NewCA(cfg)
	if err != nil {
		return nil, err
	}
	keyPEM, err := EncodeKeyPEM(ca.key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("certs: create CA directory: %w", err)
	}
	won, err := publishCA(dir, keyPEM, ca.certPEM)
	if err != nil {
		return nil, err
	}
	if !won {
		if err := awaitCA(dir); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCARace, err)
		}
	}
	// Whoever won, the CA is the one on disk.
	return LoadCA(dir)
}

// publishCA writes the key and certificate to temporary files in dir, then links the key to ca.key:
// if that name exists another creator has won, and publishCA returns false. Otherwise it links the
// certificate to ca.crt (the key is removed again if that fails) and returns true. The temporary files
// stay until both links are done, so that awaitCA can tell a creator at work from a crash.
func publishCA(dir string, keyPEM, certPEM []byte) (won bool, err error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	tmpKey, err := writeTemp(dir, caTmpPrefix+"key-*", keyPEM, 0o600)
	if err != nil {
		return false, err
	}
	defer os.Remove(tmpKey)
	tmpCert, err := writeTemp(dir, caTmpPrefix+"crt-*", certPEM, 0o644)
	if err != nil {
		return false, err
	}
	defer os.Remove(tmpCert)
	if err := os.Link(tmpKey, keyPath); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("certs: write %s: %w", keyPath, err)
	}
	if err := os.Link(tmpCert, certPath); err != nil {
		os.Remove(keyPath) // ours: we linked it
		return false, fmt.Errorf("certs: write %s: %w", certPath, err)
	}
	if err := syncDir(dir); err != nil {
		return false, fmt.Errorf("certs: sync CA directory: %w", err)
	}
	return true, nil
}

// awaitCA returns when dir holds both files, or ErrCAIncomplete when it holds one and no creator's
// temporary files are there (or the wait exceeds caSettle).
func awaitCA(dir string) error {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	complete := func() (bool, error) {
		c, err := exists(certPath)
		if err != nil {
			return false, err
		}
		k, err := exists(keyPath)
		return c && k, err
	}
	deadline := time.Now().Add(caSettle)
	for {
		ok, err := complete()
		if ok || err != nil {
			return err
		}
		busy, err := filepath.Glob(filepath.Join(dir, caTmpPrefix+"*"))
		if err != nil {
			return fmt.Errorf("certs: %w", err)
		}
		if len(busy) == 0 {
			// A creator links both files before it removes its temporary files: look once more.
			if ok, err := complete(); ok || err != nil {
				return err
			}
			return fmt.Errorf("%w: %s", ErrCAIncomplete, dir)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s (a creator's temporary files are there, but it did not finish in %v)", ErrCAIncomplete, dir, caSettle)
		}
		time.Sleep(caSettlePoll)
	}
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("certs: %w", err)
}

// writeTemp writes b to a new synced file in dir with mode perm, named by pattern (os.CreateTemp), and
// returns its path.
func writeTemp(dir, pattern string, b []byte, perm os.FileMode) (name string, err error) {
	tmp, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", fmt.Errorf("certs: write CA: %w", err)
	}
	defer func() {
		if cerr := tmp.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			os.Remove(tmp.Name())
			err = fmt.Errorf("certs: write CA: %w", err)
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return "", err
	}
	if _, err := tmp.Write(b); err != nil {
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		return "", err
	}
	return tmp.Name(), nil
}

// Certificate returns the CA certificate. Do not modify it.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// CertPEM returns the CA certificate in PEM form (what GET /ca.crt serves).
func (ca *CA) CertPEM() []byte { return bytes.Clone(ca.certPEM) }

// Hash returns the CA's pin: the SHA-256 of its certificate's DER, as 64 lowercase hex digits.
func (ca *CA) Hash() string { return ca.hash }

// Pool returns a new pool holding only the CA certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// randSerial returns a random positive serial number of 16 bytes with 126 random bits (RFC 5280 allows
// up to 20 bytes).
func randSerial() *big.Int {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	b[0] &= 0x7f
	b[0] |= 0x40 // never zero, always 16 bytes long
	return new(big.Int).SetBytes(b[:])
}
