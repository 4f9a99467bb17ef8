package meta_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/internal/sqlitedb"
	"github.com/edgehive/edgehive/meta"
)

// benchPod is a pod of about 1 KiB, the size of a small real pod.
func benchPod(name, rv string) []byte {
	return []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `","namespace":"default","resourceVersion":"` + rv +
		`","labels":{"app":"bench","tier":"edge"}},"spec":{"nodeName":"edge-1","containers":[{"name":"app","image":"registry.example/app:1.2.3",` +
		`"env":[{"name":"A","value":"` + strings.Repeat("a", 600) + `"}],"ports":[{"containerPort":8080}]}]},"status":{"phase":"Running"}}`)
}

func reportRate(b *testing.B, what string, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), what)
}

// BenchmarkPutDurable: one writer, each Put waits for its own durable (synchronous=FULL) commit.
func BenchmarkPutDurable(b *testing.B) {
	s := openStore(b, meta.Config{})
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		if _, err := s.Put(ctx, hub.Key{Namespace: "default", Kind: hub.KindPod, Name: "p" + strconv.Itoa(i%1000)}, strconv.Itoa(i), benchPod("p", "1")); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, "inserts/s", b.N)
}

// BenchmarkPutBatched: 64 concurrent writers; the writer goroutine groups their Puts into transactions.
func BenchmarkPutBatched(b *testing.B) {
	s := openStore(b, meta.Config{})
	ctx := context.Background()
	var seq atomic.Int64
	b.SetParallelism(32) // 32 × GOMAXPROCS writers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			if _, err := s.Put(ctx, hub.Key{Namespace: "default", Kind: hub.KindPod, Name: "p" + strconv.FormatInt(i%5000, 10)}, strconv.FormatInt(i, 10), benchPod("p", "1")); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b, "inserts/s", b.N)
}

// BenchmarkList1000Pods: List of a namespace's 1,000 pods (≈1 KiB each).
func BenchmarkList1000Pods(b *testing.B) {
	s := openStore(b, meta.Config{})
	fill(b, s, 1000)
	ctx := context.Background()
	for b.Loop() {
		res, err := s.List(ctx, meta.ListOptions{Kind: hub.KindPod, Namespace: "default"})
		if err != nil || len(res.Items) != 1000 {
			b.Fatal(len(res.Items), err)
		}
	}
	reportRate(b, "lists/s", b.N)
}

func fill(b *testing.B, s meta.Store, n int) {
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 16 {
				name := fmt.Sprintf("pod-%04d", i)
				if _, err := s.Put(context.Background(), hub.Key{Namespace: "default", Kind: hub.KindPod, Name: name}, "1", benchPod(name, "1")); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkWatchFanout100: each op is one committed Put delivered to 100 watchers; the events/s figure
// counts deliveries (100 per Put).
func BenchmarkWatchFanout100(b *testing.B) {
	const watchers = 100
	s := openStore(b, meta.Config{Synchronous: sqlitedb.SyncNormal} /* measure the fan-out, not fsync */)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got atomic.Int64
	var wg sync.WaitGroup
	for range watchers {
		w, err := s.Watch(ctx, meta.WatchOptions{Kind: hub.KindPod})
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range w.Events() {
				got.Add(1)
			}
			if err := w.Err(); err != nil && err != context.Canceled {
				b.Error(err)
			}
		}()
	}
	var seq atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			if _, err := s.Put(ctx, hub.Key{Namespace: "default", Kind: hub.KindPod, Name: "p" + strconv.FormatInt(i%500, 10)}, strconv.FormatInt(i, 10), benchPod("p", "1")); err != nil {
				b.Error(err)
				return
			}
		}
	})
	want := int64(b.N) * watchers
	deadline := time.Now().Add(30 * time.Second)
	for got.Load() < want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	if got.Load() != want {
		b.Fatalf("delivered %d of %d events", got.Load(), want)
	}
	reportRate(b, "events/s", int(want))
	cancel()
	wg.Wait()
}
