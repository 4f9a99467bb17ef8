package twin

import (
	"errors"
	"reflect"
	"testing"
)

// base is a twin whose desired value came from the cloud at version {3, 1} (the cloud has seen one edge
// change) and whose reported value the device sent twice.
func base() Twin {
	return Twin{
		Name: "temperature", Type: "int", Optional: true,
		Desired:  Value{Value: "21", Timestamp: 100, Version: Version{Cloud: 3, Edge: 1}},
		Reported: Value{Value: "19", Timestamp: 110, Version: Version{Cloud: 0, Edge: 2}},
	}
}

// TestApplyRules is the version/conflict table of the package documentation, row by row.
func TestApplyRules(t *testing.T) {
	desired := func(v string, ts int64, ver Version) Twin { t := base(); t.Desired = Value{v, ts, ver}; return t }
	reported := func(v string, ts int64, ver Version) Twin { t := base(); t.Reported = Value{v, ts, ver}; return t }
	tests := []struct {
		name    string
		in      Twin
		u       Update
		want    Twin
		outcome Outcome
		err     error
	}{
		// cloud
		{"cloud: older cloud version is stale", base(),
			Update{Source: FromCloud, Value: "30", Timestamp: 200, Version: Version{Cloud: 2, Edge: 5}},
			base(), Stale, nil},
		{"cloud: stale wins over conflict", base(),
			Update{Source: FromCloud, Value: "30", Timestamp: 200, Version: Version{Cloud: 2, Edge: 0}},
			base(), Stale, nil},
		{"cloud: has not seen the edge's change: conflict, edge wins", base(),
			Update{Source: FromCloud, Value: "30", Timestamp: 200, Version: Version{Cloud: 4, Edge: 0}},
			base(), Conflict, nil},
		{"cloud: same version, same value: redelivery", base(),
			Update{Source: FromCloud, Value: "21", Timestamp: 200, Version: Version{Cloud: 3, Edge: 1}},
			base(), Unchanged, nil},
		{"cloud: same version, other value: applied", base(),
			Update{Source: FromCloud, Value: "22", Timestamp: 200, Version: Version{Cloud: 3, Edge: 1}},
			desired("22", 200, Version{Cloud: 3, Edge: 1}), Applied, nil},
		{"cloud: newer version: applied, versions adopted", base(),
			Update{Source: FromCloud, Value: "25", Timestamp: 200, Version: Version{Cloud: 4, Edge: 1}},
			desired("25", 200, Version{Cloud: 4, Edge: 1}), Applied, nil},
		{"cloud: newer on both counters: applied", base(),
			Update{Source: FromCloud, Value: "25", Timestamp: 200, Version: Version{Cloud: 9, Edge: 7}},
			desired("25", 200, Version{Cloud: 9, Edge: 7}), Applied, nil},
		{"cloud: newer version, same value: applied (version moves)", base(),
			Update{Source: FromCloud, Value: "21", Timestamp: 200, Version: Version{Cloud: 4, Edge: 1}},
			desired("21", 200, Version{Cloud: 4, Edge: 1}), Applied, nil},
		{"cloud: first desired of a new twin at version 0", Twin{Name: "t", Optional: true},
			Update{Source: FromCloud, Value: "on", Timestamp: 200},
			Twin{Name: "t", Optional: true, Desired: Value{"on", 200, Version{}}}, Applied, nil},
		{"cloud: clears the desired value", base(),
			Update{Source: FromCloud, Value: "", Timestamp: 200, Version: Version{Cloud: 4, Edge: 1}},
			desired("", 200, Version{Cloud: 4, Edge: 1}), Applied, nil},
		{"cloud: never touches reported", reported("5", 1, Version{Edge: 9}),
			Update{Source: FromCloud, Value: "25", Timestamp: 200, Version: Version{Cloud: 4, Edge: 1}},
			func() Twin {
				t := reported("5", 1, Version{Edge: 9})
				t.Desired = Value{"25", 200, Version{4, 1}}
				return t
			}(),
			Applied, nil},
		// edge
		{"edge: new desired bumps the edge counter", base(),
			Update{Source: FromEdge, Value: "23", Timestamp: 200, Version: Version{Cloud: 99}},
			desired("23", 200, Version{Cloud: 3, Edge: 2}), Applied, nil},
		{"edge: same desired is unchanged (no bump)", base(),
			Update{Source: FromEdge, Value: "21", Timestamp: 200},
			base(), Unchanged, nil},
		// device
		{"device: reported applied, edge counter bumped", base(),
			Update{Source: FromDevice, Value: "20", Timestamp: 200},
			reported("20", 200, Version{Cloud: 0, Edge: 3}), Applied, nil},
		{"device: same value refreshes the timestamp", base(),
			Update{Source: FromDevice, Value: "19", Timestamp: 200},
			reported("19", 200, Version{Cloud: 0, Edge: 3}), Applied, nil},
		{"device: older timestamp still wins (arrival order)", base(),
			Update{Source: FromDevice, Value: "18", Timestamp: 50},
			reported("18", 50, Version{Cloud: 0, Edge: 3}), Applied, nil},
		{"device: version in the update is ignored", base(),
			Update{Source: FromDevice, Value: "20", Timestamp: 200, Version: Version{Cloud: 1, Edge: 1}},
			reported("20", 200, Version{Cloud: 0, Edge: 3}), Applied, nil},
		{"device: equal to desired leaves desired alone", base(),
			Update{Source: FromDevice, Value: "21", Timestamp: 200},
			reported("21", 200, Version{Cloud: 0, Edge: 3}), Applied, nil},
		// errors
		{"any: value not of the twin's type", base(),
			Update{Source: FromDevice, Value: "warm", Timestamp: 200}, base(), 0, ErrInvalid},
		{"any: value too long", Twin{Name: "s"},
			Update{Source: FromEdge, Value: string(make([]byte, MaxValueLen+1))}, Twin{Name: "s"}, 0, ErrInvalid},
		{"any: unknown source", base(), Update{Source: 0, Value: "20"}, base(), 0, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			got, outcome, err := Apply(in, tc.u)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if outcome != tc.outcome {
				t.Errorf("outcome = %v, want %v", outcome, tc.outcome)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("twin =\n  %+v\nwant\n  %+v", got, tc.want)
			}
			if !reflect.DeepEqual(in, tc.in) {
				t.Errorf("Apply modified its input")
			}
		})
	}
}

// A race between the cloud and the edge, step by step: the edge's change wins until the cloud has seen
// it, and the cloud's later change then wins.
func TestApplyRaceScenario(t *testing.T) {
	tw := Twin{Name: "mode", Optional: true}
	step := func(u Update, want Outcome, wantValue string) {
		t.Helper()
		var got Outcome
		var err error
		tw, got, err = Apply(tw, u)
		if err != nil || got != want || tw.Desired.Value != wantValue {
			t.Fatalf("after %+v: outcome %v (err %v), desired %q; want %v, %q", u, got, err, tw.Desired.Value, want, wantValue)
		}
	}
	step(Update{Source: FromCloud, Value: "eco", Version: Version{Cloud: 1}}, Applied, "eco")
	step(Update{Source: FromDevice, Value: "eco"}, Applied, "eco")
	step(Update{Source: FromEdge, Value: "boost"}, Applied, "boost") // desired {1,1}
	step(Update{Source: FromCloud, Value: "off", Version: Version{Cloud: 2}}, Conflict, "boost")
	step(Update{Source: FromCloud, Value: "eco", Version: Version{Cloud: 1}}, Conflict, "boost") // redelivery, edge still ahead
	step(Update{Source: FromCloud, Value: "off", Version: Version{Cloud: 3, Edge: 1}}, Applied, "off")
	step(Update{Source: FromCloud, Value: "off", Version: Version{Cloud: 2}}, Stale, "off") // the conflicting one, late
	step(Update{Source: FromCloud, Value: "off", Version: Version{Cloud: 3, Edge: 1}}, Unchanged, "off")
	if tw.Reported.Value != "eco" || tw.Desired.Version != (Version{Cloud: 3, Edge: 1}) {
		t.Fatalf("final twin %+v", tw)
	}
}

func TestDelta(t *testing.T) {
	twins := []Twin{
		{Name: "a", Desired: Value{Value: "1"}, Reported: Value{Value: "1"}}, // in sync
		{Name: "b", Desired: Value{Value: "2"}, Reported: Value{Value: "1"}}, // differs
		{Name: "c", Desired: Value{Value: "3"}},                              // never reported
		{Name: "d", Reported: Value{Value: "4"}},                             // no desired: not in delta
		{Name: "e"},
	}
	got := Delta(twins)
	if len(got) != 2 || got[0].Name != "b" || got[1].Name != "c" {
		t.Fatalf("Delta = %v, want [b c]", got)
	}
	if m := DeltaValues(twins); !reflect.DeepEqual(m, map[string]string{"b": "2", "c": "3"}) {
		t.Fatalf("DeltaValues = %v", m)
	}
	if Delta(nil) != nil || len(DeltaValues(nil)) != 0 {
		t.Fatal("delta of nothing is not empty")
	}
}
