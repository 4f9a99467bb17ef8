package eventbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/goleak"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/eventbus/api"
	"github.com/edgehive/edgehive/eventbus/broker"
	"github.com/edgehive/edgehive/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// quiet is the logger of the tests; EVENTBUS_DEBUG=1 shows the bus's and brokers' logs.
func quiet() *slog.Logger {
	if os.Getenv("EVENTBUS_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// brokerEnv is a broker the bridge suite runs against: the embedded one or a real mosquitto. Stop and
// Start restart it on the same address, losing its sessions (neither keeps state across a restart).
type brokerEnv struct {
	URL   string
	Stop  func(t testing.TB)
	Start func(t testing.TB)
}

func embeddedEnv(t testing.TB) *brokerEnv {
	start := func(t testing.TB, listen string) *broker.Broker {
		b, err := broker.New(broker.Config{Listen: listen, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := start(t, "127.0.0.1:0")
	addr := b.Addr()
	t.Cleanup(func() { _ = b.Close() })
	return &brokerEnv{
		URL:  b.URL(),
		Stop: func(testing.TB) { _ = b.Close() },
		Start: func(t testing.TB) {
			b = start(t, addr)
		},
	}
}

func mosquittoEnv(t testing.TB) *brokerEnv {
	m := testenv.StartMosquitto(t)
	proc := m.Proc
	return &brokerEnv{
		URL:  m.URL,
		Stop: func(testing.TB) { proc.Stop(5 * time.Second) },
		Start: func(t testing.TB) {
			proc = startMosquittoOn(t, m.Addr)
		},
	}
}

// startMosquittoOn starts mosquitto again on addr (the port of a stopped one), with the harness's
// settings: anonymous, no persistence.
func startMosquittoOn(t testing.TB, addr string) *testenv.Process {
	t.Helper()
	bin := testenv.LookPath(t, "mosquitto", "/usr/sbin")
	_, port, _ := strings.Cut(addr, ":")
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	cfg := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n", port)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testenv.StartProcess(t, dir, "mosquitto", bin, "-c", conf)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := testenv.Eventually(ctx, 10*time.Second, 20*time.Millisecond, func(ctx context.Context) error {
		if err := p.CheckAlive(); err != nil {
			return err
		}
		return testenv.WaitTCP(ctx, addr, 50*time.Millisecond)
	})
	if err != nil {
		t.Fatalf("mosquitto did not restart on %s: %v\n%s", addr, err, p.Tail(20))
	}
	return p
}

// harness is a hive with the bus and three recording modules: "twin" (group twin), "edgehub" (group
// hub) and "app" (group user), plus an MQTT client playing the devices.
type harness struct {
	t      *testing.T
	env    *brokerEnv
	bus    *Bus
	app    *beehive.Context // the app module's handle, for requests from the test goroutine
	twin   chan beehive.Message
	hub    chan beehive.Message
	appIn  chan beehive.Message
	device paho.Client
}

const waitFor = 10 * time.Second

func newHarness(t *testing.T, env *brokerEnv, tune func(*Config)) *harness {
	t.Helper()
	cfg := Config{
		BrokerURL:      env.URL,
		ClientID:       "bus-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()),
		ReconnectMin:   20 * time.Millisecond,
		ReconnectMax:   200 * time.Millisecond,
		ConnectTimeout: 2 * time.Second,
		Logger:         quiet(),
	}
	if tune != nil {
		tune(&cfg)
	}
	bus, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, env: env, bus: bus,
		twin: make(chan beehive.Message, 1000), hub: make(chan beehive.Message, 1000), appIn: make(chan beehive.Message, 1000)}
	hive, err := beehive.New(beehive.Config{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	appCtx := make(chan *beehive.Context, 1)
	recorder := func(name string, group beehive.Group, ch chan beehive.Message, handle chan *beehive.Context) beehive.Module {
		return &beehive.ModuleFunc{ModuleName: name, ModuleGroup: group, Fn: func(ctx context.Context, c *beehive.Context) error {
			if handle != nil {
				handle <- c
			}
			for {
				m, err := c.Receive(ctx)
				if err != nil {
					return nil
				}
				ch <- m
			}
		}}
	}
	for _, m := range []beehive.Module{bus,
		recorder("twin", beehive.GroupTwin, h.twin, nil),
		recorder("edgehub", beehive.GroupHub, h.hub, nil),
		recorder("app", beehive.GroupUser, h.appIn, appCtx)} {
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
	})
	h.app = <-appCtx
	wctx, wcancel := context.WithTimeout(ctx, waitFor)
	defer wcancel()
	if err := bus.WaitConnected(wctx); err != nil {
		t.Fatalf("bus did not connect to %s: %v (stats %+v)", env.URL, err, bus.Stats())
	}
	h.device = h.client("device-" + cfg.ClientID)
	return h
}

// client connects an MQTT client to the broker for the rest of the test.
func (h *harness) client(id string) paho.Client {
	h.t.Helper()
	opts := paho.NewClientOptions().AddBroker(h.env.URL).SetClientID(id).
		SetConnectTimeout(5 * time.Second).SetAutoReconnect(false)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		h.t.Fatalf("%s: connect: %v", id, tok.Error())
	}
	h.t.Cleanup(func() { c.Disconnect(50) })
	return c
}

func (h *harness) publish(c paho.Client, topic string, qos byte, payload any) {
	h.t.Helper()
	tok := c.Publish(topic, qos, false, payload)
	if !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		h.t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// subscribe subscribes c to filter and returns the channel of what arrives.
func (h *harness) subscribe(c paho.Client, filter string) <-chan paho.Message {
	h.t.Helper()
	ch := make(chan paho.Message, 100)
	tok := c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) { ch <- m })
	if !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		h.t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	return ch
}

// request sends m from the app module with SendSync and returns the error of the response.
func (h *harness) request(m beehive.Message) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err := h.app.SendSync(ctx, h.bus.Name(), m)
	return err
}

func (h *harness) send(m beehive.Message) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := h.app.Send(ctx, h.bus.Name(), m); err != nil {
		h.t.Fatal(err)
	}
}

// expect waits for a message from the bus on ch with the given topic and payload.
func (h *harness) expect(ch <-chan beehive.Message, who, topic, payload string) beehive.Message {
	h.t.Helper()
	select {
	case m := <-ch:
		got, ok := m.Content.([]byte)
		if !ok || m.Router.Resource != topic || string(got) != payload {
			h.t.Fatalf("%s received %s %q (%T), want %s %q", who, m.Router.Resource, m.Content, m.Content, topic, payload)
		}
		if m.Router.Source != h.bus.Name() || m.Router.Operation != api.OpPublish || m.Router.Group != beehive.GroupBus {
			h.t.Fatalf("%s received router %+v", who, m.Router)
		}
		return m
	case <-time.After(waitFor):
		h.t.Fatalf("%s received nothing on %s (bus stats %+v)", who, topic, h.bus.Stats())
		return beehive.Message{}
	}
}

func (h *harness) expectNone(ch <-chan beehive.Message, who string) {
	h.t.Helper()
	select {
	case m := <-ch:
		h.t.Fatalf("%s received unexpected %s %q", who, m.Router.Resource, m.Content)
	default:
	}
}

func expectMQTT(t *testing.T, ch <-chan paho.Message, topic, payload string, qos byte) paho.Message {
	t.Helper()
	select {
	case m := <-ch:
		if m.Topic() != topic || string(m.Payload()) != payload || m.Qos() != qos {
			t.Fatalf("MQTT client received %s %q qos %d (dup %v, retained %v, id %d), want %s %q qos %d", m.Topic(), m.Payload(), m.Qos(), m.Duplicate(), m.Retained(), m.MessageID(), topic, payload, qos)
		}
		return m
	case <-time.After(waitFor):
		t.Fatalf("MQTT client received nothing on %s", topic)
		return nil
	}
}

// eventually polls cond until it holds or waitFor passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func isErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}
