package certs

import "errors"

// Errors of the certs package. Compare with errors.Is; they are wrapped with detail.
var (
	ErrInvalidConfig  = errors.New("certs: invalid config")
	ErrTokenMalformed = errors.New("certs: malformed join token")
	ErrTokenExpired   = errors.New("certs: join token expired")
	ErrTokenUnknown   = errors.New("certs: unknown join token")
	// ErrCAHashMismatch: the CA certificate does not hash to the token's CA hash (edge side: the CA
	// fetched is not the one the token pins; cloud side: the token was made for another CA).
	ErrCAHashMismatch = errors.New("certs: CA certificate does not match the token's hash")
	ErrCSRMalformed   = errors.New("certs: malformed certificate request")
	ErrCSRSignature   = errors.New("certs: certificate request signature is invalid")
	// ErrBadCommonName: a CommonName that is not system:node:<DNS-1123 name>, or not the expected node.
	ErrBadCommonName  = errors.New("certs: common name is not system:node:<valid node name>")
	ErrUnsupportedKey = errors.New("certs: unsupported key type")
	ErrRevoked        = errors.New("certs: node or certificate revoked")
	ErrNoClientCert   = errors.New("certs: no verified client certificate")
	ErrNotClientCert  = errors.New("certs: certificate is not a node client certificate")
	// ErrCAIncomplete: a CA directory with only one of ca.crt and ca.key.
	ErrCAIncomplete = errors.New("certs: CA directory holds a certificate or a key, not both")
	// ErrKeyPermissions: a private key file readable by group or others.
	ErrKeyPermissions = errors.New("certs: private key file permissions are too open")
	ErrBadCA          = errors.New("certs: invalid CA certificate or key")
	ErrBadCertificate = errors.New("certs: invalid certificate")
	ErrBadKey         = errors.New("certs: invalid private key")
	// ErrJoinRefused: the join endpoint answered with an error the client has no sentinel for. A
	// *JoinError carries the status and code.
	ErrJoinRefused = errors.New("certs: join refused")
	// ErrBadRequest: a join request that is not the JSON object {"token": …, "csr": …}.
	ErrBadRequest = errors.New("certs: malformed join request")
	// ErrTokenFileCorrupt: a FileTokenStore's file that does not decode; it is left untouched.
	ErrTokenFileCorrupt = errors.New("certs: token file is corrupt")
	// ErrCARace: LoadOrCreateCA lost a race to another creator and could not load the winner's CA.
	ErrCARace = errors.New("certs: CA directory changed while it was being created")
	// ErrTooLarge: a request or response body over its size limit.
	ErrTooLarge = errors.New("certs: body too large")
)
