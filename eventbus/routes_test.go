package eventbus

import (
	"errors"
	"slices"
	"testing"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/eventbus/api"
)

var (
	twin = api.Target{Group: beehive.GroupTwin}
	hub  = api.Target{Group: beehive.GroupHub}
	app  = api.Target{Module: "app"}
)

func TestTableMatch(t *testing.T) {
	tb := &table{routes: []route{
		{filter: api.FilterDeviceTwinNS, target: twin, static: true, device: true},
		{filter: api.FilterUpload, target: hub, static: true},
		{filter: "$hw/events/device/#", target: app},
		{filter: "$hw/events/device/+/+/twin/update", target: app}, // same target twice: delivered once
		{filter: "$hw/events/device/+/+/twin/+", target: hub},      // a device topic for a non-device route
	}}
	tests := []struct {
		topic string
		want  []hit
	}{
		{"$hw/events/device/ns/d/twin/update", []hit{{twin, true}, {app, false}, {hub, false}}},
		{"$hw/events/device/ns/d/other", []hit{{app, false}}},
		{"$hw/events/upload/x", []hit{{hub, false}}},
		{"nothing/here", nil},
	}
	for _, tc := range tests {
		var buf [4]hit
		if got := tb.match(tc.topic, buf[:0]); !slices.Equal(got, tc.want) {
			t.Errorf("match(%q) = %v, want %v", tc.topic, got, tc.want)
		}
	}
	// A target reached by a device route and another route is not held to the JSON rule.
	tb = &table{routes: []route{
		{filter: api.FilterDeviceTwinNS, target: twin, device: true},
		{filter: "$hw/events/device/#", target: twin},
	}}
	if got := tb.match("$hw/events/device/ns/d/twin/get", nil); !slices.Equal(got, []hit{{twin, false}}) {
		t.Errorf("merged hit %v", got)
	}
}

func TestTableWithWithout(t *testing.T) {
	b, _ := New(Config{})
	base := b.routes.Load()
	n := len(base.routes)
	tb := base.with(route{filter: "a/+", target: app})
	if len(tb.routes) != n+1 || len(base.routes) != n {
		t.Fatalf("with: %d routes (base %d)", len(tb.routes), len(base.routes))
	}
	if again := tb.with(route{filter: "a/+", target: app}); again != tb {
		t.Error("adding an existing route made a new table")
	}
	if _, err := tb.without("a/+", hub); !errors.Is(err, api.ErrNotSubscribed) {
		t.Errorf("without another target: %v", err)
	}
	if _, err := tb.without(api.FilterUpload, hub); !errors.Is(err, api.ErrStaticRoute) {
		t.Errorf("without a static route: %v", err)
	}
	tb2, err := tb.without("a/+", app)
	if err != nil || len(tb2.routes) != n || len(tb.routes) != n+1 {
		t.Errorf("without: %v, %d routes", err, len(tb2.routes))
	}
}

func TestMinimalCover(t *testing.T) {
	tests := []struct {
		in, want []string
	}{
		{nil, []string{}},
		{[]string{"a/b", "a/b"}, []string{"a/b"}},
		{[]string{"a/b", "a/+", "a/#", "b"}, []string{"a/#", "b"}},
		{[]string{api.FilterDeviceTwin, api.FilterDeviceTwinNS, "$hw/events/device/#", api.FilterUpload},
			[]string{"$hw/events/device/#", api.FilterUpload}},
		{[]string{"#", "$SYS/#", "x/y"}, []string{"#", "$SYS/#"}}, // '#' does not match '$' topics
		{[]string{"+/#", "#"}, []string{"#"}},                     // equivalent: one is enough
	}
	for _, tc := range tests {
		if got := minimalCover(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("minimalCover(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDiff(t *testing.T) {
	add, remove := diff([]string{"a", "b", "c"}, []string{"b", "c", "d"})
	if !slices.Equal(add, []string{"d"}) || !slices.Equal(remove, []string{"a"}) {
		t.Errorf("diff = %v, %v", add, remove)
	}
}
