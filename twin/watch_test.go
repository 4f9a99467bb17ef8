package twin

import (
	"context"
	"errors"
	"testing"
	"time"
)

func next(t *testing.T, w *Watcher) Event {
	t.Helper()
	select {
	case e, ok := <-w.Events():
		if !ok {
			t.Fatalf("watch ended: %v", w.Err())
		}
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return Event{}
}

func ended(t *testing.T, w *Watcher, want error) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-w.Events():
			if !ok {
				if err := w.Err(); !errors.Is(err, want) {
					t.Fatalf("watch ended with %v, want %v", err, want)
				}
				return
			}
		case <-deadline:
			t.Fatal("watch did not end")
		}
	}
}

func TestWatchSeesCommittedChangesInOrder(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t, Config{})
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.Watch(wctx)
	if err != nil {
		t.Fatal(err)
	}
	id := "default/thermostat"
	if err := s.PutDevice(ctx, thermostat()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetReported(ctx, id, "temperature", "19"); err != nil {
		t.Fatal(err)
	}
	// Outcomes that change nothing are not events.
	if r, err := s.SetDesired(ctx, id, "temperature", "0", Version{}); err != nil || r.Outcome != Stale {
		t.Fatalf("stale update: %+v, %v", r, err)
	}
	if _, err := s.SetDesiredLocal(ctx, id, "temperature", "21"); err != nil { // same value: unchanged
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, []Change{
		{DeviceID: id, Twin: "mode", Update: Update{Source: FromEdge, Value: "eco"}},
		{DeviceID: id, Twin: "fan", Update: Update{Source: FromDevice, Value: "on"}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(ctx, id, StateOnline); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDevice(ctx, id); err != nil {
		t.Fatal(err)
	}
	// A failed batch is not an event either.
	if _, err := s.SetReported(ctx, id, "temperature", "1"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}

	want := []struct {
		kind EventKind
		twin string
	}{{EventDevice, ""}, {EventTwin, "temperature"}, {EventTwin, "mode"}, {EventTwin, "fan"}, {EventState, ""}, {EventDeviceDeleted, ""}}
	for i, wt := range want {
		e := next(t, w)
		if e.Seq != uint64(i+1) || e.Kind != wt.kind || e.DeviceID != id || e.After.Name != wt.twin {
			t.Fatalf("event %d = %+v, want seq %d kind %v twin %q", i, e, i+1, wt.kind, wt.twin)
		}
		switch i {
		case 0:
			if len(e.Device.Twins) != 2 || e.Device.State != StateUnknown {
				t.Fatalf("device event %+v", e.Device)
			}
		case 1:
			if e.Source != FromDevice || e.Before.Reported.Value != "" || e.After.Reported.Value != "19" {
				t.Fatalf("twin event %+v", e)
			}
		case 3:
			if e.Before.Name != "" || e.After.Reported.Value != "on" {
				t.Fatalf("creating event %+v", e)
			}
		case 4:
			if e.State != StateOnline || e.LastOnline == 0 {
				t.Fatalf("state event %+v", e)
			}
		}
	}
	select {
	case e := <-w.Events():
		t.Fatalf("unexpected event %+v", e)
	default:
	}
	if w.Err() != nil {
		t.Fatalf("Err while the watch lasts: %v", w.Err())
	}
	cancel()
	ended(t, w, context.Canceled)
}

func TestWatchEndsWithStoreClose(t *testing.T) {
	s, _ := openStore(t, Config{})
	w, err := s.Watch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutDevice(context.Background(), thermostat()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ended(t, w, ErrClosed)
}

func TestWatchOverflow(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t, Config{WatchBuffer: 2})
	slow, err := s.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutDevice(ctx, Device{Name: "d"}); err != nil {
		t.Fatal(err)
	}
	fast, err := s.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := s.SetReported(ctx, "d", "t", string(rune('a'+i))); err != nil {
			t.Fatal(err) // writers are never held up by a slow watcher
		}
		if e := next(t, fast); e.After.Reported.Value != string(rune('a'+i)) {
			t.Fatalf("fast watcher got %+v", e)
		}
	}
	n := 0
	for range slow.Events() {
		n++
	}
	if n != 2 || !errors.Is(slow.Err(), ErrWatchOverflow) {
		t.Fatalf("slow watcher: %d events then %v; want 2 then ErrWatchOverflow", n, slow.Err())
	}
	if fast.Err() != nil {
		t.Fatalf("the fast watcher ended: %v", fast.Err())
	}
}

func TestWatchWithEndedContext(t *testing.T) {
	s, _ := openStore(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Watch(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch with an ended context: %v", err)
	}
}
