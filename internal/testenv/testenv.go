package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// K8sVersion is the Kubernetes version whose binaries the harness uses; hack/k8s-binaries.sh builds it.
const K8sVersion = "v1.36.3"

// TB is the part of testing.TB the harness uses. *testing.T and *testing.B satisfy it, and so does a
// Session, which lets a main program (the quickstart) start the same components.
type TB interface {
	Helper()
	Cleanup(func())
	Context() context.Context
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Failed() bool
	Logf(format string, args ...any)
	Skip(args ...any)
	TempDir() string
}

// InCI reports whether the tests run under CI (CI=true), where a missing component is a failure.
func InCI() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

// Missing stops the test because a component is missing: a skip locally, a failure under CI.
func Missing(t TB, format string, args ...any) {
	t.Helper()
	msg := "missing component: " + fmt.Sprintf(format, args...) + " (install with: make test-deps)"
	if InCI() {
		t.Fatal(msg + " [CI=true: a missing component is a failure]")
	}
	t.Skip(msg)
}

// LookPath finds an executable by name on PATH or in one of dirs, or stops the test through Missing.
func LookPath(t TB, name string, dirs ...string) string {
	t.Helper()
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "requires %s, not installed", name)
	}
	return p
}

// RequireRoot stops the test through Missing unless it runs as root (containerd and network namespaces
// need it).
func RequireRoot(t TB, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "%s requires root", what)
	}
}

// K8sBinDir is where hack/k8s-binaries.sh leaves the Kubernetes binaries: $EDGEHIVE_K8S_BIN if set, else
// $EDGEHIVE_CACHE (or the user cache dir)/edgehive/kubernetes-<version>/bin.
func K8sBinDir() string {
	if d := os.Getenv("EDGEHIVE_K8S_BIN"); d != "" {
		return d
	}
	cache := os.Getenv("EDGEHIVE_CACHE")
	if cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		cache = filepath.Join(base, "edgehive")
	}
	return filepath.Join(cache, "kubernetes-"+K8sVersion, "bin")
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Eventually calls cond every interval until it returns nil or timeout passes, and returns the last error.
func Eventually(ctx context.Context, timeout, interval time.Duration, cond func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		err := cond(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %v: %w", timeout, err)
		case <-tick.C:
		}
	}
}

// WaitTCP waits until addr accepts TCP connections.
func WaitTCP(ctx context.Context, addr string, timeout time.Duration) error {
	return Eventually(ctx, timeout, 20*time.Millisecond, func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	})
}
