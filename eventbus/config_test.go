package eventbus

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/eventbus/api"
	"github.com/edgehive/edgehive/eventbus/broker"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"mosquitto", Config{BrokerURL: "tcp://192.168.1.10:1883"}, true},
		{"tls", Config{BrokerURL: "ssl://broker:8883"}, true},
		{"websocket", Config{BrokerURL: "ws://broker:9001/mqtt"}, true},
		{"bad scheme", Config{BrokerURL: "http://broker"}, false},
		{"no host", Config{BrokerURL: "tcp://"}, false},
		{"unparsable", Config{BrokerURL: "tcp://[::1"}, false},
		{"qos 2", Config{QoS: api.QoS2}, true},
		{"bad qos", Config{QoS: 7}, false},
		{"twin module", Config{Twin: api.Target{Module: "devicetwin"}}, true},
		{"twin both", Config{Twin: api.Target{Module: "a", Group: "b"}}, false},
		{"hub is the bus", Config{Hub: api.Target{Module: api.ModuleName}}, false},
		{"bad device filter", Config{DeviceTopics: []string{"a/#/b"}}, false},
		{"bad hub filter", Config{HubTopics: []string{""}}, false},
		{"route", Config{Routes: []Route{{Filter: "app/+/cmd", Target: api.Target{Module: "app"}}}}, true},
		{"route without target", Config{Routes: []Route{{Filter: "app/#"}}}, false},
		{"route to the bus", Config{Name: "bus", Routes: []Route{{Filter: "x", Target: api.Target{Module: "bus"}}}}, false},
		{"negative timeout", Config{PublishTimeout: -time.Second}, false},
		{"short keepalive", Config{KeepAlive: time.Millisecond}, false},
		{"reconnect min > max", Config{ReconnectMin: time.Minute, ReconnectMax: time.Second}, false},
		{"only reconnect min", Config{ReconnectMin: time.Minute}, true},
		{"negative deliver timeout: never wait", Config{DeliverTimeout: -1}, true},
		{"huge payload", Config{MaxPayloadSize: 1 << 30}, false},
		{"negative inflight", Config{MaxInflight: -1}, false},
		{"negative mailbox", Config{MailboxSize: -1}, false},
	}
	for _, tc := range tests {
		err := tc.cfg.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v is not ErrInvalidConfig", tc.name, err)
		}
		if _, err := New(tc.cfg); (err == nil) != tc.ok {
			t.Errorf("%s: New() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	if DefaultBrokerURL != "tcp://"+broker.DefaultListen {
		t.Errorf("DefaultBrokerURL %s is not the embedded broker's default %s", DefaultBrokerURL, broker.DefaultListen)
	}
	b, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := b.cfg
	if c.Name != api.ModuleName || b.Name() != "eventbus" || b.Group() != beehive.GroupBus || c.ClientID != DefaultClientID ||
		c.QoS != api.QoS1 || c.Twin != (api.Target{Group: beehive.GroupTwin}) || c.Hub != (api.Target{Group: beehive.GroupHub}) ||
		c.ReconnectMin != DefaultReconnectMin || c.ReconnectMax != DefaultReconnectMax || c.MaxPayloadSize != DefaultMaxPayloadSize ||
		b.ModuleConfig().MailboxSize != DefaultMailboxSize || b.BrokerURL() != DefaultBrokerURL {
		t.Errorf("defaults: %+v", c)
	}
	want := append(api.DeviceFilters(), api.HubFilters()...)
	slices.Sort(want)
	if got := b.Subscriptions(); !slices.Equal(got, want) {
		t.Errorf("subscriptions %v, want %v", got, want)
	}
	// A reconnect minimum above the default maximum raises the maximum with it.
	b, _ = New(Config{ReconnectMin: time.Minute})
	if b.cfg.ReconnectMax != time.Minute {
		t.Errorf("ReconnectMax %v", b.cfg.ReconnectMax)
	}
}

func TestDecodePublish(t *testing.T) {
	b, err := New(Config{QoS: api.QoS2, MaxPayloadSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	msg := func(topic string, content any) beehive.Message {
		return beehive.Message{Router: beehive.Router{Operation: api.OpPublish, Resource: topic}, Content: content}
	}
	tests := []struct {
		name string
		m    beehive.Message
		want pub
		err  error
	}{
		{"bytes", msg("a/b", []byte("x")), pub{topic: "a/b", payload: []byte("x"), qos: 2}, nil},
		{"string", msg("a/b", "x"), pub{topic: "a/b", payload: []byte("x"), qos: 2}, nil},
		{"nil", msg("a/b", nil), pub{topic: "a/b", qos: 2}, nil},
		{"publish", msg("a/b", api.Publish{Payload: []byte("x"), QoS: api.QoS0, Retain: true}), pub{topic: "a/b", payload: []byte("x"), qos: 0, retain: true}, nil},
		{"publish default qos", msg("a/b", &api.Publish{Payload: []byte("x")}), pub{topic: "a/b", payload: []byte("x"), qos: 2}, nil},
		{"nil *Publish", msg("a/b", (*api.Publish)(nil)), pub{topic: "a/b", qos: 2}, nil},
		{"wildcard", msg("a/#", "x"), pub{}, api.ErrInvalidTopic},
		{"int", msg("a/b", 1), pub{}, api.ErrBadContent},
		{"bad qos", msg("a/b", api.Publish{QoS: 4}), pub{}, api.ErrBadContent},
		{"too large", msg("a/b", "123456789"), pub{}, api.ErrPayloadTooLarge},
	}
	for _, tc := range tests {
		got, err := b.decodePublish(tc.m)
		if !errors.Is(err, tc.err) || (err == nil && !(got.topic == tc.want.topic && string(got.payload) == string(tc.want.payload) &&
			got.qos == tc.want.qos && got.retain == tc.want.retain)) {
			t.Errorf("%s: decodePublish = %+v, %v; want %+v, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}

func TestSubscriptionRequest(t *testing.T) {
	b, _ := New(Config{})
	req := func(op beehive.Operation, filter string, content any) beehive.Message {
		return beehive.Message{Router: beehive.Router{Source: "app", Operation: op, Resource: filter}, Content: content}
	}
	o, err := b.subscription(req(api.OpSubscribe, "a/+", nil))
	if err != nil || o.target != (api.Target{Module: "app"}) || o.unsubscribe || o.filter != "a/+" {
		t.Errorf("subscribe for the requester: %+v, %v", o, err)
	}
	o, err = b.subscription(req(api.OpUnsubscribe, "a/#", &api.Subscription{Target: api.Target{Group: beehive.GroupHub}}))
	if err != nil || o.target != (api.Target{Group: beehive.GroupHub}) || !o.unsubscribe {
		t.Errorf("unsubscribe for a group: %+v, %v", o, err)
	}
	for _, bad := range []beehive.Message{
		req(api.OpSubscribe, "a/#/b", nil),
		req(api.OpSubscribe, "a", "not a Subscription"),
		req(api.OpSubscribe, "a", api.Subscription{Target: api.Target{Module: "x", Group: "y"}}),
		req(api.OpSubscribe, "a", api.Subscription{Target: api.Target{Module: "eventbus"}}),
	} {
		if _, err := b.subscription(bad); err == nil {
			t.Errorf("subscription(%+v) accepted", bad)
		}
	}
}
