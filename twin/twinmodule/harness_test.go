package twinmodule

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/goleak"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/eventbus"
	"github.com/edgehive/edgehive/eventbus/broker"
	"github.com/edgehive/edgehive/internal/testenv"
	"github.com/edgehive/edgehive/twin"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const waitFor = 10 * time.Second

// quiet is the tests' logger; TWINMODULE_DEBUG=1 shows the modules' logs.
func quiet() *slog.Logger {
	if os.Getenv("TWINMODULE_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// embeddedURL starts the embedded broker on a free port for the test.
func embeddedURL(t testing.TB) string {
	b, err := broker.New(broker.Config{Listen: "127.0.0.1:0", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b.URL()
}

func mosquittoURL(t testing.TB) string { return testenv.StartMosquitto(t).URL }

// harness is a hive with the eventbus, the twin module and a stand-in "edgehub" that records what the
// twin module sends it and answers as the edge hub does (accepting unless told to refuse); plus an MQTT
// client playing the mapper.
type harness struct {
	t      testing.TB
	url    string
	store  *twin.Store
	mod    *Module
	hub    *beehive.Context // the stand-in edge hub's handle, to send cloud messages from the test
	refuse atomic.Bool      // the stand-in refuses device statuses
	status chan beehive.Message

	client paho.Client
	mu     sync.Mutex
	inbox  map[string]chan paho.Message // topic → messages received
}

// newHarness starts the hive on the broker at url. The store is DurabilityNormal unless storeCfg is
// given.
func newHarness(t testing.TB, url string, tune func(*Config), storeCfg ...twin.Config) *harness {
	t.Helper()
	scfg := twin.Config{Durability: twin.DurabilityNormal}
	if len(storeCfg) > 0 {
		scfg = storeCfg[0]
	}
	store, err := twin.Open(context.Background(), filepath.Join(t.TempDir(), "twin.db"), scfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, url: url, store: store, status: make(chan beehive.Message, 10000),
		inbox: map[string]chan paho.Message{}}
	cfg := Config{Store: store, NodeName: "edge-1", Logger: quiet(), RetryInterval: time.Minute, CoalesceDelay: time.Millisecond}
	if tune != nil {
		tune(&cfg)
	}
	mod, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.mod = mod
	id := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	bus, err := eventbus.New(eventbus.Config{BrokerURL: url, ClientID: "bus-" + id, Logger: quiet(),
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond, AcceptNonJSON: true,
		MailboxSize: 8192})
	if err != nil {
		t.Fatal(err)
	}
	hive, err := beehive.New(beehive.Config{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	hubCtx := make(chan *beehive.Context, 1)
	standIn := &beehive.ModuleFunc{ModuleName: DefaultEdgeHub, ModuleGroup: beehive.GroupHub,
		Fn: func(ctx context.Context, c *beehive.Context) error {
			hubCtx <- c
			for {
				m, err := c.Receive(ctx)
				if err != nil {
					return nil
				}
				if h.refuse.Load() {
					_ = c.RespondError(m, errors.New("stand-in: outbox unavailable"))
					continue
				}
				h.status <- m
				_ = c.Respond(m, nil)
			}
		}}
	for _, m := range []beehive.Module{bus, mod, standIn} {
		if err := hive.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hive.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hive.Run: %v", err)
		}
		if err := store.Close(); err != nil {
			t.Errorf("store.Close: %v", err)
		}
	})
	h.hub = <-hubCtx
	wctx, wcancel := context.WithTimeout(ctx, waitFor)
	defer wcancel()
	if err := bus.WaitConnected(wctx); err != nil {
		t.Fatalf("bus did not connect to %s: %v", url, err)
	}
	h.client = h.connect("mapper-" + id)
	return h
}

// connect connects an MQTT client that files every message it receives by topic.
func (h *harness) connect(id string) paho.Client {
	h.t.Helper()
	opts := paho.NewClientOptions().AddBroker(h.url).SetClientID(id).SetConnectTimeout(5 * time.Second).
		SetAutoReconnect(false).SetOrderMatters(true)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		h.t.Fatalf("%s: connect: %v", id, tok.Error())
	}
	h.t.Cleanup(func() { c.Disconnect(50) })
	for _, f := range []string{"$hw/events/device/#", "$hw/events/node/#"} {
		tok := c.Subscribe(f, 1, func(_ paho.Client, m paho.Message) {
			select {
			case h.box(m.Topic()) <- m:
			default: // a benchmark floods the topics; tests read far less than the capacity
			}
		})
		if !tok.WaitTimeout(waitFor) || tok.Error() != nil {
			h.t.Fatalf("subscribe %s: %v", f, tok.Error())
		}
	}
	return c
}

func (h *harness) box(topic string) chan paho.Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch, ok := h.inbox[topic]
	if !ok {
		ch = make(chan paho.Message, 10000)
		h.inbox[topic] = ch
	}
	return ch
}

// publish publishes a payload (a string, []byte or a value to marshal) at QoS 1.
func (h *harness) publish(topic string, payload any) {
	h.t.Helper()
	if _, ok := payload.(string); !ok {
		if _, ok := payload.([]byte); !ok {
			b, err := json.Marshal(payload)
			if err != nil {
				h.t.Fatal(err)
			}
			payload = b
		}
	}
	tok := h.client.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		h.t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// await returns the next message on topic whose payload decodes into v and satisfies ok (nil: any).
func await[T any](h *harness, topic string, ok func(*T) bool) *T {
	h.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case m := <-h.box(topic):
			v := new(T)
			if err := json.Unmarshal(m.Payload(), v); err != nil {
				h.t.Fatalf("%s: %v: %s", topic, err, m.Payload())
			}
			if ok == nil || ok(v) {
				return v
			}
		case <-deadline:
			h.t.Fatalf("nothing (matching) on %s within %v; module stats %+v", topic, waitFor, h.mod.Stats())
			return nil
		}
	}
}

// cloud sends a cloud message from the stand-in edge hub to the twin module and waits for its answer.
func (h *harness) cloud(op beehive.Operation, resource string, content any) error {
	h.t.Helper()
	var b []byte
	switch v := content.(type) {
	case nil:
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			h.t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	resp, err := h.hub.SendSync(ctx, DefaultName, h.hub.NewMessage(beehive.GroupTwin, op, resource, b))
	if err != nil {
		return err
	}
	return resp.Err()
}

// awaitStatus returns the next devicestatus for resource that satisfies ok.
func (h *harness) awaitStatus(resource string, ok func(*DeviceStatusMsg) bool) *DeviceStatusMsg {
	h.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case m := <-h.status:
			if m.Router.Resource != resource {
				continue
			}
			if m.Router.Operation != beehive.OpUpdate {
				h.t.Fatalf("devicestatus operation %q", m.Router.Operation)
			}
			var st DeviceStatusMsg
			if err := json.Unmarshal(m.Content.([]byte), &st); err != nil {
				h.t.Fatalf("devicestatus content: %v", err)
			}
			if ok == nil || ok(&st) {
				return &st
			}
		case <-deadline:
			h.t.Fatalf("no matching devicestatus for %s within %v; stats %+v", resource, waitFor, h.mod.Stats())
			return nil
		}
	}
}

// DeviceStatusMsg is the devicestatus content as a test reads it back (field names as KubeEdge's).
type DeviceStatusMsg struct {
	Twins []struct {
		PropertyName string `json:"propertyName"`
		Reported     struct {
			Value    string            `json:"value"`
			Metadata map[string]string `json:"metadata"`
		} `json:"reported"`
		ObservedDesired struct {
			Value    string            `json:"value"`
			Metadata map[string]string `json:"metadata"`
		} `json:"observedDesired"`
	} `json:"twins"`
	State string `json:"state"`
}

func (s *DeviceStatusMsg) reported(name string) (string, string, bool) {
	for _, t := range s.Twins {
		if t.PropertyName == name {
			return t.Reported.Value, t.ObservedDesired.Value, true
		}
	}
	return "", "", false
}

// deviceJSON is a devices.kubeedge.io/v1beta1 Device as the cloud sends it.
func deviceJSON(ns, name, node string, gen int64, desired map[string]string, props ...string) map[string]any {
	var properties []map[string]any
	for _, p := range props {
		prop := map[string]any{"name": p}
		if v, ok := desired[p]; ok {
			prop["desired"] = map[string]any{"value": v, "metadata": map[string]string{"type": "int"}}
		}
		properties = append(properties, prop)
	}
	return map[string]any{
		"apiVersion": "devices.kubeedge.io/v1beta1", "kind": "Device",
		"metadata": map[string]any{"name": name, "namespace": ns, "generation": gen},
		"spec":     map[string]any{"nodeName": node, "deviceModelRef": map[string]string{"name": "thermostat-model"}, "properties": properties},
	}
}
