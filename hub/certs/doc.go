// Package certs gives edgehive's nodes their identity: a cloud CA, join tokens, node client
// certificates, their rotation and revocation, the join endpoint and its client, and the TLS
// configurations of the cloud hub and the edge. It uses the standard library's crypto only (and the
// light hub contract for node names).
//
// # The cloud
//
//	ca, _ := certs.LoadOrCreateCA("/var/lib/edgehive/ca", certs.CAConfig{}) // ca.crt 0644, ca.key 0600
//	auth, _ := certs.NewAuthority(certs.AuthorityConfig{CA: ca})
//	tok, _ := auth.IssueToken(ctx, 0) // print tok.String() for the operator: "<CA hash>.<secret>"
//	srv, _ := auth.IssueServerCert(certs.ServerCertConfig{DNSNames: []string{"cloud.example.com"}})
//	join, _ := auth.JoinHandler(certs.JoinConfig{})   // GET /ca.crt, POST /node/csr; serve it with
//	                                                  // certs.JoinTLSConfig(srv)
//	hubTLS := certs.ServerTLSConfig(ca.Certificate(), srv, auth.Denylist()) // the cloud hub's listener
//	node, err := certs.VerifyNode(conn.ConnectionState(), auth.Denylist()) // who is this connection
//
// # The edge
//
//	key, _ := certs.GenerateKey()
//	res, err := certs.Join(ctx, "https://cloud.example.com:10002", token, "edge-1", key)
//	holder := certs.NewCertHolder(res.Certificate) // store res.ChainPEM and EncodeKeyPEM(key), 0600
//	tlsConf := certs.ClientTLSConfig(res.CA, "cloud.example.com", holder)
//
// Join fetches the CA certificate without trusting the server, pins it by the token's hash, and only
// then sends its certificate request with the token, over TLS that trusts the pinned CA alone. A token
// is "<64 hex digits: SHA-256 of the CA certificate's DER>.<32 hex digits: a 128-bit random secret>".
//
// # Rotation and revocation
//
// When ShouldRotate(now, NotBefore, NotAfter) says so (at 80 % of the validity), the edge makes a new
// key and NewNodeCSR and sends it over the authenticated link (hub.OpCertRotate); the cloud hub answers
// with Authority.RenewNodeCert for the connection's node, and the edge stores the result and calls
// CertHolder.Set: the next connection presents the new certificate. Denylist.DenyNode or DenySerial
// revokes for good: the join, the rotation, every handshake (ServerTLSConfig's VerifyConnection) and
// VerifyNode refuse a denied node or certificate; a Notifier denylist tells the cloud hub when to
// re-check its open connections.
//
// # Guarantees
//
//   - A node's identity is the CommonName of its verified certificate, "system:node:<name>" with a
//     DNS-1123 name, in Organization "system:nodes", with ExtKeyUsage ClientAuth; never a header.
//   - Node certificates copy nothing from a request but the public key and the validated node name.
//     Accepted keys: ECDSA P-256 and P-384, Ed25519, RSA of 2048 to 4096 bits.
//   - Token secrets are stored as SHA-256 hashes and compared in constant time; tokens expire (a TTL,
//     default 24 h) and are reusable until then; the token is checked before the request is parsed.
//   - The join endpoint refuses bodies over its limit (64 KiB) before reading them, and answers every
//     refusal with a status and a JSON {code, message}; the client turns them back into this package's
//     sentinel errors (JoinError).
//   - Everything is TLS 1.3. Private keys are written with mode 0600 and a CA key readable by others is
//     refused at load.
//   - LoadOrCreateCA is safe when several goroutines or processes create the same CA directory at once:
//     the first to link ca.key into place wins, and every creator returns the CA that is on disk.
//   - Token stores: MemTokenStore in memory; FileTokenStore in one JSON file shared by processes (an
//     flock between them, atomic replacement, mode 0600); a token file that does not decode is an error
//     (ErrTokenFileCorrupt) and is never overwritten.
//
// Errors are sentinels named ErrX, wrapped with detail; compare with errors.Is. Nothing here holds
// package state: an Authority, a token store and a denylist are values.
package certs
