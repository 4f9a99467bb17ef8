package broker

import (
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgehive/edgehive/internal/testenv"
)

// BenchmarkThroughput: one publisher, one subscriber, 100-byte payloads, through the embedded broker
// and, for comparison, through mosquitto; messages per second delivered. The publisher keeps at most
// 256 messages published and not yet delivered (a broker does not slow a publisher down for a slow
// subscriber: beyond its queues it drops).
func BenchmarkThroughput(b *testing.B) {
	brokers := []struct {
		name string
		url  func(b *testing.B) string
	}{
		{"embedded", func(b *testing.B) string { return start(b, Config{}).URL() }},
		{"mosquitto", func(b *testing.B) string {
			if testing.Short() {
				b.Skip("mosquitto: -short")
			}
			return testenv.StartMosquitto(b).URL
		}},
	}
	for _, br := range brokers {
		for _, qos := range []byte{0, 1} {
			b.Run(br.name+"/qos"+string('0'+rune(qos)), func(b *testing.B) {
				url := br.url(b)
				credits := make(chan struct{}, 256)
				var n atomic.Int64
				done := make(chan struct{})
				sub := client(b, url, "bench-sub", nil)
				wait(b, sub.Subscribe("bench/#", qos, func(paho.Client, paho.Message) {
					<-credits
					if n.Add(1) == int64(b.N) {
						close(done)
					}
				}))
				pub := client(b, url, "bench-pub", nil)
				payload := make([]byte, 100)
				b.ResetTimer()
				start := time.Now()
				for i := 0; i < b.N; i++ {
					select {
					case credits <- struct{}{}:
					case <-time.After(10 * time.Second):
						b.Fatalf("delivered %d of %d: lost messages", n.Load(), i)
					}
					pub.Publish("bench/x", qos, false, payload)
				}
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					b.Fatalf("delivered %d of %d: lost messages", n.Load(), b.N)
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			})
		}
	}
}
