package api

import (
	"strings"
	"testing"
)

// refMatch is a plain reading of MQTT 3.1.1 section 4.7, used to check Match.
func refMatch(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	f, t := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, level := range f {
		if level == "#" {
			return i == len(f)-1
		}
		if i >= len(t) {
			return false
		}
		if level != "+" && level != t[i] {
			return false
		}
	}
	return len(f) == len(t)
}

// FuzzTopicMatch feeds Match, Covers and the validators arbitrary filters and topics, as devices may
// send anything: nothing panics, Match agrees with the reference on valid input, and Covers is sound.
func FuzzTopicMatch(f *testing.F) {
	seeds := [][2]string{
		{FilterDeviceTwin, "$hw/events/device/thermo-1/twin/update"},
		{FilterDeviceTwinNS, "$hw/events/device/default/thermo-1/twin/update"},
		{FilterDeviceStateNS, "$hw/events/device/default/thermo-1/state/update"},
		{FilterNodeMembershipGet, "$hw/events/node/edge-1/membership/get"},
		{FilterUpload, "$hw/events/upload/records/1"},
		{FilterUser, "app/user/x"},
		{"#", "$SYS/broker/uptime"},
		{"a/#", "a"},
		{"+/+", "/"},
		{"a/+/#", "a//"},
		{"", ""},
		{"#/a", "a"},
		{"a\x00", "a\x00"},
		{"\xc2\x85", "\xff\xfe"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, filter, topic string) {
		// Never panics, whatever the input.
		m := Match(filter, topic)
		_ = Covers(filter, topic)
		_ = Covers(topic, filter)
		ferr, terr := ValidFilter(filter), ValidTopic(topic)
		if terr == nil && ValidFilter(topic) != nil {
			t.Fatalf("topic %q is valid but not as a filter", topic)
		}
		if ferr != nil || terr != nil {
			return
		}
		if want := refMatch(filter, topic); m != want {
			t.Fatalf("Match(%q, %q) = %v, reference says %v", filter, topic, m, want)
		}
		if !Covers(filter, filter) {
			t.Fatalf("Covers(%q, itself) = false", filter)
		}
		// A topic is a filter that matches only itself.
		if Covers(filter, topic) != m {
			t.Fatalf("Covers(%q, %q) = %v, Match = %v", filter, topic, !m, m)
		}
		// Soundness: whatever a covered filter matches, the cover matches too. The topic generalised at
		// its last level (to '+' and to '#') is a filter that matches topic.
		i := strings.LastIndexByte(topic, '/')
		for _, last := range []string{"+", "#"} {
			spec := topic[:i+1] + last
			if ValidFilter(spec) != nil || !refMatch(spec, topic) {
				continue
			}
			if Covers(filter, spec) && !m {
				t.Fatalf("Covers(%q, %q) but %q does not match %q", filter, spec, filter, topic)
			}
		}
	})
}
