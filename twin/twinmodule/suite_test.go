package twinmodule

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/twin"
)

func TestMQTTEmbeddedBroker(t *testing.T) { runSuite(t, embeddedURL(t)) }

func TestMQTTMosquitto(t *testing.T) { runSuite(t, mosquittoURL(t)) }

const (
	dev      = "default/thermo"
	devKey   = "default/device/thermo"
	statusOf = "default/devicestatus/thermo"
	pre      = "$hw/events/device/" + dev
)

func str(s string) *string { return &s }

// runSuite is the one MQTT suite, run against each broker. Its steps share one hive and build on each
// other, like a device's life.
func runSuite(t *testing.T, url string) {
	h := newHarness(t, url, nil)

	t.Run("cloud device creates the twins", func(t *testing.T) {
		h.t = t
		if err := h.cloud(beehive.OpInsert, devKey, deviceJSON("default", "thermo", "edge-1", 1, nil, "temperature", "target")); err != nil {
			t.Fatal(err)
		}
		// Sync answered: the store has committed.
		d, err := h.store.GetDevice(context.Background(), dev)
		if err != nil || len(d.Twins) != 2 || d.Twins[0].Name != "target" || d.Twins[1].Name != "temperature" {
			t.Fatalf("device %+v, %v", d, err)
		}
	})

	t.Run("update result and document", func(t *testing.T) {
		h.t = t
		h.publish(pre+"/twin/update", twin.TwinUpdate{BaseMessage: twin.BaseMessage{EventID: "e1"},
			Twin: map[string]*twin.MsgTwin{"temperature": {Actual: &twin.MsgValue{Value: str("20")}}}})
		res := await[twin.TwinResult](h, pre+"/twin/update/result", func(r *twin.TwinResult) bool { return r.EventID == "e1" })
		if res.Code != 0 || res.Twin["temperature"] == nil || *res.Twin["temperature"].Actual.Value != "20" {
			t.Fatalf("result %+v", res)
		}
		doc := await[twin.TwinDocument](h, pre+"/twin/update/document", func(d *twin.TwinDocument) bool { return d.EventID == "e1" })
		td := doc.Twin["temperature"]
		if td == nil || td.Last == nil || td.Last.Actual != nil || *td.Current.Actual.Value != "20" {
			t.Fatalf("document %+v", doc)
		}
		st := h.awaitStatus(statusOf, func(s *DeviceStatusMsg) bool { v, _, _ := s.reported("temperature"); return v == "20" })
		if _, _, ok := st.reported("target"); ok {
			t.Fatalf("status has a twin without values: %+v", st)
		}
	})

	t.Run("cloud desired gives a delta, report clears it", func(t *testing.T) {
		h.t = t
		if err := h.cloud(beehive.OpUpdate, devKey, deviceJSON("default", "thermo", "edge-1", 2, map[string]string{"target": "22"}, "temperature", "target")); err != nil {
			t.Fatal(err)
		}
		delta := await[twin.TwinDelta](h, pre+"/twin/update/delta", nil)
		if delta.Delta["target"] != "22" || len(delta.Delta) != 1 {
			t.Fatalf("delta %+v", delta)
		}
		h.awaitStatus(statusOf, func(s *DeviceStatusMsg) bool { _, d, _ := s.reported("target"); return d == "22" })
		// The device applies it and reports.
		h.publish(pre+"/twin/update", twin.TwinUpdate{BaseMessage: twin.BaseMessage{EventID: "e2"},
			Twin: map[string]*twin.MsgTwin{"target": {Actual: &twin.MsgValue{Value: str("22")}}}})
		await[twin.TwinResult](h, pre+"/twin/update/result", func(r *twin.TwinResult) bool { return r.EventID == "e2" })
		st := h.awaitStatus(statusOf, func(s *DeviceStatusMsg) bool { r, _, _ := s.reported("target"); return r == "22" })
		if r, d, _ := st.reported("target"); r != d {
			t.Fatalf("reported %q != observed desired %q", r, d)
		}
		if d, err := h.store.Delta(context.Background(), dev); err != nil || len(d) != 0 {
			t.Fatalf("delta after report: %+v, %v", d, err)
		}
		// A resend of the same generation changes nothing (no second delta).
		if err := h.cloud(beehive.OpUpdate, devKey, deviceJSON("default", "thermo", "edge-1", 2, map[string]string{"target": "22"}, "temperature", "target")); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("get", func(t *testing.T) {
		h.t = t
		h.publish(pre+"/twin/get", twin.Get{BaseMessage: twin.BaseMessage{EventID: "g1"}})
		res := await[twin.TwinResult](h, pre+"/twin/get/result", func(r *twin.TwinResult) bool { return r.EventID == "g1" })
		tg := res.Twin["target"]
		if tg == nil || *tg.Expected.Value != "22" || *tg.Actual.Value != "22" || tg.Metadata.Type != "int" || res.Twin["temperature"] == nil {
			t.Fatalf("get result %+v", res)
		}
		// An older mapper names the device by its name alone; the answer comes on its topic.
		h.publish("$hw/events/device/thermo/twin/get", `{"event_id":"g2"}`)
		res = await[twin.TwinResult](h, "$hw/events/device/thermo/twin/get/result", nil)
		if res.EventID != "g2" || res.Code != 0 || res.Twin["target"] == nil {
			t.Fatalf("get by old id: %+v", res)
		}
	})

	t.Run("membership", func(t *testing.T) {
		h.t = t
		h.publish("$hw/events/node/edge-1/membership/get", twin.Get{BaseMessage: twin.BaseMessage{EventID: "m1"}})
		res := await[twin.MembershipGetResult](h, "$hw/events/node/edge-1/membership/get/result", nil)
		if res.EventID != "m1" || len(res.Devices) != 1 || res.Devices[0].ID != dev {
			t.Fatalf("membership %+v", res)
		}
		h.publish("$hw/events/node/edge-2/membership/get", twin.Get{BaseMessage: twin.BaseMessage{EventID: "m2"}})
		er := await[twin.ErrorResult](h, "$hw/events/node/edge-2/membership/get/result", nil)
		if er.EventID != "m2" || er.Code != twin.CodeNotFound {
			t.Fatalf("other node: %+v", er)
		}
	})

	t.Run("state", func(t *testing.T) {
		h.t = t
		h.publish(pre+"/state/update", twin.StateUpdate{BaseMessage: twin.BaseMessage{EventID: "s1"}, State: "online"})
		res := await[twin.StateUpdateResult](h, pre+"/state/update/result", nil)
		if res.EventID != "s1" || res.Device.State != "online" || res.Device.LastOnline == "" {
			t.Fatalf("state result %+v", res)
		}
		h.awaitStatus(statusOf, func(s *DeviceStatusMsg) bool { return s.State == "online" })
		h.publish(pre+"/state/update", `{"event_id":"s2","state":"sleepy"}`)
		er := await[twin.ErrorResult](h, pre+"/state/update/result", func(r *twin.ErrorResult) bool { return r.EventID == "s2" })
		if er.Code != twin.CodeBadRequest {
			t.Fatalf("bad state: %+v", er)
		}
	})

	t.Run("errors", func(t *testing.T) {
		h.t = t
		for _, c := range []struct {
			name, topic, payload, id string
			code                     int
		}{
			{"unknown device", "$hw/events/device/default/nope/twin/update", `{"event_id":"x1","twin":{"a":{"actual":{"value":"1"}}}}`, "x1", 404},
			{"unknown device, old id", "$hw/events/device/nope/twin/update", `{"event_id":"x2","twin":{"a":{"actual":{"value":"1"}}}}`, "x2", 404},
			{"malformed JSON", pre + "/twin/update", `{"event_id":"x3","twin":{`, "", 400},
			{"value of the wrong JSON type", pre + "/twin/update", `{"event_id":"x4","twin":{"target":{"actual":{"value":22}}}}`, "x4", 400},
			{"value that does not fit the twin type", pre + "/twin/update", `{"event_id":"x5","twin":{"target":{"actual":{"value":"warm"}}}}`, "x5", 400},
			{"no twin object", pre + "/twin/update", `{"event_id":"x6"}`, "x6", 400},
		} {
			h.publish(c.topic, c.payload)
			er := await[twin.ErrorResult](h, c.topic+"/result", func(r *twin.ErrorResult) bool { return r.Code != 0 && r.EventID == c.id })
			if er.Code != c.code || er.Reason == "" {
				t.Errorf("%s: %+v, want code %d", c.name, er, c.code)
			}
		}
		h.publish("$hw/events/device/default/nope/twin/get", `{"event_id":"x7"}`)
		if er := await[twin.ErrorResult](h, "$hw/events/device/default/nope/twin/get/result", nil); er.Code != 404 || er.EventID != "x7" {
			t.Errorf("get unknown: %+v", er)
		}
		// Nothing was written by the refused updates.
		if tw, err := h.store.GetTwin(context.Background(), dev, "target"); err != nil || tw.Reported.Value != "22" {
			t.Fatalf("target after refused updates: %+v, %v", tw, err)
		}
		if err := h.cloud(beehive.OpUpdate, devKey, "{not json"); err == nil {
			t.Fatal("malformed Device accepted")
		}
	})

	t.Run("burst with a bad message", func(t *testing.T) {
		h.t = t
		var toks []interface{ WaitTimeout(time.Duration) bool }
		for i := range 40 {
			topic, payload := pre+"/twin/update", fmt.Sprintf(`{"event_id":"b%d","twin":{"temperature":{"actual":{"value":"%d"}}}}`, i, i)
			if i == 20 {
				topic = "$hw/events/device/default/ghost/twin/update"
			}
			toks = append(toks, h.client.Publish(topic, 1, false, payload))
		}
		for _, tok := range toks {
			tok.WaitTimeout(waitFor)
		}
		for i := range 40 {
			topic := pre + "/twin/update/result"
			if i == 20 {
				topic = "$hw/events/device/default/ghost/twin/update/result"
			}
			r := await[twin.TwinResult](h, topic, func(r *twin.TwinResult) bool { return strings.HasPrefix(r.EventID, "b") })
			if want := fmt.Sprintf("b%d", i); r.EventID != want {
				t.Fatalf("result %s, want %s (in order)", r.EventID, want)
			}
			if (r.Code == 404) != (i == 20) {
				t.Fatalf("result %+v", r)
			}
		}
		if tw, err := h.store.GetTwin(context.Background(), dev, "temperature"); err != nil || tw.Reported.Value != "39" {
			t.Fatalf("temperature after the burst: %+v, %v", tw, err)
		}
	})

	t.Run("status resent after reconnect", func(t *testing.T) {
		h.t = t
		h.refuse.Store(true)
		h.publish(pre+"/twin/update", `{"event_id":"r1","twin":{"temperature":{"actual":{"value":"21"}}}}`)
		await[twin.TwinResult](h, pre+"/twin/update/result", func(r *twin.TwinResult) bool { return r.EventID == "r1" })
		deadline := time.Now().Add(waitFor)
		for h.mod.Stats().StatusFailed == 0 || h.mod.Stats().StatusPending == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("status not attempted: %+v", h.mod.Stats())
			}
			time.Sleep(5 * time.Millisecond)
		}
		h.refuse.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := h.hub.SendToGroup(ctx, beehive.GroupTwin, h.hub.NewMessage(beehive.GroupHub, OpCloudConnected, "", nil)); err != nil {
			t.Fatal(err)
		}
		h.awaitStatus(statusOf, func(s *DeviceStatusMsg) bool { v, _, _ := s.reported("temperature"); return v == "21" })
	})

	t.Run("edge desired and cloud generations", func(t *testing.T) {
		h.t = t
		h.publish(pre+"/twin/update", `{"event_id":"l1","twin":{"target":{"expected":{"value":"18"}}}}`)
		delta := await[twin.TwinDelta](h, pre+"/twin/update/delta", func(d *twin.TwinDelta) bool { return d.EventID == "l1" })
		if delta.Delta["target"] != "18" {
			t.Fatalf("delta %+v", delta)
		}
		// A resend of generation 2 does not undo the edge's value; generation 3 wins.
		_ = h.cloud(beehive.OpUpdate, devKey, deviceJSON("default", "thermo", "edge-1", 2, map[string]string{"target": "22"}, "temperature", "target"))
		if tw, _ := h.store.GetTwin(context.Background(), dev, "target"); tw.Desired.Value != "18" {
			t.Fatalf("edge value lost to a resend: %+v", tw)
		}
		_ = h.cloud(beehive.OpUpdate, devKey, deviceJSON("default", "thermo", "edge-1", 3, map[string]string{"target": "24"}, "temperature", "target"))
		await[twin.TwinDelta](h, pre+"/twin/update/delta", func(d *twin.TwinDelta) bool { return d.Delta["target"] == "24" })
	})

	t.Run("delete and membership", func(t *testing.T) {
		h.t = t
		if err := h.cloud(beehive.OpInsert, "default/device/other", deviceJSON("default", "other", "edge-1", 1, nil, "x")); err != nil {
			t.Fatal(err)
		}
		if err := h.cloud(beehive.OpUpdate, "/membership/edge-1", map[string]any{"node": "edge-1", "devices": []string{dev}}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.store.GetDevice(context.Background(), "default/other"); err == nil {
			t.Fatal("device left out of the membership still there")
		}
		if err := h.cloud(beehive.OpUpdate, devKey, deviceJSON("default", "thermo", "edge-9", 4, nil, "target")); err != nil {
			t.Fatal(err)
		}
		if _, err := h.store.GetDevice(context.Background(), dev); err == nil {
			t.Fatal("device moved to another node still there")
		}
		if err := h.cloud(beehive.OpDelete, devKey, nil); err != nil {
			t.Fatalf("deleting a deleted device: %v", err)
		}
	})
}
