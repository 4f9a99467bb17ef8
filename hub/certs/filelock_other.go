//go:build !unix

package certs

import "context"

// lockFile is a no-op where flock(2) does not exist: a FileTokenStore then serialises the operations
// of its own process only.
func lockFile(ctx context.Context, path string) (func(), error) { return func() {}, nil }
