package beehive

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRestartUnderRepeatedPanicsWithBackoff: a module panics six times, then runs. Each panic is recovered
// and logged with the module's name and stack; restarts come after delays that double from the initial
// backoff up to the cap; the mailbox (and a message in it) survives the restarts.
func TestRestartUnderRepeatedPanicsWithBackoff(t *testing.T) {
	const (
		initial = 10 * time.Millisecond
		max     = 80 * time.Millisecond
		panics  = 6
	)
	var logs syncBuffer
	var mu sync.Mutex
	var events []RestartEvent
	var starts []time.Time
	h := newHive(t, Config{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		OnRestart: func(ev RestartEvent) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		},
	})
	got := make(chan any, 1)
	_ = h.Add(&ModuleFunc{
		ModuleName: "crashy",
		Config:     ModuleConfig{Restart: RestartOnFailure, BackoffInitial: initial, BackoffMax: max},
		Fn: func(ctx context.Context, c *Context) error {
			mu.Lock()
			starts = append(starts, time.Now())
			n := len(starts)
			mu.Unlock()
			if n <= panics {
				panic("crash number " + string(rune('0'+n)))
			}
			m, err := c.Receive(ctx)
			if err != nil {
				return nil
			}
			got <- m.Content
			<-ctx.Done()
			return nil
		},
	})
	a := handle(t, h, "a", "", ModuleConfig{})
	runHive(t, h)
	// Sent while the module is crashing: it must wait in the mailbox.
	if err := get(t, a).Send(context.Background(), "crashy", Message{Content: "kept"}); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-got:
		if v != "kept" {
			t.Fatalf("got %v", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("module never came up after its panics")
	}

	mu.Lock()
	defer mu.Unlock()
	want := []time.Duration{10, 20, 40, 80, 80, 80}
	if len(events) != panics {
		t.Fatalf("%d restart events, want %d", len(events), panics)
	}
	for i, ev := range events {
		if ev.Delay != want[i]*time.Millisecond || ev.Attempt != i+1 || ev.Module != "crashy" {
			t.Errorf("restart %d: %+v, want delay %v attempt %d", i+1, ev, want[i]*time.Millisecond, i+1)
		}
		var pe *PanicError
		if !errors.As(ev.Err, &pe) || pe.Module != "crashy" || len(pe.Stack) == 0 {
			t.Errorf("restart %d: err %v is not a *PanicError with a stack", i+1, ev.Err)
		}
		// The backoff really was waited (a lower bound only: a busy machine may wait longer).
		if gap := starts[i+1].Sub(starts[i]); gap < ev.Delay {
			t.Errorf("restart %d came %v after the crash, before its %v backoff", i+1, gap, ev.Delay)
		}
	}
	if s := statsByName(h)["crashy"]; s.Restarts != panics || !strings.Contains(s.LastError, "crash number") {
		t.Errorf("stats = %+v, want %d restarts and the last panic", s, panics)
	}
	out := logs.String()
	for _, want := range []string{"module panicked", "module=crashy", "crash number 1", "restart_test.go", "goroutine"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

func TestRestartPolicies(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		policy RestartPolicy
		result error
		runs   int // how many times Run is entered within the test window (capped at 3)
	}{
		{RestartOnFailure, boom, 3},
		{RestartOnFailure, nil, 1},
		{RestartAlways, nil, 3},
		{RestartAlways, boom, 3},
		{RestartNever, boom, 1},
		{RestartNever, nil, 1},
	}
	for _, tc := range cases {
		name := tc.policy.String()
		if tc.result != nil {
			name += "/error"
		} else {
			name += "/nil"
		}
		t.Run(name, func(t *testing.T) {
			h := newHive(t, Config{})
			runs := make(chan struct{}, 10)
			_ = h.Add(&ModuleFunc{
				ModuleName: "m",
				Config:     ModuleConfig{Restart: tc.policy, BackoffInitial: time.Millisecond, BackoffMax: 2 * time.Millisecond},
				Fn: func(ctx context.Context, c *Context) error {
					runs <- struct{}{}
					if len(runs) >= 3 {
						<-ctx.Done()
						return nil
					}
					return tc.result
				},
			})
			runHive(t, h)
			deadline := time.After(300 * time.Millisecond)
			n := 0
		loop:
			for n < 3 {
				select {
				case <-runs:
					n++
				case <-deadline:
					break loop
				}
			}
			if n != tc.runs {
				t.Fatalf("Run entered %d times, want %d", n, tc.runs)
			}
			st := statsByName(h)["m"]
			if wantStopped := tc.runs == 1; st.Stopped != wantStopped {
				t.Fatalf("stopped = %v, want %v", st.Stopped, wantStopped)
			}
		})
	}
}

func TestBackoffResetsAfterStableRun(t *testing.T) {
	var mu sync.Mutex
	var delays []time.Duration
	h := newHive(t, Config{OnRestart: func(ev RestartEvent) {
		mu.Lock()
		delays = append(delays, ev.Delay)
		mu.Unlock()
	}})
	runs := 0
	done := make(chan struct{})
	_ = h.Add(&ModuleFunc{
		ModuleName: "m",
		Config:     ModuleConfig{BackoffInitial: time.Millisecond, BackoffMax: 4 * time.Millisecond},
		Fn: func(ctx context.Context, c *Context) error {
			runs++
			switch {
			case runs == 4: // ran stably for longer than BackoffMax before failing
				time.Sleep(10 * time.Millisecond)
			case runs == 6:
				close(done)
				<-ctx.Done()
				return nil
			}
			return errors.New("fail")
		},
	})
	runHive(t, h)
	<-done
	mu.Lock()
	defer mu.Unlock()
	want := []time.Duration{1, 2, 4, 1, 2}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if len(delays) != len(want) {
		t.Fatalf("delays %v, want %v", delays, want)
	}
	for i := range want {
		if delays[i] != want[i] {
			t.Fatalf("delays %v, want %v", delays, want)
		}
	}
}
