package broker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgehive/edgehive/eventbus/broker"
)

// The embedded broker on a free loopback port, with a mapper's user allowed in; two MQTT clients talk
// through it.
func Example() {
	b, err := broker.New(broker.Config{
		Listen:       "127.0.0.1:0", // default 127.0.0.1:1883
		Authenticate: broker.AllowList(map[string]string{"mapper": "s3cret"}),
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	if err := b.Start(context.Background()); err != nil {
		panic(err)
	}
	defer b.Close()

	connect := func(id string) paho.Client {
		c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID(id).
			SetUsername("mapper").SetPassword("s3cret"))
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			panic(tok.Error())
		}
		return c
	}
	sub, pub := connect("app"), connect("mapper")
	defer sub.Disconnect(50)
	defer pub.Disconnect(50)
	got := make(chan paho.Message, 1)
	sub.Subscribe("$hw/events/device/+/+/twin/update", 1, func(_ paho.Client, m paho.Message) { got <- m }).Wait()
	pub.Publish("$hw/events/device/default/thermo-1/twin/update", 1, false, `{"event_id":"1"}`).Wait()
	m := <-got
	fmt.Printf("%s %s\n", m.Topic(), m.Payload())
	fmt.Println("clients connected:", b.Stats().ClientsConnected)
	// Output:
	// $hw/events/device/default/thermo-1/twin/update {"event_id":"1"}
	// clients connected: 2
}
