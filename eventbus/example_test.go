package eventbus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/eventbus"
	"github.com/edgehive/edgehive/eventbus/api"
	"github.com/edgehive/edgehive/eventbus/broker"
)

// An edge process in miniature: the embedded broker, the eventbus, and a twin module. A device
// publishes a twin update over MQTT; the bus hands it to the twin module, which answers through the
// bus on the result topic, where the device reads it.
func Example() {
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	// The broker: 127.0.0.1:1883 by default; a free port here.
	b, err := broker.New(broker.Config{Listen: "127.0.0.1:0", Logger: logger})
	if err != nil {
		panic(err)
	}
	if err := b.Start(ctx); err != nil {
		panic(err)
	}
	defer b.Close()

	// The bus connects to it; mosquitto would be BrokerURL: "tcp://host:1883".
	bus, err := eventbus.New(eventbus.Config{BrokerURL: b.URL(), Logger: logger})
	if err != nil {
		panic(err)
	}
	// The twin module (group twin) receives device topics from the bus.
	twin := &beehive.ModuleFunc{ModuleName: "twin", ModuleGroup: beehive.GroupTwin,
		Fn: func(ctx context.Context, c *beehive.Context) error {
			for {
				m, err := c.Receive(ctx)
				if err != nil {
					return nil
				}
				fmt.Printf("twin: %s from %s: %s\n", m.Router.Resource, m.Router.Source, m.Content)
				reply := api.NewPublishMessage(m.Router.Resource+"/result", api.Publish{Payload: []byte(`{"event_id":"1"}`)})
				if _, err := c.SendSync(ctx, api.ModuleName, reply); err != nil {
					return err
				}
			}
		}}
	hive, err := beehive.New(beehive.Config{Logger: logger})
	if err != nil {
		panic(err)
	}
	for _, m := range []beehive.Module{bus, twin} {
		if err := hive.Add(m); err != nil {
			panic(err)
		}
	}
	hiveDone := make(chan error, 1)
	go func() { hiveDone <- hive.Run(ctx) }()
	if err := bus.WaitConnected(ctx); err != nil {
		panic(err)
	}

	// A device (or a KubeEdge mapper) speaks MQTT.
	device := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("thermo-1"))
	if tok := device.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		panic(tok.Error())
	}
	defer device.Disconnect(50)
	const topic = "$hw/events/device/default/thermo-1/twin/update"
	results := make(chan paho.Message, 1)
	device.Subscribe(topic+"/result", 1, func(_ paho.Client, m paho.Message) { results <- m }).Wait()
	device.Publish(topic, 1, false, `{"event_id":"1","twin":{"temperature":{"actual":{"value":"21.5"}}}}`).Wait()

	m := <-results
	fmt.Printf("device: %s: %s\n", m.Topic(), m.Payload())
	stop()
	if err := <-hiveDone; err != nil {
		panic(err)
	}
	// Output:
	// twin: $hw/events/device/default/thermo-1/twin/update from eventbus: {"event_id":"1","twin":{"temperature":{"actual":{"value":"21.5"}}}}
	// device: $hw/events/device/default/thermo-1/twin/update/result: {"event_id":"1"}
}
