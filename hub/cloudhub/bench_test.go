package cloudhub_test

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

	"github.com/gorilla/websocket"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/cloudhub"
	"github.com/edgehive/edgehive/hub/internal/hubtest"
	"github.com/edgehive/edgehive/hub/internal/link"
)

// benchNodes is the number of connected nodes (EDGEHIVE_BENCH_NODES, default 1,000).
func benchNodes() int {
	if n, err := strconv.Atoi(os.Getenv("EDGEHIVE_BENCH_NODES")); err == nil && n > 0 {
		return n
	}
	return 1000
}

// lightEdge is a minimal edge on the link protocol: it answers pings, acks object frames and records
// each frame's delivery latency. It stands in for an edge hub so that the benchmark measures the cloud.
type lightEdge struct {
	conn *link.Conn
	done chan struct{}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// BenchmarkCloudHub connects N nodes over mTLS WebSockets on loopback to one cloud hub, reports the
// memory per connection (cloud and the light edges together), then streams downstream updates at a
// fixed rate (2,000/s) across the nodes and reports the delivery latency p50/p99 (cloud mailbox → edge
// receipt) and the acknowledgement round trip.
func BenchmarkCloudHub(b *testing.B) {
	n := benchNodes()
	const rate = 2000
	ctx := context.Background()
	pki := hubtest.NewPKI(b)
	cloud := hubtest.StartCloud(b, pki, cloudhub.Config{KeepaliveInterval: 15 * time.Second})

	var (
		mu  sync.Mutex
		lat []time.Duration
	)
	var ctr link.Counters
	ids := link.NewIDs()
	confs := make([]func() *websocket.Dialer, n)
	for i := range n {
		c := pki.NodeTLS(b, hub.NodeName("edge-"+strconv.Itoa(i)))
		confs[i] = func() *websocket.Dialer {
			return &websocket.Dialer{TLSClientConfig: c, HandshakeTimeout: 30 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 4096}
		}
	}
	before := heapInUse()
	edges := make([]*lightEdge, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	connStart := time.Now()
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ws, _, err := confs[i]().Dial(cloud.URL, nil)
			if err != nil {
				b.Error(err)
				return
			}
			conn := link.New(ws, link.Config{Interval: 15 * time.Second, WriteTimeout: 10 * time.Second, MaxFrameSize: 1 << 20, QueueSize: 16, Source: "bench"}, ids, &ctr)
			e := &lightEdge{conn: conn, done: make(chan struct{})}
			edges[i] = e
			go func() {
				defer close(e.done)
				_ = conn.Run(ctx, func(f *hub.Frame) error {
					if !hub.IsWrite(f.Router.Operation) {
						return nil
					}
					d := time.Duration(time.Now().UnixNano() - f.Header.Timestamp)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
					ack := hub.Frame{Header: beehive.Header{ParentID: f.Header.ID}, Router: beehive.Router{Operation: hub.OpAck, Resource: f.Router.Resource}, Seq: f.Seq}
					return conn.Send(ctx, &ack)
				})
			}()
			rs := hub.Frame{Header: beehive.Header{Sync: true}, Router: beehive.Router{Operation: hub.OpResync}, Content: []byte{1, 0}}
			_ = conn.Send(ctx, &rs)
		}()
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	hubtest.Wait(b, time.Minute, "all connected", func() error {
		if c := cloud.Hub.Stats().ConnectedNodes; c != n {
			return fmt.Errorf("%d of %d connected", c, n)
		}
		return nil
	})
	connTime := time.Since(connStart)
	after := heapInUse()

	b.ResetTimer()
	b.ReportMetric(float64(after-before)/float64(n), "bytes/conn")
	b.ReportMetric(float64(connTime.Milliseconds()), "ms-to-connect-all")
	b.ReportMetric(float64(n), "nodes")
	total := b.N
	const perTick = rate / 100 // a batch every 10 ms
	tick := time.NewTicker(10 * time.Millisecond)
	start := time.Now()
	for i := range total {
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
	elapsed := time.Since(start)
	mu.Lock()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	mu.Unlock()
	b.ReportMetric(float64(total)/elapsed.Seconds(), "msgs/s")
	for _, e := range edges {
		e.conn.Close()
		<-e.done
	}
	cloud.Hive.Stop()
}
