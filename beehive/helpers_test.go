package beehive

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// runHive runs h until the test ends (or stop is called) and fails the test if Run returns an error.
func runHive(t testing.TB, h *Hive) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return 10s after its context ended")
		}
	}
	t.Cleanup(stop)
	return stop
}

// handle is a module that hands its *Context to the test and then parks until the hive stops, so that
// the test goroutine can send and receive as that module.
func handle(t testing.TB, h *Hive, name string, group Group, mc ModuleConfig) <-chan *Context {
	t.Helper()
	ch := make(chan *Context, 1)
	err := h.Add(&ModuleFunc{ModuleName: name, ModuleGroup: group, Config: mc, Fn: func(ctx context.Context, c *Context) error {
		select {
		case ch <- c:
		default:
		}
		<-ctx.Done()
		return nil
	}})
	if err != nil {
		t.Fatalf("Add %s: %v", name, err)
	}
	return ch
}

func get(t testing.TB, ch <-chan *Context) *Context {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("module did not start")
		return nil
	}
}

// echo is a module that answers every sync request with its content.
func echo(name string, group Group) *ModuleFunc {
	return &ModuleFunc{ModuleName: name, ModuleGroup: group, Fn: func(ctx context.Context, c *Context) error {
		for {
			m, err := c.Receive(ctx)
			if err != nil {
				return nil
			}
			if m.Header.Sync {
				_ = c.Respond(m, m.Content)
			}
		}
	}}
}

func newHive(t testing.TB, cfg Config) *Hive {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
