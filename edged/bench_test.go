package edged_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/edged"
	"github.com/edgehive/edgehive/edged/cri"
	"github.com/edgehive/edgehive/edged/fakecri"
)

// BenchmarkPodStart100 measures, on the fake runtime, the latency from a pod message (JSON, applied as
// the module applies it) to the runtime's StartContainer for that pod, with 100 pods sent at once.
// Each iteration sends 100 new pods, waits until all have started, then deletes them (untimed).
func BenchmarkPodStart100(b *testing.B) {
	const pods = 100
	rt := startFake(b)
	var mu sync.Mutex
	started := map[string]time.Time{}
	allStarted := make(chan struct{}, 1)
	if err := rt.SetHook("StartContainer", func(_ context.Context, call fakecri.Call) error {
		now := time.Now()
		mu.Lock()
		if _, ok := started[call.Pod]; !ok {
			started[call.Pod] = now
			if len(started) == pods {
				allStarted <- struct{}{}
			}
		}
		mu.Unlock()
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	env := fakeEnv(rt)
	cfg := edged.Config{DataDir: b.TempDir(), NodeName: "edge-1", NodeIP: "127.0.0.1", ResyncInterval: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	m := startBenchManager(b, env, cfg)

	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		msgs := make([]beehive.Message, pods)
		for j := range msgs {
			p := newPod(env, "bench", fmt.Sprintf("p-%d-%d", i, j), sh("main", "exec sleep 3600"))
			body, _ := json.Marshal(p)
			msgs[j] = beehive.Message{Router: beehive.Router{Operation: beehive.OpInsert,
				Resource: edged.ResourceKey(p.Namespace, edged.ResourcePod, p.Name)}, Content: body}
		}
		mu.Lock()
		clear(started)
		mu.Unlock()
		sent := make(map[string]time.Time, pods)
		for _, msg := range msgs {
			_, _, name, _ := edged.ParseResourceKey(msg.Router.Resource)
			sent[name] = time.Now()
			if err := edged.Apply(m, msg); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-allStarted:
		case <-time.After(30 * time.Second):
			b.Fatal("pods did not start")
		}
		b.StopTimer()
		mu.Lock()
		for name, at := range started {
			lat = append(lat, at.Sub(sent[name]))
		}
		mu.Unlock()
		for _, msg := range msgs {
			_, _, name, _ := edged.ParseResourceKey(msg.Router.Resource)
			m.DeletePod("bench", name)
		}
		for deadline := time.Now().Add(30 * time.Second); len(rt.Sandboxes(fakecri.Match{})) > 0; {
			if time.Now().After(deadline) {
				b.Fatal("pods not removed")
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.StartTimer()
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// startBenchManager is startManager for benchmarks.
func startBenchManager(b *testing.B, env runtimeEnv, cfg edged.Config) *edged.Manager {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rt, err := cri.Dial(ctx, cri.Config{Endpoint: env.endpoint})
	if err != nil {
		b.Fatal(err)
	}
	m, err := edged.NewManager(cfg, rt)
	if err != nil {
		b.Fatal(err)
	}
	runCtx, runCancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Run(runCtx) }()
	b.Cleanup(func() { runCancel(); <-done; _ = rt.Close() })
	return m
}
