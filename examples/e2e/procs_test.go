package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgehive/edgehive/internal/testenv"
)

// runFunc is the signature of cloudapp.Run and edgeapp.Run: a whole process.
type runFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// proc is a cloud or edge process running in-process, in a goroutine.
type proc struct {
	name    string
	cancel  context.CancelFunc
	done    chan error
	logPath string
	stopped bool
	err     error
}

// startProc runs fn with args until stop (or the end of the test). Its logs go to a file in the test's
// temporary directory, printed when the test fails (or always with EDGEHIVE_E2E_LOGS=1).
func startProc(t *testing.T, name string, fn runFunc, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &proc{name: name, cancel: cancel, done: make(chan error, 1), logPath: logPath}
	go func() {
		defer f.Close()
		p.done <- fn(ctx, args, io.Discard, f)
	}()
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if t.Failed() || os.Getenv("EDGEHIVE_E2E_LOGS") != "" {
			p.dumpLogs(t)
		}
	})
	return p
}

// stop cancels the process and waits for it to return; it returns the process's error. It is
// idempotent.
func (p *proc) stop() error {
	if p.stopped {
		return p.err
	}
	p.stopped = true
	p.cancel()
	select {
	case p.err = <-p.done:
	case <-time.After(60 * time.Second):
		p.err = fmt.Errorf("did not stop within 60 s")
	}
	return p.err
}

// exited reports the process's error if it has returned on its own.
func (p *proc) exited() (bool, error) {
	if p.stopped {
		return true, p.err
	}
	select {
	case err := <-p.done:
		p.stopped, p.err = true, err
		return true, err
	default:
		return false, nil
	}
}

// dumpLogs logs the end of the process's log file.
func (p *proc) dumpLogs(t *testing.T) {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Logf("%s: no logs: %v", p.name, err)
		return
	}
	lines := strings.Split(string(bytes.TrimSpace(b)), "\n")
	if len(lines) > 400 {
		lines = lines[len(lines)-400:]
	}
	t.Logf("---- %s log (last %d lines) ----\n%s", p.name, len(lines), strings.Join(lines, "\n"))
}

// addr returns 127.0.0.1:<a free port>.
func addr(t *testing.T) string { return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)) }

// eventually retries cond until it succeeds or timeout passes, failing the test with its last error.
func eventually(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) error) {
	t.Helper()
	if err := testenv.Eventually(t.Context(), timeout, 200*time.Millisecond, cond); err != nil {
		t.Fatalf("%s: not within %v: %v", what, timeout, err)
	}
}
