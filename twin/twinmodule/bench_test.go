package twinmodule

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgehive/edgehive/twin"
)

// latencies collects update → result round trips by event id.
type latencies struct {
	mu    sync.Mutex
	sent  map[string]time.Time
	got   []time.Duration
	done  chan struct{}
	want  int
	codes int
}

func (l *latencies) reset(want int) {
	l.mu.Lock()
	l.sent, l.got, l.want, l.done = map[string]time.Time{}, l.got[:0], want, make(chan struct{})
	l.mu.Unlock()
}

func (l *latencies) start(id string) {
	l.mu.Lock()
	l.sent[id] = time.Now()
	l.mu.Unlock()
}

func (l *latencies) result(_ paho.Client, m paho.Message) {
	now := time.Now()
	var r twin.TwinResult
	if json.Unmarshal(m.Payload(), &r) != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t0, ok := l.sent[r.EventID]
	if !ok {
		return
	}
	delete(l.sent, r.EventID)
	if r.Code != 0 {
		l.codes++
	}
	l.got = append(l.got, now.Sub(t0))
	if len(l.got) == l.want {
		close(l.done)
	}
}

func (l *latencies) wait(b *testing.B) {
	select {
	case <-l.done:
	case <-time.After(30 * time.Second):
		b.Fatalf("%d of %d results", len(l.got), l.want)
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// benchEdge starts the module on the embedded broker with n devices, and an MQTT client that receives
// the update results only.
func benchEdge(b *testing.B, n int, durability twin.Durability) (*harness, paho.Client, *latencies) {
	h := newHarness(b, embeddedURL(b), func(c *Config) { c.RetryInterval, c.CoalesceDelay = time.Hour, DefaultCoalesceDelay }, twin.Config{Durability: durability})
	ctx := context.Background()
	for i := range n {
		if err := h.store.PutDevice(ctx, twin.Device{Namespace: "default", Name: fmt.Sprintf("d%d", i),
			Twins: []twin.Twin{{Name: "temperature", Type: "int"}}}); err != nil {
			b.Fatal(err)
		}
	}
	h.client.Disconnect(0) // only the results client below listens
	l := &latencies{}
	opts := paho.NewClientOptions().AddBroker(h.url).SetClientID("bench-" + b.Name()).SetOrderMatters(false)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	b.Cleanup(func() { c.Disconnect(50) })
	if tok := c.Subscribe("$hw/events/device/+/+/twin/update/result", 1, l.result); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	return h, c, l
}

func updatePayload(id, value string) []byte {
	return fmt.Appendf(nil, `{"event_id":%q,"twin":{"temperature":{"actual":{"value":%q}}}}`, id, value)
}

// BenchmarkUpdateLatency: one device, one update at a time: MQTT publish → …/twin/update/result, with
// the store's default durability (an fsync per commit) and with DurabilityNormal.
func BenchmarkUpdateLatency(b *testing.B) {
	b.Run("durable", func(b *testing.B) { benchLatency(b, twin.DurabilityFull) })
	b.Run("normal", func(b *testing.B) { benchLatency(b, twin.DurabilityNormal) })
}

func benchLatency(b *testing.B, durability twin.Durability) {
	_, c, l := benchEdge(b, 1, durability)
	all := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprintf("e%d", i)
		l.reset(1)
		l.start(id)
		c.Publish("$hw/events/device/default/d0/twin/update", 1, false, updatePayload(id, fmt.Sprint(i%100)))
		l.wait(b)
		all = append(all, l.got...)
	}
	b.StopTimer()
	b.ReportMetric(float64(percentile(all, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(all, 0.99).Microseconds())/1000, "p99-ms")
}

// BenchmarkBurst1000: 1,000 devices each publish one update at once; each op is the whole burst. The
// module applies the updates queued in its mailbox in one transaction each run.
func BenchmarkBurst1000(b *testing.B) {
	b.Run("durable", func(b *testing.B) { benchBurst(b, twin.DurabilityFull) })
	b.Run("normal", func(b *testing.B) { benchBurst(b, twin.DurabilityNormal) })
}

func benchBurst(b *testing.B, durability twin.Durability) {
	const n = 1000
	_, c, l := benchEdge(b, n, durability)
	var all []time.Duration
	b.ResetTimer()
	for i := range b.N {
		l.reset(n)
		for d := range n {
			id := fmt.Sprintf("e%d-%d", i, d)
			l.start(id)
			c.Publish(fmt.Sprintf("$hw/events/device/default/d%d/twin/update", d), 1, false, updatePayload(id, fmt.Sprint(i%100)))
		}
		l.wait(b)
		all = append(all, l.got...)
	}
	b.StopTimer()
	if l.codes > 0 {
		b.Fatalf("%d error results", l.codes)
	}
	b.ReportMetric(float64(percentile(all, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(all, 0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "updates/s")
}
