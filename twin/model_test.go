package twin

import (
	"errors"
	"strings"
	"testing"
)

func TestDeviceIDs(t *testing.T) {
	for _, tc := range []struct {
		id, ns, name string
		ok           bool
	}{
		{"default/thermostat", "default", "thermostat", true},
		{"sensor-7", "", "sensor-7", true},
		{"a/b/c", "", "", false},
		{"", "", "", false},
		{"/x", "", "", false},
		{"x/", "", "", false},
		{"a+/b", "", "", false},
		{"a/#", "", "", false},
		{"a\x00b", "", "", false},
		{strings.Repeat("n", MaxIDSegment+1), "", "", false},
	} {
		ns, name, ok := SplitDeviceID(tc.id)
		if ok != tc.ok || ns != tc.ns || name != tc.name {
			t.Errorf("SplitDeviceID(%q) = %q, %q, %v; want %q, %q, %v", tc.id, ns, name, ok, tc.ns, tc.name, tc.ok)
		}
		if ok && DeviceID(ns, name) != tc.id {
			t.Errorf("DeviceID(%q, %q) = %q, want %q", ns, name, DeviceID(ns, name), tc.id)
		}
	}
	if (Device{Namespace: "ns", Name: "n"}).ID() != "ns/n" || (Device{Name: "n"}).ID() != "n" {
		t.Fatal("Device.ID")
	}
}

func TestTwinNamesAndValues(t *testing.T) {
	for name, ok := range map[string]bool{
		"temperature": true, "a-b_c.d,e:f/g@h#i": true, strings.Repeat("x", 128): true,
		"": false, "with space": false, "é": false, strings.Repeat("x", 129): false,
	} {
		if ValidTwinName(name) != ok {
			t.Errorf("ValidTwinName(%q) = %v, want %v", name, !ok, ok)
		}
	}
	for _, tc := range []struct {
		typ, value string
		ok         bool
	}{
		{"", "anything at all", true}, {"string", "x", true}, {"bytes", "x", true},
		{"int", "-42", true}, {"integer", "7", true}, {"int", "4.2", false}, {"int", "x", false},
		{"float", "4.2", true}, {"double", "1e3", true}, {"float", "x", false},
		{"boolean", "true", true}, {"boolean", "false", true}, {"boolean", "yes", false},
		{"int", "", true}, // no value is always allowed
		{"complex", "1", false},
		{"string", strings.Repeat("v", MaxValueLen), true}, {"string", strings.Repeat("v", MaxValueLen+1), false},
	} {
		err := CheckValue(tc.typ, tc.value)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("CheckValue(%q, %.20q) = %v, want ok=%v", tc.typ, tc.value, err, tc.ok)
		}
	}
}

func TestDeviceValidate(t *testing.T) {
	good := Device{Namespace: "default", Name: "d", State: StateOnline,
		Attributes: map[string]Attribute{"model": {Value: "x"}},
		Twins:      []Twin{{Name: "a", Type: "int", Desired: Value{Value: "1"}}, {Name: "b"}}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(d *Device){
		"no name":         func(d *Device) { d.Name = "" },
		"slash in name":   func(d *Device) { d.Name = "a/b" },
		"bad state":       func(d *Device) { d.State = "asleep" },
		"bad attribute":   func(d *Device) { d.Attributes = map[string]Attribute{"a b": {}} },
		"duplicate twin":  func(d *Device) { d.Twins = append(d.Twins, Twin{Name: "a"}) },
		"bad twin type":   func(d *Device) { d.Twins = []Twin{{Name: "a", Type: "uuid"}} },
		"bad twin value":  func(d *Device) { d.Twins = []Twin{{Name: "a", Type: "int", Reported: Value{Value: "x"}}} },
		"empty twin name": func(d *Device) { d.Twins = []Twin{{}} },
	} {
		d := good
		mutate(&d)
		if err := d.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate = %v, want ErrInvalid", name, err)
		}
	}
}

func TestDeviceTwinLookup(t *testing.T) {
	d := Device{Twins: []Twin{{Name: "c"}, {Name: "a"}, {Name: "b"}}}
	SortTwins(d.Twins)
	for _, n := range []string{"a", "b", "c"} {
		if tw, ok := d.Twin(n); !ok || tw.Name != n {
			t.Errorf("Twin(%q) = %v, %v", n, tw, ok)
		}
	}
	if _, ok := d.Twin("z"); ok {
		t.Error("Twin(z) found")
	}
}
