package fakecri

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// StartForTest starts a Runtime with cfg on a socket in a new short temporary directory (unix socket
// paths must stay under 108 bytes, which t.TempDir() paths can exceed) and closes it, and removes the
// directory, when the test ends. A SocketPath in cfg is ignored. It fails the test if the runtime does
// not start.
func StartForTest(t testing.TB, cfg Config) *Runtime {
	t.Helper()
	root := os.TempDir()
	if len(root) > 60 { // a long TMPDIR would leave no room for the socket's name
		root = "/tmp"
	}
	dir, err := os.MkdirTemp(root, "fcri")
	if err != nil {
		t.Fatalf("fakecri: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	cfg.SocketPath = filepath.Join(dir, "cri.sock")
	r := New(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatalf("fakecri: start: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("fakecri: close: %v", err)
		}
	})
	return r
}
