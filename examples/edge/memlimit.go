package main

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Defaults of the memory governor.
const (
	// DefaultMemoryFloor is the lowest soft memory limit the governor sets (16 MiB).
	DefaultMemoryFloor = 16 << 20
	// DefaultMemoryRatio is the limit's ratio to the live heap above the floor. It is above the
	// heap goal of GOGC=100 (twice the live heap) so that the limit never makes the collector run
	// more often than GOGC does; it bounds what the runtime keeps from the OS after a burst.
	DefaultMemoryRatio = 2.5
	// DefaultMemoryInterval is how often the governor reads the live heap.
	DefaultMemoryInterval = 2 * time.Second
)

// memoryGovernor keeps the Go runtime's soft memory limit (debug.SetMemoryLimit) at
// max(Floor, Ratio × live heap). Without a limit the runtime returns memory to the OS slowly, so
// the edge kept the resident memory of its busiest moment (loading 100 pods and 1,000 devices:
// 50 MB resident for a live heap of 6 MiB). A fixed limit would make the collector run without end
// on an edge whose live heap outgrows it; a limit that follows the live heap cannot.
type memoryGovernor struct {
	Floor    int64
	Ratio    float64
	Interval time.Duration
}

// limit returns the soft memory limit for a live heap of live bytes.
func (g memoryGovernor) limit(live uint64) int64 {
	l := g.Ratio * float64(live)
	if l >= math.MaxInt64 {
		return math.MaxInt64
	}
	return max(g.Floor, int64(l))
}

// run sets the limit every Interval until ctx ends, then restores the limit it found.
func (g memoryGovernor) run(ctx context.Context) {
	prev := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(prev)
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	t := time.NewTicker(g.Interval)
	defer t.Stop()
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetMemoryLimit(g.limit(sample[0].Value.Uint64()))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
