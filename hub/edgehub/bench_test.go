package edgehub_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/cloudhub"
	"github.com/edgehive/edgehive/hub/edgehub"
	"github.com/edgehive/edgehive/hub/internal/hubtest"
)

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// BenchmarkEdgeHubs runs N full edge hubs (EDGEHIVE_BENCH_EDGES, default 200), each in its own hive with
// a fake meta module and a SQLite outbox, connected over mTLS on loopback to one cloud hub; it reports
// the memory per edge (hive, edge hub, outbox, connection, both ends), then streams downstream updates
// at 2,000/s across the nodes and reports delivery latency p50/p99 from the cloud hub's mailbox to the
// edge's meta module (SendSync included).
func BenchmarkEdgeHubs(b *testing.B) {
	n := 200
	if v, err := strconv.Atoi(os.Getenv("EDGEHIVE_BENCH_EDGES")); err == nil && v > 0 {
		n = v
	}
	const rate = 2000
	ctx := context.Background()
	pki := hubtest.NewPKI(b)
	cloud := hubtest.StartCloud(b, pki, cloudhub.Config{})
	var (
		mu  sync.Mutex
		lat []time.Duration
	)
	onApply := func(m beehive.Message) {
		d := time.Duration(time.Now().UnixNano() - m.Header.Timestamp)
		mu.Lock()
		lat = append(lat, d)
		mu.Unlock()
	}
	confs := make([]edgehub.Config, n)
	for i := range n {
		confs[i] = hubtest.EdgeConfig(b, edgehub.Config{URL: cloud.URL, TLS: pki.NodeTLS(b, hub.NodeName("edge-"+strconv.Itoa(i))), BackoffInitial: time.Second, BackoffMax: 5 * time.Second})
	}
	before := heapInUse()
	start := time.Now()
	edges := make([]*hubtest.Edge, n)
	for i := range n {
		meta := hubtest.NewMeta()
		meta.Quiet, meta.OnApply = true, onApply
		edges[i] = hubtest.StartEdge(b, confs[i], meta)
	}
	hubtest.Wait(b, 2*time.Minute, "all connected", func() error {
		if c := cloud.Hub.Stats().ConnectedNodes; c != n {
			return fmt.Errorf("%d of %d connected", c, n)
		}
		return nil
	})
	connTime := time.Since(start)
	after := heapInUse()

	b.ResetTimer()
	b.ReportMetric(float64(after-before)/float64(n), "bytes/edge")
	b.ReportMetric(float64(connTime.Milliseconds()), "ms-to-connect-all")
	const perTick = rate / 100
	tick := time.NewTicker(10 * time.Millisecond)
	start = time.Now()
	for i := range b.N {
		if i%perTick == 0 {
			<-tick.C
		}
		node := hub.NodeName("edge-" + strconv.Itoa(i%n))
		if err := cloud.Send(ctx, node, hub.OpUpdate, hubtest.PodKey(i/n), strconv.Itoa(i), []byte(`{"kind":"Pod"}`)); err != nil {
			b.Fatal(err)
		}
	}
	tick.Stop()
	hubtest.Wait(b, time.Minute, "all acknowledged", func() error {
		if p := cloud.Hub.Stats().PendingFrames; p != 0 {
			return fmt.Errorf("%d pending", p)
		}
		return nil
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	mu.Lock()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	mu.Unlock()
	for _, e := range edges {
		e.Hive.Stop()
	}
	cloud.Hive.Stop()
}
