package edged_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/edged"
	"github.com/edgehive/edgehive/edged/cri"
	"github.com/edgehive/edgehive/edged/fakecri"
)

// startRecorder records, per pod name, when the fake runtime received its first StartContainer.
type startRecorder struct {
	mu      sync.Mutex
	started map[string]time.Time
	want    int
	all     chan struct{}
}

func newStartRecorder(b *testing.B, rt *fakecri.Runtime) *startRecorder {
	r := &startRecorder{started: map[string]time.Time{}, all: make(chan struct{}, 1)}
	if err := rt.SetHook("StartContainer", func(_ context.Context, call fakecri.Call) error {
		now := time.Now()
		r.mu.Lock()
		if _, ok := r.started[call.Pod]; !ok {
			r.started[call.Pod] = now
			if len(r.started) == r.want {
				r.all <- struct{}{}
			}
		}
		r.mu.Unlock()
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	return r
}

// expect clears the records and arms the signal for n starts.
func (r *startRecorder) expect(n int) {
	r.mu.Lock()
	clear(r.started)
	r.want = n
	r.mu.Unlock()
}

func (r *startRecorder) wait(b *testing.B, timeout time.Duration) {
	select {
	case <-r.all:
	case <-time.After(timeout):
		b.Fatal("pods did not start")
	}
}

// podMessage is a pod insert as the module receives it.
func podMessage(env runtimeEnv, ns, name string) beehive.Message {
	p := newPod(env, ns, name, sh("main", "exec sleep 3600"))
	body, _ := json.Marshal(p)
	return beehive.Message{Router: beehive.Router{Operation: beehive.OpInsert,
		Resource: edged.ResourceKey(p.Namespace, edged.ResourcePod, p.Name)}, Content: body}
}

// cpuTime is the process's user+system CPU time so far: a measure that other processes on the machine
// disturb less than latency.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// benchConfig is the manager's configuration in the benchmarks: defaults but for the data dir.
func benchConfig(b *testing.B) edged.Config {
	return edged.Config{DataDir: b.TempDir(), NodeName: "edge-1", NodeIP: "127.0.0.1",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// removeAll deletes the named pods and waits until the runtime holds nothing.
func removeAll(b *testing.B, m *edged.Manager, rt *fakecri.Runtime, ns string, names []string) {
	for _, name := range names {
		m.DeletePod(ns, name)
	}
	for deadline := time.Now().Add(30 * time.Second); len(rt.Sandboxes(fakecri.Match{})) > 0; {
		if time.Now().After(deadline) {
			b.Fatal("pods not removed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkPodStart100 measures, on the fake runtime, the latency from a pod message (JSON, applied as
// the module applies it) to the runtime's StartContainer for that pod, with 100 pods sent at once.
// Each iteration sends 100 new pods, waits until all have started, then deletes them (untimed).
// cpu-ms/pod is the process's CPU time (edged and the in-process fake runtime) per pod start, rpcs/pod
// the CRI calls the runtime served meanwhile per pod (those before each StartContainer, and some after).
func BenchmarkPodStart100(b *testing.B) {
	const pods = 100
	rt := startFake(b)
	rec := newStartRecorder(b, rt)
	env := fakeEnv(rt)
	m := startBenchManager(b, env, benchConfig(b))

	var lat []time.Duration
	var cpu time.Duration
	calls := 0
	b.ResetTimer()
	for i := range b.N {
		msgs := make([]beehive.Message, pods)
		names := make([]string, pods)
		for j := range msgs {
			names[j] = fmt.Sprintf("p-%d-%d", i, j)
			msgs[j] = podMessage(env, "bench", names[j])
		}
		rec.expect(pods)
		sent := make(map[string]time.Time, pods)
		c0, n0 := cpuTime(), totalCalls(rt)
		for j, msg := range msgs {
			sent[names[j]] = time.Now()
			if err := edged.Apply(m, msg); err != nil {
				b.Fatal(err)
			}
		}
		rec.wait(b, 30*time.Second)
		b.StopTimer()
		cpu += cpuTime() - c0
		calls += totalCalls(rt) - n0
		rec.mu.Lock()
		for name, at := range rec.started {
			lat = append(lat, at.Sub(sent[name]))
		}
		rec.mu.Unlock()
		removeAll(b, m, rt, "bench", names)
		b.StartTimer()
	}
	b.StopTimer()
	reportPercentiles(b, lat)
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N*pods), "cpu-ms/pod")
	b.ReportMetric(float64(calls)/float64(b.N*pods), "rpcs/pod")
}

// totalCalls is the number of CRI calls the fake runtime served so far.
func totalCalls(rt *fakecri.Runtime) int {
	n := 0
	for _, c := range rt.CallCounts() {
		n += c
	}
	return n
}

// BenchmarkPodStartTrickle measures the same latency for single pods arriving steadily, 20 per second
// (one per iteration: run it with -benchtime 100x or more). The pods keep running until the end, so
// the later ones start beside up to b.N running pods that resync.
func BenchmarkPodStartTrickle(b *testing.B) {
	const every = 50 * time.Millisecond // 20 pods/s
	rt := startFake(b)
	rec := newStartRecorder(b, rt)
	env := fakeEnv(rt)
	m := startBenchManager(b, env, benchConfig(b))
	rec.expect(b.N)

	names := make([]string, b.N)
	sent := make(map[string]time.Time, b.N)
	tick := time.NewTicker(every)
	defer tick.Stop()
	b.ResetTimer()
	for i := range b.N {
		names[i] = fmt.Sprintf("t-%d", i)
		msg := podMessage(env, "trickle", names[i])
		<-tick.C
		sent[names[i]] = time.Now()
		if err := edged.Apply(m, msg); err != nil {
			b.Fatal(err)
		}
	}
	rec.wait(b, 30*time.Second)
	b.StopTimer()
	var lat []time.Duration
	rec.mu.Lock()
	for name, at := range rec.started {
		lat = append(lat, at.Sub(sent[name]))
	}
	rec.mu.Unlock()
	reportPercentiles(b, lat)
	removeAll(b, m, rt, "trickle", names)
}

// BenchmarkManagerMemory100 runs the manager with 100 running pods on the fake runtime (default
// settings: resync every DefaultResyncInterval) and reports, after a GC, what the pods added to the
// heap in use (and live heap) and to goroutine stacks, per pod and in total (heap in use + stacks), and
// the goroutines of the process. The
// figures include the in-process fake runtime's records of the pods (small: no processes), and are
// taken against the same process with the manager running and no pods, after one pod was started and
// removed (one-time costs such as type caches are left out).
func BenchmarkManagerMemory100(b *testing.B) {
	const pods = 100
	for range b.N {
		b.StopTimer()
		rt := startFake(b)
		rec := newStartRecorder(b, rt)
		env := fakeEnv(rt)
		cfg := benchConfig(b)
		ctx, cancel := context.WithCancel(context.Background())
		m, stop := runBenchManager(b, ctx, env, cfg)
		// One pod started and removed first, so that one-time costs (JSON and protobuf type caches,
		// connection buffers) are not counted per pod.
		rec.expect(1)
		if err := edged.Apply(m, podMessage(env, "mem", "warm-up")); err != nil {
			b.Fatal(err)
		}
		rec.wait(b, 30*time.Second)
		removeAll(b, m, rt, "mem", []string{"warm-up"})
		m.TakeStatuses()
		m.TakeDeleted()
		rt.ResetCalls() // the fake's call log is not the manager's
		before := memNow()
		b.StartTimer()

		rec.expect(pods)
		for j := range pods {
			if err := edged.Apply(m, podMessage(env, "mem", fmt.Sprintf("m-%d", j))); err != nil {
				b.Fatal(err)
			}
		}
		rec.wait(b, 30*time.Second)
		// Every pod Running in its status, then two resyncs so that steady state is reached.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			n := 0
			for j := range pods {
				if st, ok := m.PodStatus("mem", fmt.Sprintf("m-%d", j)); ok && st.Status.Phase == corev1.PodRunning {
					n++
				}
			}
			if n == pods {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d pods running", n, pods)
			}
		}
		m.TakeStatuses()
		time.Sleep(2*edged.DefaultResyncInterval + 100*time.Millisecond)
		b.StopTimer()
		rt.ResetCalls()
		after := memNow()
		heap := float64(after.heap) - float64(before.heap)
		live := float64(after.live) - float64(before.live)
		b.ReportMetric(live/pods, "live-B/pod")
		stack := float64(after.stack) - float64(before.stack)
		b.ReportMetric(heap/pods, "heap-B/pod")
		b.ReportMetric(stack/pods, "stack-B/pod")
		b.ReportMetric((heap+stack)/1024, "total-KiB")
		b.ReportMetric(float64(after.goroutines-before.goroutines)/pods, "goroutines/pod")
		b.ReportMetric(float64(after.goroutines), "goroutines")
		cancel()
		stop()
	}
}

// memSample: heap in use (HeapInuse: spans holding objects), live heap (HeapAlloc after GC: the
// objects themselves), goroutine stacks (StackInuse) and goroutines.
type memSample struct {
	heap, live, stack uint64
	goroutines        int
}

func memNow() memSample {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{heap: ms.HeapInuse, live: ms.HeapAlloc, stack: ms.StackInuse, goroutines: runtime.NumGoroutine()}
}

// startBenchManager is startManager for benchmarks.
func startBenchManager(b *testing.B, env runtimeEnv, cfg edged.Config) *edged.Manager {
	ctx, cancel := context.WithCancel(context.Background())
	m, stop := runBenchManager(b, ctx, env, cfg)
	b.Cleanup(func() { cancel(); stop() })
	return m
}

// runBenchManager dials env and runs a manager until ctx ends; stop waits for it and closes the client.
func runBenchManager(b *testing.B, ctx context.Context, env runtimeEnv, cfg edged.Config) (*edged.Manager, func()) {
	dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rt, err := cri.Dial(dctx, cri.Config{Endpoint: env.endpoint})
	if err != nil {
		b.Fatal(err)
	}
	m, err := edged.NewManager(cfg, rt)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Run(ctx) }()
	return m, func() { <-done; _ = rt.Close() }
}
