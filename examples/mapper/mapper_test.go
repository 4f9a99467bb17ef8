package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edgehive/edgehive/beehive"
	capi "github.com/edgehive/edgehive/controller/api"
	"github.com/edgehive/edgehive/eventbus"
	"github.com/edgehive/edgehive/eventbus/broker"
	"github.com/edgehive/edgehive/twin"
	"github.com/edgehive/edgehive/twin/twinmodule"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// edge is an edge node's device side: embedded broker, eventbus, twin module and a stand-in edge hub
// that plays the cloud (it sends Device objects and records device statuses).
type edge struct {
	url    string
	store  *twin.Store
	hub    *beehive.Context
	status chan []byte
}

func startEdge(t *testing.T) *edge {
	t.Helper()
	b, err := broker.New(broker.Config{Listen: "127.0.0.1:0", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	store, err := twin.Open(context.Background(), filepath.Join(t.TempDir(), "twin.db"), twin.Config{Durability: twin.DurabilityNormal})
	if err != nil {
		t.Fatal(err)
	}
	e := &edge{url: b.URL(), store: store, status: make(chan []byte, 10000)}
	bus, err := eventbus.New(eventbus.Config{BrokerURL: b.URL(), ClientID: "bus-" + t.Name(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	tm, err := twinmodule.New(twinmodule.Config{Store: store, NodeName: "edge-1", Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	hubCtx := make(chan *beehive.Context, 1)
	standIn := &beehive.ModuleFunc{ModuleName: "edgehub", ModuleGroup: beehive.GroupHub,
		Fn: func(ctx context.Context, c *beehive.Context) error {
			hubCtx <- c
			for {
				m, err := c.Receive(ctx)
				if err != nil {
					return nil
				}
				if b, ok := m.Content.([]byte); ok && strings.Contains(m.Router.Resource, "/devicestatus/") {
					e.status <- b
				}
				_ = c.Respond(m, nil)
			}
		}}
	hive, err := beehive.New(beehive.Config{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []beehive.Module{bus, tm, standIn} {
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
			t.Error(err)
		}
		_ = store.Close()
	})
	e.hub = <-hubCtx
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := bus.WaitConnected(wctx); err != nil {
		t.Fatal(err)
	}
	return e
}

// device sends the thermostat's Device object from the "cloud", with target's desired value if set.
func (e *edge) device(t *testing.T, gen int64, target string) {
	t.Helper()
	props := []map[string]any{{"name": "temperature"}, {"name": "target"}}
	if target != "" {
		props[1]["desired"] = map[string]any{"value": target, "metadata": map[string]string{"type": "int"}}
	}
	b, _ := json.Marshal(map[string]any{
		"apiVersion": "devices.kubeedge.io/v1beta1", "kind": "Device",
		"metadata": map[string]any{"name": "thermostat", "namespace": "default", "generation": gen},
		"spec":     map[string]any{"nodeName": "edge-1", "properties": props},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := e.hub.SendSync(ctx, twinmodule.DefaultName, e.hub.NewMessage(beehive.GroupTwin, beehive.OpUpdate, "default/device/thermostat", b))
	if err == nil {
		err = resp.Err()
	}
	if err != nil {
		t.Fatal(err)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func startMapper(t *testing.T, url string, temp int) (*Thermostat, func()) {
	t.Helper()
	th, err := New(Config{Broker: url, Device: "default/thermostat", Interval: 20 * time.Millisecond, Temperature: temp, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- th.Run(ctx) }()
	return th, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// The mapper and the twin module together: a desired target from the cloud reaches the mapper as a
// delta, the mapper applies it and reports, and the twin's reported value equals the desired one (empty
// delta), up to the device status sent to the cloud.
func TestMapperWithTwinModule(t *testing.T) {
	e := startEdge(t)
	e.device(t, 1, "")
	th, stop := startMapper(t, e.url, 20)
	defer stop()
	ctx := context.Background()
	eventually(t, "first temperature report", func() bool {
		tw, err := e.store.GetTwin(ctx, "default/thermostat", TwinTemperature)
		return err == nil && tw.Reported.Value == "20"
	})
	eventually(t, "device online", func() bool {
		d, err := e.store.GetDevice(ctx, "default/thermostat")
		return err == nil && d.State == twin.StateOnline
	})

	e.device(t, 2, "23")
	eventually(t, "target applied and reported", func() bool {
		tw, err := e.store.GetTwin(ctx, "default/thermostat", TwinTarget)
		return err == nil && tw.Desired.Value == "23" && tw.Reported.Value == "23"
	})
	if d, err := e.store.Delta(ctx, "default/thermostat"); err != nil || len(d) != 0 {
		t.Fatalf("delta %+v, %v", d, err)
	}
	eventually(t, "temperature reaches the target", func() bool {
		tw, err := e.store.GetTwin(ctx, "default/thermostat", TwinTemperature)
		return err == nil && tw.Reported.Value == "23"
	})
	if temp, target, ok := th.State(); !ok || temp != 23 || target != 23 {
		t.Fatalf("thermostat state %d %d %v", temp, target, ok)
	}
	eventually(t, "cloud status with reported == desired", func() bool {
		for {
			select {
			case b := <-e.status:
				var st capi.DeviceStatus
				if json.Unmarshal(b, &st) != nil {
					return false
				}
				for _, tw := range st.Twins {
					if tw.PropertyName == TwinTarget && tw.Reported.Value == "23" && tw.ObservedDesired.Value == "23" {
						return true
					}
				}
			default:
				return false
			}
		}
	})
}

// A mapper that starts after the target was set gets it from twin/get.
func TestMapperGetsTargetAtStart(t *testing.T) {
	e := startEdge(t)
	e.device(t, 1, "18")
	th, stop := startMapper(t, e.url, 20)
	eventually(t, "target from twin/get", func() bool {
		_, target, ok := th.State()
		return ok && target == 18
	})
	eventually(t, "target reported", func() bool {
		tw, err := e.store.GetTwin(context.Background(), "default/thermostat", TwinTarget)
		return err == nil && tw.Reported.Value == "18"
	})
	stop()
	eventually(t, "device offline after stop", func() bool {
		d, err := e.store.GetDevice(context.Background(), "default/thermostat")
		return err == nil && d.State == twin.StateOffline
	})
}

func TestFlags(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"--help"}, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, f := range []string{"--broker", "--device", "--interval", "tcp://127.0.0.1:1883", "2s"} {
		if !strings.Contains(strings.ReplaceAll(out.String(), "  -", "  --"), f) {
			t.Errorf("--help does not explain %s:\n%s", f, out.String())
		}
	}
	for _, args := range [][]string{{}, {"--device", "a/b/c"}, {"--device", "a/"}, {"--device", "x", "extra"}} {
		if err := run(args, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}
