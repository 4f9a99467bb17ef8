package twin

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// The DESIGN.md budgets: ≥ 1,000 acknowledged updates/s one at a time with durability (synchronous=FULL,
// one fsync per commit), ≥ 20,000/s batched. Each benchmark reports updates/s.

const benchTwins = 100 // twins per device, so that updates hit existing rows as well as create them

func benchStore(b *testing.B, cfg Config) *Store {
	b.Helper()
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	for d := range 10 {
		if err := s.PutDevice(context.Background(), Device{Namespace: "bench", Name: "d" + strconv.Itoa(d)}); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func reportRate(b *testing.B, updates int, start time.Time) {
	b.ReportMetric(float64(updates)/time.Since(start).Seconds(), "updates/s")
}

// BenchmarkSetReportedDurable: one SetReported per transaction, synchronous=FULL.
func BenchmarkSetReportedDurable(b *testing.B) {
	benchOneAtATime(b, Config{})
}

// BenchmarkSetReportedNormal: the same with synchronous=NORMAL (survives a crash, not a power loss).
func BenchmarkSetReportedNormal(b *testing.B) {
	benchOneAtATime(b, Config{Durability: DurabilityNormal})
}

func benchOneAtATime(b *testing.B, cfg Config) {
	s := benchStore(b, cfg)
	ctx := context.Background()
	b.ReportAllocs()
	start := time.Now()
	i := 0
	for b.Loop() {
		dev := "bench/d" + strconv.Itoa(i%10)
		tw := "t" + strconv.Itoa(i%benchTwins)
		if _, err := s.SetReported(ctx, dev, tw, strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportRate(b, i, start)
}

// BenchmarkUpdateBatch100Durable: Update with 100 changes (10 devices × 10 twins) per transaction,
// synchronous=FULL. One op is one batch.
func BenchmarkUpdateBatch100Durable(b *testing.B) {
	benchBatch(b, Config{}, 100)
}

// BenchmarkUpdateBatch1000Durable: 1,000 changes per transaction.
func BenchmarkUpdateBatch1000Durable(b *testing.B) {
	benchBatch(b, Config{}, 1000)
}

func benchBatch(b *testing.B, cfg Config, size int) {
	s := benchStore(b, cfg)
	ctx := context.Background()
	batch := make([]Change, size)
	b.ReportAllocs()
	start := time.Now()
	n := 0
	for b.Loop() {
		for j := range batch {
			k := n + j
			batch[j] = Change{DeviceID: "bench/d" + strconv.Itoa(k%10), Twin: "t" + strconv.Itoa((k/10)%benchTwins),
				Update: Update{Source: FromDevice, Value: strconv.Itoa(k)}}
		}
		if _, err := s.Update(ctx, batch); err != nil {
			b.Fatal(err)
		}
		n += size
	}
	reportRate(b, n, start)
}

// BenchmarkSetReportedParallel: several goroutines, one update per transaction each (writes serialize).
func BenchmarkSetReportedParallel(b *testing.B) {
	s := benchStore(b, Config{})
	ctx := context.Background()
	start := time.Now()
	var g atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		dev := fmt.Sprintf("bench/d%d", g.Add(1)%10)
		i := 0
		for pb.Next() {
			if _, err := s.SetReported(ctx, dev, "t"+strconv.Itoa(i%benchTwins), strconv.Itoa(i)); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	reportRate(b, b.N, start)
}

// BenchmarkApply: the pure rule, for reference.
func BenchmarkApply(b *testing.B) {
	t := Twin{Name: "t", Type: "int"}
	b.ReportAllocs()
	for b.Loop() {
		t, _, _ = Apply(t, Update{Source: FromDevice, Value: "42", Timestamp: 1})
	}
}
