package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
)

// Session lets a main program use the harness (the quickstart starts the same components the tests
// do). It implements TB: Fatal and Skip stop the function that RunSession runs, with an error that
// carries the message; cleanups run, last registered first, when that function returns.
type Session struct {
	ctx context.Context
	dir string
	log io.Writer

	mu       sync.Mutex
	cleanups []func()
	failed   bool
	temps    int
}

// errSessionStop is the panic value that Fatal and Skip use to unwind to RunSession.
type errSessionStop struct{ msg string }

// RunSession runs fn with a Session whose temporary directories live under dir and whose log lines go
// to log. It returns fn's error, or the message of a Fatal or Skip (a missing component), after running
// every cleanup.
func RunSession(ctx context.Context, dir string, log io.Writer, fn func(s *Session) error) (err error) {
	s := &Session{ctx: ctx, dir: dir, log: log}
	defer func() {
		s.runCleanups()
		if v := recover(); v != nil {
			stop, ok := v.(errSessionStop)
			if !ok {
				panic(v)
			}
			err = errors.New(stop.msg)
		}
	}()
	return fn(s)
}

func (s *Session) runCleanups() {
	for {
		s.mu.Lock()
		n := len(s.cleanups)
		if n == 0 {
			s.mu.Unlock()
			return
		}
		f := s.cleanups[n-1]
		s.cleanups = s.cleanups[:n-1]
		s.mu.Unlock()
		f()
	}
}

// Helper implements TB.
func (s *Session) Helper() {}

// Cleanup implements TB.
func (s *Session) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

// Context implements TB: the context RunSession was given.
func (s *Session) Context() context.Context { return s.ctx }

// Errorf implements TB: it logs and marks the session failed.
func (s *Session) Errorf(format string, args ...any) {
	s.mu.Lock()
	s.failed = true
	s.mu.Unlock()
	s.Logf("error: "+format, args...)
}

// Fatal implements TB.
func (s *Session) Fatal(args ...any) { s.stop(fmt.Sprint(args...)) }

// Fatalf implements TB.
func (s *Session) Fatalf(format string, args ...any) { s.stop(fmt.Sprintf(format, args...)) }

// Skip implements TB: for a main, a missing component is an error.
func (s *Session) Skip(args ...any) { s.stop(fmt.Sprint(args...)) }

func (s *Session) stop(msg string) {
	s.mu.Lock()
	s.failed = true
	s.mu.Unlock()
	panic(errSessionStop{msg: msg})
}

// Failed implements TB.
func (s *Session) Failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// Logf implements TB.
func (s *Session) Logf(format string, args ...any) {
	fmt.Fprintf(s.log, format+"\n", args...)
}

// TempDir implements TB: a new, empty directory under the session's directory (never one a previous
// session left), kept after the session so that its logs can be read.
func (s *Session) TempDir() string {
	s.mu.Lock()
	s.temps++
	n := s.temps
	s.mu.Unlock()
	d, err := os.MkdirTemp(s.dir, "tmp"+strconv.Itoa(n)+"-")
	if err != nil {
		s.Fatalf("session dir: %v", err)
	}
	return d
}

var _ TB = (*Session)(nil)
