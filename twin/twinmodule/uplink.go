package twinmodule

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/edgehive/edgehive/beehive"
	capi "github.com/edgehive/edgehive/controller/api"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/twin"
)

// uplink sends device statuses to the edge hub: coalesced per device (a device changed many times
// before it is sent goes once, with its latest state, read from the store), retried until the edge hub
// accepts them.
type uplink struct {
	m    *Module
	mu   sync.Mutex
	gen  uint64
	todo map[string]uint64 // device id → generation of its latest change
	wake chan struct{}     // capacity 1
}

func newUplink(m *Module) *uplink {
	return &uplink{m: m, todo: map[string]uint64{}, wake: make(chan struct{}, 1)}
}

func (u *uplink) poke() {
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// mark queues the device's status.
func (u *uplink) mark(id string) {
	if u.m.cfg.DisableStatus {
		return
	}
	u.mu.Lock()
	u.gen++
	u.todo[id] = u.gen
	u.mu.Unlock()
	u.poke()
}

// forget drops a deleted device's pending status.
func (u *uplink) forget(id string) {
	u.mu.Lock()
	delete(u.todo, id)
	u.mu.Unlock()
}

func (u *uplink) retryNow() { u.poke() }

func (u *uplink) pending() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.todo)
}

// run sends pending statuses whenever there are new ones, on OpCloudConnected, and every RetryInterval
// while some are left, until ctx ends.
func (u *uplink) run(ctx context.Context, c *beehive.Context) {
	cfg := u.m.cfg
	retry := time.NewTimer(cfg.RetryInterval)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-u.wake:
		case <-retry.C:
		}
		if cfg.CoalesceDelay > 0 {
			t := time.NewTimer(cfg.CoalesceDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		u.flush(ctx, c)
		retry.Reset(cfg.RetryInterval)
	}
}

// flush sends every pending status, in device order; it stops at the first one the edge hub refuses
// (the rest waits for the next attempt).
func (u *uplink) flush(ctx context.Context, c *beehive.Context) {
	u.mu.Lock()
	ids := make([]string, 0, len(u.todo))
	gens := make(map[string]uint64, len(u.todo))
	for id, g := range u.todo {
		ids = append(ids, id)
		gens[id] = g
	}
	u.mu.Unlock()
	slices.Sort(ids)
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		err := u.send(ctx, c, id)
		if err != nil && !isNotFound(err) {
			u.m.ctr.statusFailed.Add(1)
			u.m.cfg.Logger.Debug("twinmodule: device status not accepted, will retry", "device", id, "err", err)
			return
		}
		u.mu.Lock()
		if u.todo[id] == gens[id] { // not changed again meanwhile
			delete(u.todo, id)
		}
		u.mu.Unlock()
	}
}

// send reads the device and hands its status to the edge hub, waiting for the hub's answer.
func (u *uplink) send(ctx context.Context, c *beehive.Context, id string) error {
	cfg := u.m.cfg
	d, err := cfg.Store.GetDevice(ctx, id)
	if err != nil {
		return err
	}
	key := hub.Key{Namespace: d.Namespace, Kind: hub.KindDeviceStatus, Name: d.Name}
	if d.Namespace == "" {
		return nil // an older single-segment id has no Device object in the cloud
	}
	b, err := json.Marshal(DeviceStatus(d))
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, cfg.StatusTimeout)
	defer cancel()
	msg := c.NewMessage(beehive.GroupTwin, beehive.OpUpdate, key.String(), b)
	resp, err := c.SendSync(sctx, cfg.EdgeHub, msg)
	if err == nil {
		err = resp.Err()
	}
	if err == nil {
		u.m.ctr.statusSent.Add(1)
	}
	return err
}

// DeviceStatus returns the devicestatus report of d, in KubeEdge's v1beta1 DeviceStatus shape: one twin
// per twin that has a reported or a desired value (reported = the device's value, observedDesired = the
// desired value the edge holds; metadata timestamp in milliseconds since the epoch and type), the state
// and the last time the device was online (RFC 3339).
func DeviceStatus(d twin.Device) capi.DeviceStatus {
	st := capi.DeviceStatus{State: string(d.State)}
	if d.LastOnline != 0 {
		st.LastOnlineTime = time.UnixMilli(d.LastOnline).UTC().Format(time.RFC3339)
	}
	for _, t := range d.Twins {
		if t.Reported.Value == "" && t.Desired.Value == "" {
			continue
		}
		typ := t.Type
		if typ == "" {
			typ = "string"
		}
		prop := func(v twin.Value) capi.TwinProperty {
			p := capi.TwinProperty{Value: v.Value, Metadata: map[string]string{"type": typ}}
			if v.Timestamp != 0 {
				p.Metadata["timestamp"] = strconv.FormatInt(v.Timestamp, 10)
			}
			return p
		}
		st.Twins = append(st.Twins, capi.Twin{PropertyName: t.Name, Reported: prop(t.Reported), ObservedDesired: prop(t.Desired)})
	}
	return st
}
