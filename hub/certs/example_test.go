package certs_test

import (
	"context"
	"fmt"
	"time"

	"github.com/edgehive/edgehive/hub/certs"
)

// The whole life of a node certificate without the network: the cloud creates a CA and a token, the
// edge pins the CA by the token and asks for a certificate, the cloud signs it, the cloud hub reads the
// node from it, and the edge knows when to rotate it.
func Example() {
	ctx := context.Background()

	// Cloud.
	ca, err := certs.NewCA(certs.CAConfig{})
	if err != nil {
		panic(err)
	}
	auth, err := certs.NewAuthority(certs.AuthorityConfig{CA: ca})
	if err != nil {
		panic(err)
	}
	tok, err := auth.IssueToken(ctx, time.Hour)
	if err != nil {
		panic(err)
	}
	printed := tok.String() // what the operator copies to the edge

	// Edge: pin the CA it was shown, then make a key and a request.
	token, err := certs.ParseToken(printed)
	if err != nil {
		panic(err)
	}
	if _, err := certs.PinCA(ca.CertPEM(), token); err != nil {
		panic(err)
	}
	key, _ := certs.GenerateKey()
	csr, err := certs.NewNodeCSR("edge-1", key)
	if err != nil {
		panic(err)
	}

	// Cloud: sign.
	nc, err := auth.SignNodeCSR(ctx, csr, printed)
	if err != nil {
		panic(err)
	}
	leaf := nc.Certificate
	fmt.Println(leaf.Subject.CommonName, leaf.Subject.Organization)

	// Cloud hub: who is this?
	node, err := certs.NodeFromCertificate(leaf, auth.Denylist())
	fmt.Println(node, err)

	// Edge: rotate at 80 % of the validity.
	fmt.Println(certs.ShouldRotate(leaf.NotBefore.Add(200*24*time.Hour), leaf.NotBefore, leaf.NotAfter),
		certs.ShouldRotate(leaf.NotBefore.Add(300*24*time.Hour), leaf.NotBefore, leaf.NotAfter))

	// Revoked: refused from now on.
	auth.Denylist().DenyNode(ctx, "edge-1")
	_, err = certs.NodeFromCertificate(leaf, auth.Denylist())
	fmt.Println(err != nil)
	// Output:
	// system:node:edge-1 [system:nodes]
	// edge-1 <nil>
	// false true
	// true
}
