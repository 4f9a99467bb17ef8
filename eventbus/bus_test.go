package eventbus

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/eventbus/api"
	"github.com/edgehive/edgehive/internal/testenv"
)

// runBus runs a hive with the bus and the given modules until the test ends; it returns the hive's
// stop function, which waits for Run to return and reports how long that took.
func runBus(t *testing.T, bus *Bus, mods ...beehive.Module) (stop func() time.Duration) {
	t.Helper()
	hive, err := beehive.New(beehive.Config{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range append([]beehive.Module{bus}, mods...) {
		if err := hive.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hive.Run(ctx) }()
	stopped := false
	stop = func() time.Duration {
		if stopped {
			return 0
		}
		stopped = true
		start := time.Now()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hive.Run: %v", err)
		}
		return time.Since(start)
	}
	t.Cleanup(func() { stop() })
	return stop
}

// handleModule returns a module that hands its Context to the test and then waits.
func handleModule(name string) (beehive.Module, <-chan *beehive.Context) {
	ch := make(chan *beehive.Context, 1)
	return &beehive.ModuleFunc{ModuleName: name, ModuleGroup: beehive.GroupUser, Fn: func(ctx context.Context, c *beehive.Context) error {
		ch <- c
		<-ctx.Done()
		return nil
	}}, ch
}

// With no broker to be found, the bus keeps trying with backoff, answers publishes with
// ErrNotConnected, records subscriptions, bounds its offline queue, and stops at once.
func TestNoBroker(t *testing.T) {
	url := fmt.Sprintf("tcp://127.0.0.1:%d", testenv.FreePort(t)) // nothing listens there
	bus, err := New(Config{BrokerURL: url, ClientID: "lonely", ReconnectMin: 10 * time.Millisecond,
		ReconnectMax: 40 * time.Millisecond, OfflineQueue: 2, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	mod, handle := handleModule("app")
	stop := runBus(t, bus, mod)
	c := <-handle
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err = c.SendSync(ctx, bus.Name(), api.NewPublishMessage("a/b", api.Publish{Payload: []byte("x")}))
	isErr(t, "sync publish", err, api.ErrNotConnected)
	if _, err := c.SendSync(ctx, bus.Name(), api.NewSubscribeMessage("a/#", api.Target{}, false)); err != nil {
		t.Fatalf("offline subscribe: %v", err)
	}
	for i := range 4 {
		if err := c.Send(ctx, bus.Name(), api.NewPublishMessage("a/b", api.Publish{Payload: []byte{byte(i)}})); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "queue bounded at 2", func() bool {
		st := bus.Stats()
		return st.Queued == 2 && st.OfflineDropped == 2
	})
	eventually(t, "a few connection attempts", func() bool { return bus.Stats().ConnectErrors >= 3 })
	if !contains(bus.Subscriptions(), "a/#") {
		t.Errorf("subscriptions %v lack the one made offline", bus.Subscriptions())
	}
	wctx, wcancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer wcancel()
	if err := bus.WaitConnected(wctx); err == nil {
		t.Error("WaitConnected returned nil without a broker")
	}
	if d := stop(); d > 2*time.Second {
		t.Errorf("the bus took %v to stop", d)
	}
	if st := bus.Stats(); st.Connected || st.Connects != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A module that does not read its mailbox loses messages after DeliverTimeout (counted), and does not
// hold up deliveries to others for longer than that.
func TestSlowModule(t *testing.T) {
	for _, wait := range []time.Duration{20 * time.Millisecond, -1} {
		t.Run(fmt.Sprint("wait=", wait), func(t *testing.T) {
			env := embeddedEnv(t)
			block := make(chan struct{})
			defer close(block)
			slow := &beehive.ModuleFunc{ModuleName: "slow", Config: beehive.ModuleConfig{MailboxSize: 1},
				Fn: func(ctx context.Context, c *beehive.Context) error {
					select {
					case <-block:
					case <-ctx.Done():
					}
					return nil
				}}
			fast := make(chan beehive.Message, 10)
			twin := &beehive.ModuleFunc{ModuleName: "twin", ModuleGroup: beehive.GroupTwin,
				Fn: func(ctx context.Context, c *beehive.Context) error {
					for {
						m, err := c.Receive(ctx)
						if err != nil {
							return nil
						}
						fast <- m
					}
				}}
			bus, err := New(Config{BrokerURL: env.URL, ClientID: "slow-" + t.Name(), DeliverTimeout: wait, Logger: quiet(),
				Routes: []Route{{Filter: "slow/#", Target: api.Target{Module: "slow"}}}})
			if err != nil {
				t.Fatal(err)
			}
			runBus(t, bus, slow, twin)
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			if err := bus.WaitConnected(ctx); err != nil {
				t.Fatal(err)
			}
			h := &harness{t: t, env: env}
			device := h.client("device-" + t.Name())
			start := time.Now()
			for range 5 {
				h.publish(device, "slow/x", 1, "x")
			}
			h.publish(device, "$hw/events/device/d/twin/update", 1, "{}")
			select {
			case <-fast:
			case <-time.After(waitFor):
				t.Fatal("the twin module got nothing")
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("deliveries took %v", d)
			}
			eventually(t, "4 drops", func() bool { return bus.Stats().Dropped == 4 })
		})
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
