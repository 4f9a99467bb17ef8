package testenv

import (
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// TestMosquittoSmoke: a publish/subscribe round trip through a real mosquitto, at QoS 1.
func TestMosquittoSmoke(t *testing.T) {
	start := time.Now()
	m := StartMosquitto(t)
	t.Logf("mosquitto ready on %s in %v", m.Addr, time.Since(start))

	connect := func(id string) mqtt.Client {
		opts := mqtt.NewClientOptions().AddBroker(m.URL).SetClientID(id).SetConnectTimeout(5 * time.Second)
		c := mqtt.NewClient(opts)
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("%s: connect: %v", id, tok.Error())
		}
		t.Cleanup(func() { c.Disconnect(100) })
		return c
	}
	sub, pub := connect("smoke-sub"), connect("smoke-pub")
	const topic = "$hw/events/device/default/thermo-1/twin/update"
	got := make(chan string, 10)
	if tok := sub.Subscribe(topic, 1, func(_ mqtt.Client, msg mqtt.Message) {
		got <- fmt.Sprintf("%s %s", msg.Topic(), msg.Payload())
	}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	sent := time.Now()
	payload := `{"event_id":"smoke","timestamp":1,"twin":{"temperature":{"actual":{"value":"21"}}}}`
	if tok := pub.Publish(topic, 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	select {
	case s := <-got:
		if want := topic + " " + payload; s != want {
			t.Fatalf("received %q, want %q", s, want)
		}
		t.Logf("MQTT QoS 1 round trip through mosquitto in %v", time.Since(sent))
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
	}
}
