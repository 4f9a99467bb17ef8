package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgehive/edgehive/hub/certs"
)

// TestProcess checks the binary's exit statuses and output: 0 for --help, 2 and a message for a bad
// flag, 1 for an unusable data dir, and the token subcommand's token on stdout alone.
func TestProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the command")
	}
	bin := filepath.Join(t.TempDir(), "cloud")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), stdout.String(), stderr.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, stdout.String(), stderr.String()
	}
	if code, _, errOut := run("--help"); code != 0 || !strings.Contains(errOut, "-kubeconfig") {
		t.Errorf("--help: status %d, output %q", code, errOut)
	}
	if code, _, errOut := run("--bogus"); code != 2 || !strings.Contains(errOut, "bogus") {
		t.Errorf("bad flag: status %d, output %q", code, errOut)
	}
	if code, _, errOut := run("token", "--data-dir", "/proc/version/nope"); code != 1 || !strings.Contains(errOut, "data dir") {
		t.Errorf("unusable data dir: status %d, output %q", code, errOut)
	}
	code, out, errOut := run("token", "--data-dir", t.TempDir())
	if code != 0 {
		t.Fatalf("token: status %d: %s", code, errOut)
	}
	if _, err := certs.ParseToken(strings.TrimSuffix(out, "\n")); err != nil {
		t.Errorf("token stdout %q: %v", out, err)
	}
}
