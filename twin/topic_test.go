package twin

import (
	"errors"
	"testing"
)

func TestParseTopic(t *testing.T) {
	ok := []struct {
		topic string
		want  Topic
	}{
		{"$hw/events/device/default/thermostat/twin/update", Topic{Kind: KindTwinUpdate, DeviceID: "default/thermostat"}},
		{"$hw/events/device/default/thermostat/twin/update/result", Topic{Kind: KindTwinUpdateResult, DeviceID: "default/thermostat"}},
		{"$hw/events/device/default/thermostat/twin/update/delta", Topic{Kind: KindTwinUpdateDelta, DeviceID: "default/thermostat"}},
		{"$hw/events/device/default/thermostat/twin/update/document", Topic{Kind: KindTwinUpdateDocument, DeviceID: "default/thermostat"}},
		{"$hw/events/device/default/thermostat/twin/get", Topic{Kind: KindTwinGet, DeviceID: "default/thermostat"}},
		{"$hw/events/device/default/thermostat/twin/get/result", Topic{Kind: KindTwinGetResult, DeviceID: "default/thermostat"}},
		{"$hw/events/device/default/thermostat/state/update", Topic{Kind: KindStateUpdate, DeviceID: "default/thermostat"}},
		{"$hw/events/device/default/thermostat/state/update/result", Topic{Kind: KindStateUpdateResult, DeviceID: "default/thermostat"}},
		// the older single-segment id
		{"$hw/events/device/sensor-7/twin/update", Topic{Kind: KindTwinUpdate, DeviceID: "sensor-7"}},
		{"$hw/events/device/sensor-7/twin/update/delta", Topic{Kind: KindTwinUpdateDelta, DeviceID: "sensor-7"}},
		{"$hw/events/device/sensor-7/state/update/result", Topic{Kind: KindStateUpdateResult, DeviceID: "sensor-7"}},
		// ids that look like kind words are matched from the end
		{"$hw/events/device/twin/update/twin/update", Topic{Kind: KindTwinUpdate, DeviceID: "twin/update"}},
		{"$hw/events/device/state/twin/get/result", Topic{Kind: KindTwinGetResult, DeviceID: "state"}},
		{"$hw/events/device/twin/twin/update/result", Topic{Kind: KindTwinUpdateResult, DeviceID: "twin"}},
		// nodes
		{"$hw/events/node/edge-1/membership/get", Topic{Kind: KindMembershipGet, Node: "edge-1"}},
		{"$hw/events/node/edge-1/membership/get/result", Topic{Kind: KindMembershipGetResult, Node: "edge-1"}},
	}
	for _, tc := range ok {
		got, err := ParseTopic(tc.topic)
		if err != nil || got != tc.want {
			t.Errorf("ParseTopic(%q) = %+v, %v; want %+v", tc.topic, got, err, tc.want)
			continue
		}
		if back, err := BuildTopic(got); err != nil || back != tc.topic {
			t.Errorf("BuildTopic(%+v) = %q, %v; want %q", got, back, err, tc.topic)
		}
	}
	bad := []string{
		"",
		"$hw/events/device/",
		"$hw/events/device/twin/update",       // no id
		"$hw/events/device/a/b/c/twin/update", // three id segments
		"$hw/events/device//x/twin/update",    // empty segment
		"$hw/events/device/a/twin/updated",    // unknown kind
		"$hw/events/device/a/twin/update/",    // trailing slash
		"$hw/events/device/+/twin/update",     // wildcard (a subscription, not a topic)
		"$hw/events/device/a/b/twin/cloud_updated",
		"$hw/events/node/edge-1/membership/updated",
		"$hw/events/node//membership/get",
		"$hw/events/node/a/b/membership/get",
		"$hw/events/upload/x",
		"hw/events/device/a/twin/update",
	}
	for _, topic := range bad {
		if got, err := ParseTopic(topic); !errors.Is(err, ErrBadTopic) {
			t.Errorf("ParseTopic(%q) = %+v, %v; want ErrBadTopic", topic, got, err)
		}
	}
}

func TestBuildTopic(t *testing.T) {
	if s, err := DeviceTopic("default/thermostat", KindTwinUpdateDelta); err != nil || s != "$hw/events/device/default/thermostat/twin/update/delta" {
		t.Errorf("DeviceTopic = %q, %v", s, err)
	}
	if s, err := NodeTopic("edge-1", KindMembershipGetResult); err != nil || s != "$hw/events/node/edge-1/membership/get/result" {
		t.Errorf("NodeTopic = %q, %v", s, err)
	}
	for _, tc := range []Topic{
		{Kind: KindTwinUpdate, DeviceID: "a/b/c"},
		{Kind: KindTwinUpdate},
		{Kind: KindMembershipGet, Node: "a/b"},
		{Kind: 0, DeviceID: "a"},
		{Kind: kindEnd, DeviceID: "a"},
	} {
		if s, err := BuildTopic(tc); !errors.Is(err, ErrBadTopic) || tc.String() != "" {
			t.Errorf("BuildTopic(%+v) = %q, %v; want ErrBadTopic", tc, s, err)
		}
	}
	if _, err := DeviceTopic("a", KindMembershipGet); !errors.Is(err, ErrBadTopic) {
		t.Error("DeviceTopic accepted a node kind")
	}
	if _, err := NodeTopic("a", KindTwinGet); !errors.Is(err, ErrBadTopic) {
		t.Error("NodeTopic accepted a device kind")
	}
	for k := KindTwinUpdate; k < kindEnd; k++ {
		if k.String() == "" || k.suffix() == "" {
			t.Errorf("kind %d has no name", k)
		}
	}
}
