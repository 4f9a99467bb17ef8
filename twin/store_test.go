package twin

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/edgehive/edgehive/internal/sqlitedb"
)

// clock is a settable Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Set(ms int64) { c.mu.Lock(); c.t = time.UnixMilli(ms); c.mu.Unlock() }

func openStore(t testing.TB, cfg Config) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "twin.db")
	s, err := Open(context.Background(), path, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

func thermostat() Device {
	return Device{Namespace: "default", Name: "thermostat", Description: "living room",
		Attributes: map[string]Attribute{"model": {Value: "TH-100", Type: "string"}},
		Twins: []Twin{
			{Name: "mode", Optional: true},
			{Name: "temperature", Type: "int", Desired: Value{Value: "21", Timestamp: 5, Version: Version{Cloud: 1}}},
		}}
}

func TestStoreDevices(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t, Config{})
	if err := s.PutDevice(ctx, thermostat()); err != nil {
		t.Fatal(err)
	}
	if err := s.PutDevice(ctx, Device{Name: "sensor-7", State: StateOnline}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetDevice(ctx, "default/thermostat")
	if err != nil {
		t.Fatal(err)
	}
	want := thermostat()
	want.State = StateUnknown
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("GetDevice =\n %+v\nwant\n %+v", got, want)
	}
	list, err := s.ListDevices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID() != "default/thermostat" || list[1].ID() != "sensor-7" ||
		!reflect.DeepEqual(list[0], want) || list[1].State != StateOnline {
		t.Fatalf("ListDevices = %+v", list)
	}
	if err := s.DeleteDevice(ctx, "sensor-7"); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		s.DeleteDevice(ctx, "sensor-7"),
		func() error { _, err := s.GetDevice(ctx, "sensor-7"); return err }(),
		func() error { _, err := s.GetTwin(ctx, "default/thermostat", "nope"); return err }(),
		func() error { _, err := s.Delta(ctx, "nope"); return err }(),
		func() error { _, err := s.SetReported(ctx, "nope", "a", "1"); return err }(),
		s.SetState(ctx, "nope", StateOnline),
	} {
		if !errors.Is(err, ErrNotFound) || ErrorCode(err) != CodeNotFound {
			t.Errorf("got %v, want ErrNotFound", err)
		}
	}
	if err := s.PutDevice(ctx, Device{Name: "bad/name"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("PutDevice of an invalid device: %v", err)
	}
}

func TestStorePutDeviceKeepsTwinValues(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t, Config{})
	if err := s.PutDevice(ctx, thermostat()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetReported(ctx, "default/thermostat", "temperature", "19"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(ctx, "default/thermostat", StateOnline); err != nil {
		t.Fatal(err)
	}
	// The cloud sends the device again: "mode" dropped, "humidity" added, temperature's values in the
	// message are ignored because the twin exists; its Optional flag changes.
	d := thermostat()
	d.Description = "kitchen"
	d.Twins = []Twin{
		{Name: "humidity", Type: "float", Desired: Value{Value: "40.5"}},
		{Name: "temperature", Type: "int", Optional: true, Desired: Value{Value: "99"}},
	}
	if err := s.PutDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetDevice(ctx, "default/thermostat")
	if err != nil {
		t.Fatal(err)
	}
	if got.Description != "kitchen" || got.State != StateOnline || len(got.Twins) != 2 {
		t.Fatalf("device %+v", got)
	}
	temp, _ := got.Twin("temperature")
	if temp.Desired.Value != "21" || temp.Reported.Value != "19" || !temp.Optional {
		t.Fatalf("temperature %+v: values must be kept, optional updated", temp)
	}
	if h, ok := got.Twin("humidity"); !ok || h.Desired.Value != "40.5" {
		t.Fatalf("humidity %+v, %v", h, ok)
	}
	if _, ok := got.Twin("mode"); ok {
		t.Fatal("mode was not removed")
	}
}

// The version rules hold through the store, with the store's clock stamping the writes.
func TestStoreVersionRules(t *testing.T) {
	ctx := context.Background()
	clk := &clock{}
	s, _ := openStore(t, Config{Now: clk.Now})
	if err := s.PutDevice(ctx, thermostat()); err != nil {
		t.Fatal(err)
	}
	id := "default/thermostat"
	clk.Set(1000)
	r, err := s.SetDesired(ctx, id, "temperature", "22", Version{Cloud: 2})
	if err != nil || r.Outcome != Applied || r.After.Desired != (Value{"22", 1000, Version{Cloud: 2}}) || r.Before.Desired.Value != "21" {
		t.Fatalf("cloud desired: %+v, %v", r, err)
	}
	clk.Set(2000)
	r, err = s.SetReported(ctx, id, "temperature", "20")
	if err != nil || r.Outcome != Applied || r.After.Reported != (Value{"20", 2000, Version{Edge: 1}}) || r.After.Desired.Value != "22" {
		t.Fatalf("reported: %+v, %v", r, err)
	}
	r, err = s.SetDesiredLocal(ctx, id, "temperature", "25")
	if err != nil || r.Outcome != Applied || r.After.Desired.Version != (Version{Cloud: 2, Edge: 1}) {
		t.Fatalf("edge desired: %+v, %v", r, err)
	}
	for _, tc := range []struct {
		v    Version
		want Outcome
	}{{Version{Cloud: 3}, Conflict}, {Version{Cloud: 1, Edge: 1}, Stale}, {Version{Cloud: 2, Edge: 1}, Applied}} {
		r, err = s.SetDesired(ctx, id, "temperature", "23", tc.v)
		if err != nil || r.Outcome != tc.want {
			t.Fatalf("cloud desired at %+v: %v, %v; want %v", tc.v, r.Outcome, err, tc.want)
		}
	}
	tw, err := s.GetTwin(ctx, id, "temperature")
	if err != nil || tw.Desired.Value != "23" || tw.Reported.Value != "20" {
		t.Fatalf("twin %+v, %v", tw, err)
	}
	delta, err := s.Delta(ctx, id)
	if err != nil || len(delta) != 1 || delta[0].Name != "temperature" {
		t.Fatalf("Delta = %+v, %v", delta, err)
	}
	if _, err := s.SetReported(ctx, id, "temperature", "23"); err != nil {
		t.Fatal(err)
	}
	if delta, err := s.Delta(ctx, id); err != nil || len(delta) != 0 {
		t.Fatalf("Delta after the device caught up = %+v, %v", delta, err)
	}
	if _, err := s.SetReported(ctx, id, "temperature", "hot"); !errors.Is(err, ErrInvalid) || ErrorCode(err) != CodeBadRequest {
		t.Fatalf("value of the wrong type: %v", err)
	}
}

func TestStoreUpdateBatch(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t, Config{MaxBatch: 50})
	for i := range 3 {
		if err := s.PutDevice(ctx, Device{Namespace: "ns", Name: fmt.Sprint("d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	var cs []Change
	for i := range 3 {
		for j := range 10 {
			cs = append(cs, Change{DeviceID: fmt.Sprint("ns/d", i), Twin: fmt.Sprint("t", j), Type: "int",
				Update: Update{Source: FromDevice, Value: fmt.Sprint(i*100 + j), Timestamp: 7}})
		}
	}
	// the same twin twice in one batch: the second change sees the first
	cs = append(cs, Change{DeviceID: "ns/d0", Twin: "t0", Update: Update{Source: FromDevice, Value: "1000"}})
	rs, err := s.Update(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != len(cs) || !rs[0].Created() || rs[30].Created() || rs[30].Before.Reported.Value != "0" ||
		rs[30].After.Reported.Version.Edge != 2 {
		t.Fatalf("results %+v", rs[30])
	}
	devices, _ := s.ListDevices(ctx)
	for i, d := range devices {
		if len(d.Twins) != 10 {
			t.Fatalf("device %d has %d twins", i, len(d.Twins))
		}
		if d.Twins[1].Type != "int" || !d.Twins[1].Optional || d.Twins[1].Reported.Timestamp != 7 {
			t.Fatalf("created twin %+v", d.Twins[1])
		}
	}
	// Atomic: one bad change and nothing is written.
	for name, bad := range map[string]Change{
		"unknown device": {DeviceID: "ns/nope", Twin: "t0", Update: Update{Source: FromDevice, Value: "1"}},
		"wrong type":     {DeviceID: "ns/d1", Twin: "t0", Update: Update{Source: FromDevice, Value: "x"}},
		"bad twin name":  {DeviceID: "ns/d1", Twin: "a b", Update: Update{Source: FromDevice, Value: "1"}},
		"bad device id":  {DeviceID: "a/b/c", Twin: "t", Update: Update{Source: FromDevice, Value: "1"}},
		"no source":      {DeviceID: "ns/d1", Twin: "t0", Update: Update{Value: "1"}},
		"bad type":       {DeviceID: "ns/d1", Twin: "new", Type: "uuid", Update: Update{Source: FromDevice, Value: "1"}},
	} {
		batch := []Change{{DeviceID: "ns/d2", Twin: "t5", Update: Update{Source: FromDevice, Value: "555"}}, bad}
		if _, err := s.Update(ctx, batch); err == nil {
			t.Fatalf("%s: batch accepted", name)
		}
		if tw, _ := s.GetTwin(ctx, "ns/d2", "t5"); tw.Reported.Value != "205" {
			t.Fatalf("%s: the good half of a failed batch was written: %+v", name, tw)
		}
	}
	if _, err := s.Update(ctx, make([]Change, 51)); !errors.Is(err, ErrBatchTooLarge) {
		t.Fatalf("oversized batch: %v", err)
	}
	// A change that changes nothing creates nothing.
	rs, err = s.Update(ctx, []Change{{DeviceID: "ns/d1", Twin: "ghost", Update: Update{Source: FromEdge, Value: ""}}})
	if err != nil || rs[0].Outcome != Unchanged || rs[0].Created() {
		t.Fatalf("empty edge desired on a new twin: %+v, %v", rs, err)
	}
	if _, err := s.GetTwin(ctx, "ns/d1", "ghost"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an unchanged change created a twin: %v", err)
	}
	if rs, err := s.Update(ctx, nil); err != nil || rs != nil {
		t.Fatalf("empty batch: %v, %v", rs, err)
	}
}

func TestStoreSetState(t *testing.T) {
	ctx := context.Background()
	clk := &clock{}
	s, _ := openStore(t, Config{Now: clk.Now})
	if err := s.PutDevice(ctx, thermostat()); err != nil {
		t.Fatal(err)
	}
	clk.Set(5000)
	if err := s.SetState(ctx, "default/thermostat", StateOnline); err != nil {
		t.Fatal(err)
	}
	clk.Set(9000)
	if err := s.SetState(ctx, "default/thermostat", StateOffline); err != nil {
		t.Fatal(err)
	}
	d, _ := s.GetDevice(ctx, "default/thermostat")
	if d.State != StateOffline || d.LastOnline != 5000 {
		t.Fatalf("state %q, last online %d; want offline, 5000", d.State, d.LastOnline)
	}
	if err := s.SetState(ctx, "default/thermostat", "asleep"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid state: %v", err)
	}
}

func TestStoreReopenAndSchema(t *testing.T) {
	ctx := context.Background()
	s, path := openStore(t, Config{Durability: DurabilityNormal})
	if err := s.PutDevice(ctx, thermostat()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetReported(ctx, "default/thermostat", "temperature", "18"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(ctx, path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	tw, err := s2.GetTwin(ctx, "default/thermostat", "temperature")
	if err != nil || tw.Reported.Value != "18" {
		t.Fatalf("after reopen: %+v, %v", tw, err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	// A file from a newer program is refused.
	db, err := sqlitedb.Open(ctx, path, sqlitedb.Options{Migrations: append(migrations(),
		sqlitedb.Migration{Name: "future", SQL: `CREATE TABLE future (x INTEGER)`})})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if _, err := Open(ctx, path, Config{}); !errors.Is(err, sqlitedb.ErrSchemaTooNew) {
		t.Fatalf("Open of a newer file: %v", err)
	}
}

func TestStoreClosed(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "twin.db"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, err := range []error{
		s.PutDevice(ctx, thermostat()),
		s.DeleteDevice(ctx, "x"),
		s.SetState(ctx, "x", StateOnline),
		func() error { _, err := s.SetReported(ctx, "x", "t", "1"); return err }(),
		func() error { _, err := s.GetDevice(ctx, "x"); return err }(),
		func() error { _, err := s.ListDevices(ctx); return err }(),
		func() error { _, err := s.Watch(ctx); return err }(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("after Close: %v, want ErrClosed", err)
		}
	}
}

func TestStoreConfigValidate(t *testing.T) {
	for _, c := range []Config{{Durability: 7}, {BusyTimeout: -1}, {ReadConns: -1}, {WatchBuffer: -1}, {MaxBatch: -1}} {
		if _, err := Open(context.Background(), filepath.Join(t.TempDir(), "x.db"), c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Open(%+v) = %v, want ErrInvalidConfig", c, err)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestStoreContextCancelled(t *testing.T) {
	s, _ := openStore(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.PutDevice(ctx, thermostat()); !errors.Is(err, context.Canceled) {
		t.Fatalf("PutDevice with a cancelled context: %v", err)
	}
	if _, err := s.GetDevice(ctx, "default/thermostat"); !errors.Is(err, context.Canceled) {
		t.Fatalf("GetDevice with a cancelled context: %v", err)
	}
}

// Many writers and readers at once (run with -race): every write lands, reads never fail.
func TestStoreConcurrentUse(t *testing.T) {
	ctx := context.Background()
	s, path := openStore(t, Config{Durability: DurabilityNormal})
	if err := s.PutDevice(ctx, Device{Namespace: "ns", Name: "d"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 8 {
		wg.Go(func() {
			for i := range 40 {
				if _, err := s.SetReported(ctx, "ns/d", fmt.Sprintf("w%d-%d", w, i), "v"); err != nil {
					errs <- err
					return
				}
				if _, err := s.GetDevice(ctx, "ns/d"); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	d, _ := s.GetDevice(ctx, "ns/d")
	if len(d.Twins) != 320 {
		t.Fatalf("%d twins, want 320", len(d.Twins))
	}
	db, err := sqlitedb.Open(ctx, path, sqlitedb.Options{Migrations: migrations()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	var fk int
	if err := db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM pragma_foreign_key_check`).Scan(&fk); err != nil || fk != 0 {
		t.Fatalf("foreign key check: %d, %v", fk, err)
	}
}
