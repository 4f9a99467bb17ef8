package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Mosquitto is a mosquitto broker started for one test.
type Mosquitto struct {
	// Addr is host:port of the plain MQTT listener on 127.0.0.1.
	Addr string
	// URL is Addr as a broker URL for paho: tcp://127.0.0.1:PORT.
	URL  string
	Proc *Process
}

// StartMosquitto starts mosquitto on a free port of 127.0.0.1 with anonymous access (tests only) and no
// persistence, and stops it when the test ends. apt installs mosquitto without starting it (there is no
// systemd here), so the harness always runs its own.
func StartMosquitto(t TB) *Mosquitto {
	t.Helper()
	bin := LookPath(t, "mosquitto", "/usr/sbin")
	dir := t.TempDir()
	port := FreePort(t)
	conf := filepath.Join(dir, "mosquitto.conf")
	cfg := fmt.Sprintf(`# written by internal/testenv for one test
listener %d 127.0.0.1
allow_anonymous true
persistence false
log_dest stderr
log_type error
log_type warning
log_type notice
max_queued_messages 100000
`, port)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := StartProcess(t, dir, "mosquitto", bin, "-c", conf)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := Eventually(ctx, 10*time.Second, 20*time.Millisecond, func(ctx context.Context) error {
		if err := p.CheckAlive(); err != nil {
			return err
		}
		return WaitTCP(ctx, addr, 50*time.Millisecond)
	})
	if err != nil {
		t.Fatalf("mosquitto did not start: %v\n%s", err, p.Tail(20))
	}
	return &Mosquitto{Addr: addr, URL: "tcp://" + addr, Proc: p}
}
