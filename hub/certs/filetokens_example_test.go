package certs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgehive/edgehive/hub/certs"
)

// A cloud keeps its join tokens in a file, so that a token issued by one process (an operator's
// `cloud token`) is accepted by another (the running cloud).
func ExampleOpenFileTokenStore() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "tokens")
	defer os.RemoveAll(dir)
	ca, _ := certs.NewCA(certs.CAConfig{})

	issuer, err := certs.OpenFileTokenStore(ctx, filepath.Join(dir, "tokens.json"))
	if err != nil {
		fmt.Println(err)
		return
	}
	a, _ := certs.NewAuthority(certs.AuthorityConfig{CA: ca, Tokens: issuer})
	tok, _ := a.IssueToken(ctx, 0)

	cloudTokens, _ := certs.OpenFileTokenStore(ctx, filepath.Join(dir, "tokens.json")) // another process
	cloud, _ := certs.NewAuthority(certs.AuthorityConfig{CA: ca, Tokens: cloudTokens})
	_, err = cloud.CheckToken(ctx, tok.String())
	fmt.Println("accepted:", err == nil)
	// Output: accepted: true
}
