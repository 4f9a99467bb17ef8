package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the cloud child when the harness re-executes the test binary (childEnv set, first
// argument "cloud"); otherwise the tests, checking that none leaks a goroutine.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "cloud" && len(os.Args) > 1 && os.Args[1] == "cloud" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(exitCode(err, os.Stderr))
	}
	goleak.VerifyTestMain(m)
}
