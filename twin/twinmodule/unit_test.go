package twinmodule

import (
	"errors"
	"testing"

	"github.com/edgehive/edgehive/twin"
)

func TestConfigValidate(t *testing.T) {
	store := &twin.Store{}
	for _, c := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, false},
		{"store only", Config{Store: store}, true},
		{"node", Config{Store: store, NodeName: "edge-1"}, true},
		{"node with slash", Config{Store: store, NodeName: "a/b"}, false},
		{"negative", Config{Store: store, RetryInterval: -1}, false},
		{"negative mailbox", Config{Store: store, MailboxSize: -1}, false},
		{"edgehub is self", Config{Store: store, EdgeHub: "twin"}, false},
		{"edgehub is self but disabled", Config{Store: store, EdgeHub: "twin", DisableStatus: true}, true},
		{"bus is self", Config{Store: store, Name: "t", EventBus: "t"}, false},
	} {
		err := c.cfg.Validate()
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	m, err := New(Config{Store: store})
	if err != nil || m.Name() != DefaultName || m.cfg.EdgeHub != DefaultEdgeHub || m.cfg.EventBus != DefaultEventBus ||
		m.ModuleConfig().MailboxSize != DefaultMailboxSize {
		t.Fatalf("defaults: %+v, %v", m, err)
	}
}

func TestCloudVersion(t *testing.T) {
	withDesired := func(value string, v twin.Version) twin.Twin {
		return twin.Twin{Name: "t", Desired: twin.Value{Value: value, Version: v}}
	}
	for _, c := range []struct {
		name  string
		cur   twin.Twin
		gen   int64
		value string
		want  twin.Version
		ok    bool
	}{
		{"new twin, generation", twin.Twin{}, 3, "1", twin.Version{Cloud: 3}, true},
		{"new twin, no generation", twin.Twin{}, 0, "1", twin.Version{Cloud: 1}, true},
		{"same generation again", withDesired("1", twin.Version{Cloud: 3}), 3, "1", twin.Version{}, false},
		{"older generation", withDesired("1", twin.Version{Cloud: 3}), 2, "0", twin.Version{}, false},
		{"same generation after an edge change", withDesired("9", twin.Version{Cloud: 3, Edge: 1}), 3, "1", twin.Version{}, false},
		{"newer generation wins over the edge", withDesired("9", twin.Version{Cloud: 3, Edge: 1}), 4, "2", twin.Version{Cloud: 4, Edge: 1}, true},
		{"no generation, same value", withDesired("1", twin.Version{Cloud: 5}), 0, "1", twin.Version{}, false},
		{"no generation, new value", withDesired("1", twin.Version{Cloud: 5, Edge: 2}), 0, "2", twin.Version{Cloud: 6, Edge: 2}, true},
	} {
		v, ok := cloudVersion(c.cur, c.gen, c.value)
		if v != c.want || ok != c.ok {
			t.Errorf("%s: got %+v %v, want %+v %v", c.name, v, ok, c.want, c.ok)
		}
		if ok { // the store's rule applies it
			if _, out, err := twin.Apply(c.cur, twin.Update{Source: twin.FromCloud, Value: c.value, Version: v}); err != nil || out != twin.Applied {
				t.Errorf("%s: Apply: %v %v", c.name, out, err)
			}
		}
	}
}

func TestTwinType(t *testing.T) {
	for in, want := range map[string]string{"INT": "int", "integer": "integer", "FLOAT": "float", "DOUBLE": "double",
		"BOOLEAN": "boolean", "bool": "boolean", "STRING": "string", "BYTES": "bytes", "STREAM": "bytes", "": "", "weird": ""} {
		if got := twinType(in); got != want || !twin.ValidType(got) {
			t.Errorf("twinType(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDeviceStatus(t *testing.T) {
	d := twin.Device{Namespace: "default", Name: "thermo", State: twin.StateOnline, LastOnline: 1700000000000,
		Twins: []twin.Twin{
			{Name: "empty"},
			{Name: "target", Type: "int", Desired: twin.Value{Value: "22", Timestamp: 5}, Reported: twin.Value{Value: "21", Timestamp: 6}},
			{Name: "mode", Reported: twin.Value{Value: "eco"}},
		}}
	st := DeviceStatus(d)
	if st.State != "online" || st.LastOnlineTime != "2023-11-14T22:13:20Z" || len(st.Twins) != 2 {
		t.Fatalf("%+v", st)
	}
	tg := st.Twins[0]
	if tg.PropertyName != "target" || tg.Reported.Value != "21" || tg.ObservedDesired.Value != "22" ||
		tg.Reported.Metadata["timestamp"] != "6" || tg.Reported.Metadata["type"] != "int" {
		t.Fatalf("%+v", tg)
	}
	if m := st.Twins[1]; m.PropertyName != "mode" || m.Reported.Metadata["type"] != "string" || m.ObservedDesired.Value != "" {
		t.Fatalf("%+v", m)
	}
}

func TestEventID(t *testing.T) {
	for in, want := range map[string]string{`{"event_id":"a"}`: "a", `{"event_id":"b","twin":5}`: "b",
		`{"event_id":"c","twin":{`: "", `not json`: "", `{"event_id":7}`: ""} {
		if got := eventID([]byte(in)); got != want {
			t.Errorf("eventID(%s) = %q, want %q", in, got, want)
		}
	}
}
