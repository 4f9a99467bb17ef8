package eventbus

import (
	"context"
	"slices"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/eventbus/api"
)

// benchBridge runs the embedded broker, the bus and a twin module that forwards what it receives to
// the returned channel; it returns a connected device client too.
func benchBridge(b *testing.B) (paho.Client, <-chan beehive.Message, *beehive.Context, *Bus) {
	env := embeddedEnv(b).URL
	got := make(chan beehive.Message, 4096)
	handle := make(chan *beehive.Context, 1)
	twin := &beehive.ModuleFunc{ModuleName: "twin", ModuleGroup: beehive.GroupTwin, Config: beehive.ModuleConfig{MailboxSize: 4096},
		Fn: func(ctx context.Context, c *beehive.Context) error {
			handle <- c
			for {
				m, err := c.Receive(ctx)
				if err != nil {
					return nil
				}
				got <- m
			}
		}}
	bus, err := New(Config{BrokerURL: env, ClientID: "bench-bus", Logger: quiet(), MailboxSize: 4096})
	if err != nil {
		b.Fatal(err)
	}
	hive, err := beehive.New(beehive.Config{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range []beehive.Module{bus, twin} {
		if err := hive.Add(m); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hive.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(ctx, waitFor)
	defer wcancel()
	if err := bus.WaitConnected(wctx); err != nil {
		b.Fatal(err)
	}
	device := paho.NewClient(paho.NewClientOptions().AddBroker(env).SetClientID("bench-device"))
	if tok := device.Connect(); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	b.Cleanup(func() { device.Disconnect(50) })
	return device, got, <-handle, bus
}

// reportLatency reports the p50, p99 and max of lat in microseconds.
func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Nanoseconds())/1e3, "max-µs")
}

// BenchmarkDeviceToModule: a device publishes a twin update (QoS 1) on the embedded broker; the time
// until the twin module has it from its mailbox, one message at a time.
func BenchmarkDeviceToModule(b *testing.B) {
	device, got, _, _ := benchBridge(b)
	const topic = "$hw/events/device/default/thermo-1/twin/update"
	payload := []byte(`{"event_id":"123","timestamp":1700000000000,"twin":{"temperature":{"actual":{"value":"21.5"}}}}`)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		tok := device.Publish(topic, 1, false, payload)
		<-got
		lat = append(lat, time.Since(start))
		tok.Wait()
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// BenchmarkDeviceToModuleThroughput: a device publishes twin updates (QoS 1) with at most 256 on their
// way to the twin module at once; messages per second reaching the module.
func BenchmarkDeviceToModuleThroughput(b *testing.B) {
	device, got, _, _ := benchBridge(b)
	const topic = "$hw/events/device/default/thermo-1/twin/update"
	payload := []byte(`{"event_id":"123","twin":{"temperature":{"actual":{"value":"21.5"}}}}`)
	credits := make(chan struct{}, 256)
	recv := make(chan struct{})
	go func() {
		for range b.N {
			<-got
			<-credits
		}
		close(recv)
	}()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		credits <- struct{}{}
		device.Publish(topic, 1, false, payload)
	}
	select {
	case <-recv:
	case <-time.After(waitFor):
		b.Fatal("messages lost")
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkModuleToMQTT: a module publishes with SendSync (QoS 1, answered on the broker's PUBACK)
// and an MQTT client receives it; the time until the client has it.
func BenchmarkModuleToMQTT(b *testing.B) {
	device, _, app, bus := benchBridge(b)
	const topic = "$hw/events/device/default/thermo-1/twin/update/result"
	got := make(chan struct{}, 16)
	if tok := device.Subscribe(topic, 1, func(paho.Client, paho.Message) { got <- struct{}{} }); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	m := api.NewPublishMessage(topic, api.Publish{Payload: []byte(`{"event_id":"123"}`)})
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := app.SendSync(ctx, bus.Name(), m); err != nil {
			b.Fatal(err)
		}
		<-got
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportLatency(b, lat)
}
