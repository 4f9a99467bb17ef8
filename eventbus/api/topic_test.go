package api

import (
	"errors"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		filter, topic string
		want          bool
	}{
		{"a/b/c", "a/b/c", true},
		{"a/b/c", "a/b", false},
		{"a/b", "a/b/c", false},
		{"a/+/c", "a/b/c", true},
		{"a/+/c", "a//c", true}, // '+' matches an empty level
		{"a/+", "a/b/c", false},
		{"a/+", "a", false},
		{"a/#", "a", true}, // '#' matches the parent level
		{"a/#", "a/b/c", true},
		{"a/#", "ab", false},
		{"#", "a/b", true},
		{"#", "/", true},
		{"+", "a", true},
		{"+", "/a", false},
		{"+/+", "/a", true},
		{"/+", "/a", true},
		{"+/user/#", "app/user/x/y", true},
		{"+/user/#", "app/user", true},
		// '$' topics are not matched by filters starting with a wildcard.
		{"#", "$SYS/uptime", false},
		{"+/events/#", "$hw/events/upload/x", false},
		{"$hw/events/upload/#", "$hw/events/upload/x", true},
		{FilterDeviceTwin, "$hw/events/device/thermo-1/twin/update", true},
		{FilterDeviceTwin, "$hw/events/device/default/thermo-1/twin/update", false},
		{FilterDeviceTwin, "$hw/events/device/thermo-1/twin/update/result", false},
		{FilterDeviceTwinNS, "$hw/events/device/default/thermo-1/twin/update", true},
		{FilterDeviceTwinNS, "$hw/events/device/default/thermo-1/twin/get", true},
		{FilterDeviceTwinNS, "$hw/events/device/thermo-1/twin/update/delta", false},
		{FilterDeviceTwinNS, "$hw/events/device/default/thermo-1/twin/update/result", false},
		{FilterDeviceState, "$hw/events/device/thermo-1/state/update", true},
		{FilterDeviceStateNS, "$hw/events/device/default/thermo-1/state/update", true},
		{FilterNodeMembershipGet, "$hw/events/node/edge-1/membership/get", true},
		{FilterNodeMembershipGet, "$hw/events/node/edge-1/membership/get/result", false},
		{FilterUpload, "$hw/events/upload/records", true},
		{FilterUser, "$hw/user/x", false},
	}
	for _, tc := range tests {
		if got := Match(tc.filter, tc.topic); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
		if got := refMatch(tc.filter, tc.topic); got != tc.want {
			t.Errorf("refMatch(%q, %q) = %v, want %v (the reference is wrong)", tc.filter, tc.topic, got, tc.want)
		}
	}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		general, specific string
		want              bool
	}{
		{"a/b", "a/b", true},
		{"a/+", "a/b", true},
		{"a/+", "a/+", true},
		{"a/b", "a/+", false},
		{"a/#", "a", true},
		{"a/#", "a/+/c", true},
		{"a/#", "a/#", true},
		{"a/+", "a/#", false},
		{"a/+", "a", false},
		{"a", "a/#", false},
		{"#", "a/#", true},
		{"#", "$SYS/#", false},
		{"+/user/#", "app/user/+", true},
		{"+/user/#", "$hw/user/x", false},
		{"$hw/events/device/#", FilterDeviceTwin, true},
		{FilterDeviceTwin, FilterDeviceTwinNS, false},
		{FilterDeviceTwinNS, FilterDeviceTwin, false},
		{FilterUpload, FilterUser, false},
		{"+/#", "#", false}, // equivalent, but Covers is only sound, not complete
	}
	for _, tc := range tests {
		if got := Covers(tc.general, tc.specific); got != tc.want {
			t.Errorf("Covers(%q, %q) = %v, want %v", tc.general, tc.specific, got, tc.want)
		}
	}
}

func TestValidTopicAndFilter(t *testing.T) {
	tests := []struct {
		s             string
		topic, filter bool
	}{
		{"a/b", true, true},
		{"/", true, true},
		{"$hw/events/device/default/thermo-1/twin/update", true, true},
		{"", false, false},
		{"a/+", false, true},
		{"a/#", false, true},
		{"#", false, true},
		{"a/#/b", false, false},
		{"a/b+", false, false},
		{"a/#b", false, false},
		{"a\x00b", false, false},
		{"a\nb", false, false},
		{"a\u0085b", false, false}, // C1 control character
		{"a\u00a0b", true, true},   // NBSP is fine
		{"\xff", false, false},
		{"température/🌡", true, true},
		{strings.Repeat("a", MaxTopicLen), true, true},
		{strings.Repeat("a", MaxTopicLen+1), false, false},
	}
	for _, tc := range tests {
		err := ValidTopic(tc.s)
		if (err == nil) != tc.topic {
			t.Errorf("ValidTopic(%.40q) = %v, want ok=%v", tc.s, err, tc.topic)
		}
		if err != nil && !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("ValidTopic(%.40q) = %v, not ErrInvalidTopic", tc.s, err)
		}
		err = ValidFilter(tc.s)
		if (err == nil) != tc.filter {
			t.Errorf("ValidFilter(%.40q) = %v, want ok=%v", tc.s, err, tc.filter)
		}
		if err != nil && !errors.Is(err, ErrInvalidFilter) {
			t.Errorf("ValidFilter(%.40q) = %v, not ErrInvalidFilter", tc.s, err)
		}
	}
}

func TestDefaultFiltersAreValidAndDisjoint(t *testing.T) {
	all := append(DeviceFilters(), HubFilters()...)
	for i, a := range all {
		if err := ValidFilter(a); err != nil {
			t.Errorf("default filter %q: %v", a, err)
		}
		for j, b := range all {
			if i != j && Covers(a, b) {
				t.Errorf("default filter %q covers %q: a broker could deliver twice", a, b)
			}
		}
	}
}

func TestQoS(t *testing.T) {
	tests := []struct {
		q, def QoS
		want   byte
	}{
		{QoSDefault, QoSDefault, 1},
		{QoSDefault, QoS0, 0},
		{QoSDefault, QoS2, 2},
		{QoS0, QoS1, 0},
		{QoS1, QoS0, 1},
		{QoS2, QoS0, 2},
	}
	for _, tc := range tests {
		if got := tc.q.Wire(tc.def); got != tc.want {
			t.Errorf("%v.Wire(%v) = %d, want %d", tc.q, tc.def, got, tc.want)
		}
	}
	if QoS(4).Valid() || !QoS2.Valid() {
		t.Error("Valid is wrong")
	}
}

func TestTarget(t *testing.T) {
	if err := (Target{}).Validate(); err == nil {
		t.Error("zero target validated")
	}
	if err := (Target{Module: "a", Group: "b"}).Validate(); err == nil {
		t.Error("target with module and group validated")
	}
	if err := (Target{Module: "twin"}).Validate(); err != nil {
		t.Error(err)
	}
	m := NewSubscribeMessage("a/#", Target{}, false)
	if m.Router.Operation != OpSubscribe || m.Content != nil {
		t.Errorf("NewSubscribeMessage = %+v", m)
	}
	m = NewSubscribeMessage("a/#", Target{Group: "hub"}, true)
	if s, ok := m.Content.(Subscription); m.Router.Operation != OpUnsubscribe || !ok || s.Target.Group != "hub" {
		t.Errorf("NewSubscribeMessage = %+v", m)
	}
}

func BenchmarkMatch(b *testing.B) {
	topic := "$hw/events/device/default/thermo-1/twin/update"
	filters := append(DeviceFilters(), HubFilters()...)
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range filters {
			Match(f, topic)
		}
	}
}
