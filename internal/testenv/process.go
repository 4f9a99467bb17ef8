package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Process is a component started for one test. Its output goes to a log file in the test's temp dir; the
// last lines are printed when the test fails. It is stopped (SIGTERM, then SIGKILL after a grace period)
// by the test's cleanup.
type Process struct {
	Name    string
	Cmd     *exec.Cmd
	LogPath string

	exited chan struct{}
	err    error
}

// StartProcess starts bin with args, logging to <dir>/<name>.log, and stops it when the test ends.
func StartProcess(t TB, dir, name, bin string, args ...string) *Process {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("%s: log file: %v", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Dir = dir
	// Own process group so that a stop also reaches children (containerd's shims are reparented anyway).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("%s: start %s: %v", name, bin, err)
	}
	p := &Process{Name: name, Cmd: cmd, LogPath: logPath, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.Stop(10 * time.Second)
		if t.Failed() {
			t.Logf("%s log (last lines of %s):\n%s", name, logPath, p.Tail(40))
		}
	})
	return p
}

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err is the exit error, valid after Exited is closed.
func (p *Process) Err() error { <-p.exited; return p.err }

// Stop sends SIGTERM and waits up to grace, then SIGKILLs the process group. It is safe to call twice.
func (p *Process) Stop(grace time.Duration) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	}
}

// Tail returns the last n lines of the process's log.
func (p *Process) Tail(n int) string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// ErrExited reports that a component exited while the harness waited for it to become ready.
var ErrExited = errors.New("testenv: process exited")

// CheckAlive returns ErrExited (with the log tail) if the process has already exited.
func (p *Process) CheckAlive() error {
	select {
	case <-p.exited:
		return fmt.Errorf("%w: %s: %v\n%s", ErrExited, p.Name, p.err, p.Tail(30))
	default:
		return nil
	}
}
