package edgeapp

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edgehive/edgehive/edged/fakecri"
	"github.com/edgehive/edgehive/eventbus/broker"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// fakeToken is well-formed; no cloud will ever accept it.
const fakeToken = "0000000000000000000000000000000000000000000000000000000000000000.00000000000000000000000000000000"

func TestBadCommandLines(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want error  // errors.Is
		text string // in the message
	}{
		{"unknown flag", []string{"--nope"}, ErrUsage, "nope"},
		{"extra argument", []string{"--node-name", "n1", "extra"}, ErrUsage, "extra"},
		{"bad node name", []string{"--node-name", "Not_A_Name"}, ErrUsage, "--node-name"},
		{"bad cloud", []string{"--node-name", "n1", "--cloud", "nohost"}, ErrUsage, "--cloud"},
		{"bad mqtt", []string{"--node-name", "n1", "--mqtt", "::"}, ErrUsage, "--mqtt"},
		{"bad node ip", []string{"--node-name", "n1", "--node-ip", "x"}, ErrUsage, "--node-ip"},
		{"bad interval", []string{"--node-name", "n1", "--status-interval", "0s"}, ErrUsage, "--status-interval"},
		{"no token", []string{"--node-name", "n1", "--data-dir", filepath.Join(dir, "d")}, ErrUsage, "--token"},
		{"data dir is a file", []string{"--node-name", "n1", "--token", fakeToken, "--data-dir", file}, nil, "data dir"},
		{"help", []string{"--help"}, flag.ErrHelp, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := Run(t.Context(), c.args, io.Discard, &stderr)
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
	for _, f := range []string{"node-name", "cloud", "join", "token", "data-dir", "cri-endpoint", "mqtt", "mqtt-listen", "metaserver"} {
		if !strings.Contains(stderr.String(), "-"+f+" ") {
			t.Errorf("--help does not explain --%s:\n%s", f, stderr.String())
		}
	}
}

// TestServesWithoutCloud runs the whole edge against the fake CRI runtime with no cloud: the local
// modules must serve at once (MetaServer, embedded MQTT broker) while the join retries in the
// background, and the edge must stop cleanly, leaving no goroutine behind.
func TestServesWithoutCloud(t *testing.T) {
	rt := fakecri.StartForTest(t, fakecri.Config{})
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent()) // the runtime's own goroutines end at cleanup
	meta, mqtt := freeAddr(t), freeAddr(t)
	dir := t.TempDir()
	args := []string{"--node-name", "lonely", "--token", fakeToken, "--data-dir", dir,
		"--cloud", freeAddr(t), "--join", freeAddr(t), "--cri-endpoint", rt.Endpoint(),
		"--metaserver", meta, "--mqtt-listen", mqtt, "--log-level", "debug"}
	ctx, cancel := context.WithCancel(context.Background())
	var logs bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- Run(ctx, args, io.Discard, &syncWriter{w: &logs}) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("edge did not stop within 30 s")
		}
	}()

	deadline := time.Now().Add(10 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = get("http://" + meta + "/api/v1/pods"); err == nil {
			var c net.Conn
			if c, err = net.DialTimeout("tcp", mqtt, time.Second); err == nil {
				c.Close()
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("local services not up: %v", err)
	}
	for _, f := range []string{"meta.db", "twin.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("data dir: %v", err)
		}
	}
}

// TestExternalBroker runs the edge with --mqtt pointing at a broker of its own: the eventbus connects
// there and no embedded broker is started.
func TestExternalBroker(t *testing.T) {
	rt := fakecri.StartForTest(t, fakecri.Config{})
	b, err := broker.New(broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	embedded := freeAddr(t)
	args := []string{"--node-name", "ext", "--token", fakeToken, "--data-dir", t.TempDir(),
		"--cloud", freeAddr(t), "--join", freeAddr(t), "--cri-endpoint", rt.Endpoint(),
		"--metaserver", freeAddr(t), "--mqtt", b.URL(), "--mqtt-listen", embedded}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, args, io.Discard, io.Discard) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for b.Stats().ClientsConnected == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if b.Stats().ClientsConnected == 0 {
		t.Fatal("the eventbus did not connect to the external broker")
	}
	if c, err := net.DialTimeout("tcp", embedded, time.Second); err == nil {
		c.Close()
		t.Error("an embedded broker listens although --mqtt names an external one")
	}
}

func get(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// syncWriter serialises writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
