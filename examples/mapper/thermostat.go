package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Defaults of the thermostat's settings.
const (
	DefaultBroker   = "tcp://127.0.0.1:1883"
	DefaultInterval = 2 * time.Second
	// DefaultTemperature is the room temperature the simulation starts from, in °C.
	DefaultTemperature = 20
)

// Twin names the thermostat reports and obeys.
const (
	TwinTemperature = "temperature" // reported every interval
	TwinTarget      = "target"      // desired setpoint, reported back once applied
)

// Config is the thermostat's settings.
type Config struct {
	// Broker is the MQTT broker URL (default DefaultBroker).
	Broker string
	// Device is the device id, "namespace/name" (KubeEdge 1.16+) or an older single-segment id.
	Device string
	// Interval between temperature reports (default DefaultInterval).
	Interval time.Duration
	// Temperature is the starting temperature (0 means DefaultTemperature).
	Temperature int
	// ClientID is the MQTT client id (default "mapper-" + the device id with '/' as '-').
	ClientID string
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// Validate reports a clear error for settings that cannot work.
func (c Config) Validate() error {
	segs := strings.Split(c.Device, "/")
	if c.Device == "" || len(segs) > 2 || strings.ContainsAny(c.Device, "+#") {
		return fmt.Errorf("device %q: want namespace/name", c.Device)
	}
	for _, s := range segs {
		if s == "" {
			return fmt.Errorf("device %q: empty namespace or name", c.Device)
		}
	}
	if c.Interval < 0 {
		return errors.New("negative interval")
	}
	return nil
}

// Thermostat simulates a thermostat behind a KubeEdge mapper: it speaks only MQTT, on KubeEdge's device
// topics. Every interval its temperature moves one degree toward the target and is reported as the
// "temperature" twin's actual value; a desired "target" from the delta topic (or from twin/get at
// start) becomes the new setpoint and is reported back as "target"'s actual value at once.
type Thermostat struct {
	cfg   Config
	topic string // "$hw/events/device/<id>/"

	mu          sync.Mutex
	temperature int
	target      int
	hasTarget   bool
	seq         int
}

// New returns a thermostat for cfg.
func New(cfg Config) (*Thermostat, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Broker == "" {
		cfg.Broker = DefaultBroker
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Temperature == 0 {
		cfg.Temperature = DefaultTemperature
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "mapper-" + strings.ReplaceAll(cfg.Device, "/", "-")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Thermostat{cfg: cfg, topic: "$hw/events/device/" + cfg.Device + "/", temperature: cfg.Temperature}, nil
}

// State returns the current temperature and target (ok false while no target was received).
func (th *Thermostat) State() (temperature, target int, ok bool) {
	th.mu.Lock()
	defer th.mu.Unlock()
	return th.temperature, th.target, th.hasTarget
}

// KubeEdge's payloads, as much of them as the thermostat uses.
type (
	msgValue struct {
		Value *string `json:"value,omitempty"`
	}
	msgTwin struct {
		Expected *msgValue         `json:"expected,omitempty"`
		Actual   *msgValue         `json:"actual,omitempty"`
		Metadata map[string]string `json:"metadata,omitempty"`
	}
	twinMessage struct {
		EventID   string              `json:"event_id"`
		Timestamp int64               `json:"timestamp"`
		Twin      map[string]*msgTwin `json:"twin,omitempty"`
		Delta     map[string]string   `json:"delta,omitempty"`
		State     string              `json:"state,omitempty"`
		Code      int                 `json:"code,omitempty"`
		Reason    string              `json:"reason,omitempty"`
	}
)

// Run connects to the broker and runs the thermostat until ctx ends; it then reports the device offline
// and disconnects. The MQTT client reconnects by itself while ctx lasts.
func (th *Thermostat) Run(ctx context.Context) error {
	log := th.cfg.Logger.With("device", th.cfg.Device)
	incoming := make(chan paho.Message, 64)
	done := make(chan struct{})
	defer close(done)
	handler := func(_ paho.Client, m paho.Message) {
		select {
		case incoming <- m:
		case <-done:
		}
	}
	var client paho.Client
	opts := paho.NewClientOptions().AddBroker(th.cfg.Broker).SetClientID(th.cfg.ClientID).
		SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).SetMaxReconnectInterval(10 * time.Second).
		SetOrderMatters(false).
		SetConnectionLostHandler(func(_ paho.Client, err error) { log.Warn("broker connection lost", "err", err) }).
		SetOnConnectHandler(func(c paho.Client) {
			log.Info("connected", "broker", th.cfg.Broker)
			c.Subscribe(th.topic+"twin/update/delta", 1, handler)
			c.Subscribe(th.topic+"twin/get/result", 1, handler)
			c.Subscribe(th.topic+"twin/update/result", 1, handler)
			// Ask for the twins (a target set while the mapper was away) and say we are here.
			th.send(c, "twin/get", twinMessage{EventID: th.eventID("get")})
			th.send(c, "state/update", twinMessage{EventID: th.eventID("state"), State: "online"})
		})
	client = paho.NewClient(opts)
	tok := client.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("connect %s: %w", th.cfg.Broker, err)
		}
	case <-ctx.Done():
		client.Disconnect(0)
		return nil
	}
	tick := time.NewTicker(th.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if client.IsConnected() {
				t := th.send(client, "state/update", twinMessage{EventID: th.eventID("state"), State: "offline"})
				t.WaitTimeout(time.Second)
			}
			client.Disconnect(250)
			log.Info("stopped")
			return nil
		case <-tick.C:
			th.step(client, log)
		case m := <-incoming:
			th.receive(client, log, m)
		}
	}
}

func (th *Thermostat) eventID(kind string) string {
	th.mu.Lock()
	defer th.mu.Unlock()
	th.seq++
	return fmt.Sprintf("%s-%s-%d", th.cfg.ClientID, kind, th.seq)
}

func (th *Thermostat) send(c paho.Client, suffix string, m twinMessage) paho.Token {
	m.Timestamp = time.Now().UnixMilli()
	b, _ := json.Marshal(m) // plain structs of strings and maps: cannot fail
	return c.Publish(th.topic+suffix, 1, false, b)
}

func intTwin(v int, expected bool) *msgTwin {
	s := strconv.Itoa(v)
	t := &msgTwin{Metadata: map[string]string{"type": "int"}}
	if expected {
		t.Expected = &msgValue{Value: &s}
	} else {
		t.Actual = &msgValue{Value: &s}
	}
	return t
}

// step moves the temperature one degree toward the target and reports it.
func (th *Thermostat) step(c paho.Client, log *slog.Logger) {
	th.mu.Lock()
	switch {
	case !th.hasTarget:
	case th.temperature < th.target:
		th.temperature++
	case th.temperature > th.target:
		th.temperature--
	}
	temp := th.temperature
	th.mu.Unlock()
	if !c.IsConnected() {
		return
	}
	th.send(c, "twin/update", twinMessage{EventID: th.eventID("report"),
		Twin: map[string]*msgTwin{TwinTemperature: intTwin(temp, false)}})
	log.Debug("reported", "temperature", temp)
}

// receive handles a delta, a get result or an update result.
func (th *Thermostat) receive(c paho.Client, log *slog.Logger, m paho.Message) {
	var msg twinMessage
	if err := json.Unmarshal(m.Payload(), &msg); err != nil {
		log.Warn("bad payload", "topic", m.Topic(), "err", err)
		return
	}
	if msg.Code != 0 {
		log.Warn("edge refused a request", "topic", m.Topic(), "event_id", msg.EventID, "code", msg.Code, "reason", msg.Reason)
		return
	}
	var want string
	switch {
	case strings.HasSuffix(m.Topic(), "/twin/update/delta"):
		want = msg.Delta[TwinTarget]
	case strings.HasSuffix(m.Topic(), "/twin/get/result"):
		if t := msg.Twin[TwinTarget]; t != nil && t.Expected != nil && t.Expected.Value != nil {
			want = *t.Expected.Value
		}
	}
	if want == "" {
		return
	}
	target, err := strconv.Atoi(want)
	if err != nil {
		log.Warn("target is not an integer", "target", want)
		return
	}
	th.mu.Lock()
	changed := !th.hasTarget || th.target != target
	th.target, th.hasTarget = target, true
	th.mu.Unlock()
	// Applied: report it back, so that the twin's reported value equals the desired one.
	th.send(c, "twin/update", twinMessage{EventID: th.eventID("target"),
		Twin: map[string]*msgTwin{TwinTarget: intTwin(target, false)}})
	if changed {
		log.Info("new target", "target", target)
	}
}
