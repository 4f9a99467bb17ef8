package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/edgehive/edgehive/hub/certs"
)

// makePKI creates the CA in dir/ca and a certificate per node, issued directly by the authority
// (RenewNodeCert: no join token, to save time), plus the session ticket key dir/ticket.key.
func makePKI(ctx context.Context, dir string, n int) (*tlsCA, error) {
	ca, err := certs.LoadOrCreateCA(filepath.Join(dir, "ca"), certs.CAConfig{})
	if err != nil {
		return nil, err
	}
	auth, err := certs.NewAuthority(certs.AuthorityConfig{CA: ca})
	if err != nil {
		return nil, err
	}
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "ticket.key"), key[:], 0o600); err != nil {
		return nil, err
	}
	out := &tlsCA{pool: ca, certs: make([]tls.Certificate, n)}
	workers := runtime.GOMAXPROCS(0)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n && errs[w] == nil; i += workers {
				k, err := certs.GenerateKey()
				if err != nil {
					errs[w] = err
					return
				}
				csr, err := certs.NewNodeCSR(nodeName(i), k)
				if err != nil {
					errs[w] = err
					return
				}
				nc, err := auth.RenewNodeCert(ctx, nodeName(i), csr)
				if err != nil {
					errs[w] = err
					return
				}
				out.certs[i], errs[w] = certs.NewTLSCertificate(nc.ChainPEM, k)
			}
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func writeStateFile(path string, want []uint64, objects int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return errors.Join(writeState(f, want, objects), f.Close())
}

// cloud is a running cloud child.
type cloud struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	ctl    *control
	addr   string
	waited chan error
}

// startCloud starts the cloud child (listening on addr, or a free port) and waits for "ready".
func startCloud(ctx context.Context, cfg Config, addr, state, cpuprofile string) (*cloud, error) {
	args := []string{"cloud", "--dir", cfg.Dir, "--nodes", strconv.Itoa(cfg.Nodes), "--objects", strconv.Itoa(cfg.Objects),
		"--object-size", strconv.Itoa(cfg.ObjectSize), "--keepalive", cfg.Keepalive.String(), "--session-tickets=" + strconv.FormatBool(cfg.Resume),
		"--max-handshakes", strconv.Itoa(cfg.MaxHandshakes)}
	if addr != "" {
		args = append(args, "--addr", addr)
	}
	if state != "" {
		args = append(args, "--state", state)
	}
	if cpuprofile != "" {
		args = append(args, "--cpuprofile", cpuprofile)
	}
	cmd := exec.Command(cfg.Exe, args...)
	cmd.Env = append(os.Environ(), childEnv+"=cloud")
	cmd.Stderr = cfg.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &cloud{cmd: cmd, stdin: stdin, waited: make(chan error, 1)}
	type ready struct {
		ctl  *control
		addr string
		err  error
	}
	rc := make(chan ready, 1)
	go func() {
		ctl, addr, err := newControl(stdin, stdout)
		rc <- ready{ctl, addr, err}
	}()
	select {
	case r := <-rc:
		if r.err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return nil, r.err
		}
		c.ctl, c.addr = r.ctl, r.addr
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		<-rc
		return nil, ctx.Err()
	}
	go func() { c.waited <- cmd.Wait() }()
	return c, nil
}

// stop ends the child: SIGKILL if kill, else "quit" (then SIGTERM, then SIGKILL if it lingers).
func (c *cloud) stop(ctx context.Context, kill bool) error {
	if kill {
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
	} else {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
	}
	_ = c.stdin.Close()
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	var err error
	select {
	case err = <-c.waited:
	case <-t.C:
		_ = c.cmd.Process.Kill()
		err = fmt.Errorf("cloud child did not stop in 30 s: %w", <-c.waited)
	case <-ctx.Done():
		_ = c.cmd.Process.Kill()
		err = errors.Join(ctx.Err(), <-c.waited)
	}
	<-c.ctl.done
	if kill {
		return nil // "signal: killed" is the point
	}
	return err
}

// waitFor polls cond every 10 ms until it holds, ctx ends or timeout passes; the error names the
// last state.
func waitFor(ctx context.Context, timeout time.Duration, cond func() (bool, string)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %s", timeout, state)
		}
		if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
			return fmt.Errorf("%w: %s", err, state)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// cpuTime is the user + system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fdLimit is the soft RLIMIT_NOFILE of this process.
func fdLimit() int {
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) != nil {
		return 0
	}
	return int(r.Cur)
}

func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}
