package cloudapp

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgehive/edgehive/hub/certs"
)

func TestBadCommandLines(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want error
		text string
	}{
		{"unknown flag", []string{"--nope"}, ErrUsage, "nope"},
		{"unknown subcommand", []string{"tokens"}, ErrUsage, "tokens"},
		{"bad listen", []string{"--listen", "nohost"}, ErrUsage, "--listen"},
		{"bad join listen", []string{"--join-listen", "x"}, ErrUsage, "--join-listen"},
		{"empty data dir", []string{"--data-dir", ""}, ErrUsage, "--data-dir"},
		{"bad ttl", []string{"token", "--data-dir", dir, "--ttl", "-1s"}, ErrUsage, "--ttl"},
		{"data dir is a file", []string{"token", "--data-dir", file}, nil, "data dir"},
		{"bad kubeconfig", []string{"--data-dir", filepath.Join(dir, "c"), "--listen", "127.0.0.1:0",
			"--kubeconfig", filepath.Join(dir, "missing")}, nil, "kubeconfig"},
		{"help", []string{"--help"}, flag.ErrHelp, ""},
		{"token help", []string{"token", "--help"}, flag.ErrHelp, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Run(t.Context(), c.args, io.Discard, io.Discard)
			if err == nil {
				t.Fatal("no error")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.text) {
				t.Fatalf("err = %v, want it to name %q", err, c.text)
			}
		})
	}
}

func TestHelpExplainsEveryFlag(t *testing.T) {
	var stderr bytes.Buffer
	if err := Run(t.Context(), []string{"--help"}, io.Discard, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	for _, f := range []string{"kubeconfig", "listen", "join-listen", "data-dir", "token"} {
		if !strings.Contains(stderr.String(), f) {
			t.Errorf("--help does not explain %s:\n%s", f, stderr.String())
		}
	}
}

// TestToken checks the token subcommand: a token on stdout for the data dir's CA, recorded (hashed)
// in a 0600 file that another Authority over the same data dir accepts.
func TestToken(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := Run(t.Context(), []string{"token", "--data-dir", dir}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSpace(out.String())
	tok, err := certs.ParseToken(s)
	if err != nil {
		t.Fatalf("stdout %q: %v", s, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("tokens.json mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(filepath.Join(dir, "tokens.json"))
	if strings.Contains(string(b), tok.Secret) {
		t.Error("tokens.json holds the secret in clear")
	}
	auth, err := openAuthority(t.Context(), config{DataDir: dir, TokenTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.CheckToken(t.Context(), s); err != nil {
		t.Fatalf("the cloud does not accept the printed token: %v", err)
	}
	if err := auth.DeleteToken(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.CheckToken(t.Context(), s); !errors.Is(err, certs.ErrTokenUnknown) {
		t.Fatalf("deleted token: err = %v, want ErrTokenUnknown", err)
	}
}

// TestCorruptTokenFile: a tokens.json that does not decode stops the cloud with a clear error and is
// left as it was.
func TestCorruptTokenFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens.json")
	if err := os.WriteFile(path, []byte("[{\"secretHash\": \"oops"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Run(t.Context(), []string{"token", "--data-dir", dir}, io.Discard, io.Discard)
	if !errors.Is(err, certs.ErrTokenFileCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("token with a corrupt tokens.json: %v, want ErrTokenFileCorrupt naming the file", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "[{\"secretHash\": \"oops" {
		t.Fatalf("tokens.json changed to %q", b)
	}
}
