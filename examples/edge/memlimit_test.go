package main

import (
	"context"
	"math"
	"runtime/debug"
	"testing"
	"time"
)

func TestMemoryGovernorLimit(t *testing.T) {
	g := memoryGovernor{Floor: 16 << 20, Ratio: 2.5}
	for _, c := range []struct {
		live uint64
		want int64
	}{
		{0, 16 << 20},
		{4 << 20, 16 << 20},             // 10 MiB: the floor wins
		{8 << 20, 20 << 20},             // 2.5 × 8 MiB
		{400 << 20, 1000 << 20},         // a big edge: the limit follows its heap
		{math.MaxUint64, math.MaxInt64}, // no overflow
	} {
		if got := g.limit(c.live); got != c.want {
			t.Errorf("limit(%d) = %d, want %d", c.live, got, c.want)
		}
	}
}

// TestMemoryGovernorRun checks that the governor sets a limit of at least its floor while it runs and
// restores the limit it found when its context ends.
func TestMemoryGovernorRun(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	const floor = 1 << 40 // far above any live heap of the test: the limit is the floor
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		memoryGovernor{Floor: floor, Ratio: 2.5, Interval: time.Millisecond}.run(ctx)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for debug.SetMemoryLimit(-1) != floor && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := debug.SetMemoryLimit(-1); got != floor {
		t.Errorf("limit while running = %d, want %d", got, int64(floor))
	}
	cancel()
	<-done
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit after = %d, want the previous %d", got, before)
	}
}
