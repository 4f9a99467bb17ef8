package main

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgehive/edgehive/edged/fakecri"
)

// buildEdge builds the command into a temporary directory.
func buildEdge(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: builds the command")
	}
	bin := filepath.Join(t.TempDir(), "edge")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestProcess checks the binary's exit statuses (0 for --help, 2 and a message for a bad flag, 1 for an
// unusable data dir) and that SIGTERM stops a running edge cleanly, with status 0.
func TestProcess(t *testing.T) {
	bin := buildEdge(t)
	exitCode := func(args ...string) (int, string) {
		var stderr bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), stderr.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, stderr.String()
	}
	if code, out := exitCode("--help"); code != 0 || !strings.Contains(out, "--node-name") && !strings.Contains(out, "-node-name") {
		t.Errorf("--help: status %d, output %q", code, out)
	}
	if code, out := exitCode("--node-name", "n1", "--bogus"); code != 2 || !strings.Contains(out, "bogus") {
		t.Errorf("bad flag: status %d, output %q", code, out)
	}
	if code, out := exitCode("--node-name", "n1", "--token", "x", "--data-dir", "/proc/version/nope"); code != 1 || !strings.Contains(out, "data dir") {
		t.Errorf("unusable data dir: status %d, output %q", code, out)
	}

	rt := fakecri.StartForTest(t, fakecri.Config{})
	meta := freeAddr(t)
	cmd := exec.Command(bin, "--node-name", "n1", "--data-dir", t.TempDir(),
		"--token", "0000000000000000000000000000000000000000000000000000000000000000.00000000000000000000000000000000",
		"--cloud", freeAddr(t), "--join", freeAddr(t), "--cri-endpoint", rt.Endpoint(),
		"--metaserver", meta, "--mqtt-listen", freeAddr(t))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	up := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !up; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + meta + "/healthz"); err == nil {
			resp.Body.Close()
			up = resp.StatusCode == http.StatusOK
		}
	}
	if !up {
		cmd.Process.Kill()
		<-done
		t.Fatalf("edge did not serve its MetaServer:\n%s", stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("edge after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("edge did not stop within 30 s of SIGTERM:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "edge stopped") {
		t.Errorf("no clean-stop log line:\n%s", stderr.String())
	}
}
