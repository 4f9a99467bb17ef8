package twin

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// asPayload adapts a typed decoder to one returning a Payload.
func asPayload[T any, P interface {
	*T
	Payload
}](dec func([]byte) (*T, error)) func([]byte) (Payload, error) {
	return func(b []byte) (Payload, error) {
		v, err := dec(b)
		if err != nil {
			return nil, err
		}
		return P(v), nil
	}
}

// golden maps each file of testdata/ to the decoder of its payload.
func golden() map[string]func([]byte) (Payload, error) {
	return map[string]func([]byte) (Payload, error){
		"twin_update.json":              asPayload(DecodeTwinUpdate),
		"twin_update_actual.json":       asPayload(DecodeTwinUpdate),
		"twin_update_result.json":       asPayload(DecodeTwinResult),
		"twin_update_result_error.json": asPayload(DecodeErrorResult),
		"twin_delta.json":               asPayload(DecodeTwinDelta),
		"twin_document.json":            asPayload(DecodeTwinDocument),
		"twin_get.json":                 asPayload(DecodeGet),
		"twin_get_result.json":          asPayload(DecodeTwinResult),
		"state_update.json":             asPayload(DecodeStateUpdate),
		"state_update_result.json":      asPayload(DecodeStateUpdateResult),
		"membership_get.json":           asPayload(DecodeGet),
		"membership_get_result.json":    asPayload(DecodeMembershipGetResult),
		"error_result.json":             asPayload(DecodeErrorResult),
	}
}

func readGolden(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameJSON reports whether a and b are the same JSON value (ignoring layout and key order).
func sameJSON(t testing.TB, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("unmarshal %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

// Every golden payload decodes and encodes back to the same JSON.
func TestGoldenRoundTrip(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files (%v)", err)
	}
	decoders := golden()
	for _, f := range files {
		name := filepath.Base(f)
		dec := decoders[name]
		if dec == nil {
			t.Errorf("%s: no decoder listed for this golden file", name)
			continue
		}
		in := readGolden(t, name)
		p, err := dec(in)
		if err != nil {
			t.Errorf("%s: decode: %v", name, err)
			continue
		}
		out, err := Encode(p)
		if err != nil {
			t.Errorf("%s: encode: %v", name, err)
			continue
		}
		if !sameJSON(t, in, out) {
			t.Errorf("%s: round trip changed the payload:\n in: %s\nout: %s", name, in, out)
		}
	}
}

// The builders produce KubeEdge's documented payloads.
func TestBuildersMatchGolden(t *testing.T) {
	state := Twin{Name: "state", Type: "string", Optional: true,
		Desired: Value{Value: "running", Timestamp: 1557314742122, Version: Version{Cloud: 1}}}
	delta := NewTwinDelta(BaseMessage{EventID: "b9625811-f34f-4252-bee9-98185e7e1ec7", Timestamp: 1557314742131},
		[]Twin{state, {Name: "no-desired", Reported: Value{Value: "x"}}})
	check := func(name string, p Payload) {
		t.Helper()
		b, err := Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		if want := readGolden(t, name); !sameJSON(t, b, want) {
			t.Errorf("%s:\n got %s\nwant %s", name, b, want)
		}
	}
	check("twin_delta.json", delta)
	check("twin_document.json", NewTwinDocument(BaseMessage{Timestamp: 1557314742122},
		[]Result{{DeviceID: "d", Outcome: Applied, After: state}, {Outcome: Stale, After: Twin{Name: "other"}}}))

	temp := Twin{Name: "temperature", Type: "int",
		Desired:  Value{Value: "", Timestamp: 0},
		Reported: Value{Value: "20", Timestamp: 1557314742135}}
	stateNow := state
	stateNow.Reported = Value{Value: "stopped", Timestamp: 1557314742135}
	check("twin_get_result.json", &TwinResult{BaseMessage: BaseMessage{EventID: "get-1", Timestamp: 1557314742140},
		Twin: ToMsgTwins([]Twin{stateNow, temp}, false)})

	lastOnline := time.Date(2019, 5, 8, 11, 25, 42, 0, time.UTC).UnixMilli()
	check("membership_get_result.json", &MembershipGetResult{
		BaseMessage: BaseMessage{EventID: "members-1", Timestamp: 1557314742160},
		Devices: []MsgDevice{
			ToMsgDevice(Device{Namespace: "default", Name: "thermostat", Description: "living room",
				State: StateOnline, LastOnline: lastOnline,
				Attributes: map[string]Attribute{"model": {Value: "TH-100", Type: "string"}},
				Twins:      []Twin{temp}}),
			ToMsgDevice(Device{Name: "sensor-7", State: StateUnknown}),
		}})
	check("twin_update_result_error.json", &ErrorResult{
		BaseMessage: BaseMessage{EventID: "123e4567-e89b-12d3-a456-426614174000", Timestamp: 1557314742130},
		Code:        ErrorCode(ErrNotFound), Reason: "twin: not found: device default/thermostat"})
	// A reader of …/twin/update/result decodes both answers with one type.
	if r, err := DecodeTwinResult(readGolden(t, "twin_update_result_error.json")); err != nil || r.Code != CodeNotFound || r.Twin != nil {
		t.Errorf("error answer as TwinResult: %+v, %v", r, err)
	}
	if b, _ := Encode(&TwinResult{Twin: map[string]*MsgTwin{}}); !strings.Contains(string(b), `"twin":{}`) {
		t.Errorf("a result without twins must still carry \"twin\": %s", b)
	}
	check("error_result.json", NewErrorResult("e-9", time.UnixMilli(1557314742170),
		fmt.Errorf("%w: twin update has no twin", ErrBadPayload)))
}

func TestDocumentKeepsFirstBeforeAndLastAfter(t *testing.T) {
	a1 := Twin{Name: "a", Reported: Value{Value: "1"}}
	a2 := Twin{Name: "a", Reported: Value{Value: "2"}}
	a3 := Twin{Name: "a", Reported: Value{Value: "3"}}
	doc := NewTwinDocument(BaseMessage{}, []Result{
		{Outcome: Applied, Before: a1, After: a2}, {Outcome: Applied, Before: a2, After: a3}})
	d := doc.Twin["a"]
	if d == nil || *d.Last.Actual.Value != "1" || *d.Current.Actual.Value != "3" {
		t.Fatalf("document %+v", d)
	}
}

func TestDecodeRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		dec  func([]byte) error
		in   string
		want error
	}{
		{"update without twin", func(b []byte) error { _, err := DecodeTwinUpdate(b); return err }, `{"event_id":"x"}`, ErrBadPayload},
		{"update with bad name", func(b []byte) error { _, err := DecodeTwinUpdate(b); return err },
			`{"twin":{"a b":{"actual":{"value":"1"}}}}`, ErrBadPayload},
		{"update with bad type", func(b []byte) error { _, err := DecodeTwinUpdate(b); return err },
			`{"twin":{"a":{"metadata":{"type":"uuid"}}}}`, ErrBadPayload},
		{"update with long value", func(b []byte) error { _, err := DecodeTwinUpdate(b); return err },
			`{"twin":{"a":{"expected":{"value":"` + strings.Repeat("v", MaxValueLen+1) + `"}}}}`, ErrBadPayload},
		{"update not JSON", func(b []byte) error { _, err := DecodeTwinUpdate(b); return err }, `{"twin":`, ErrBadPayload},
		{"update wrong types", func(b []byte) error { _, err := DecodeTwinUpdate(b); return err }, `{"timestamp":"now","twin":{}}`, ErrBadPayload},
		{"state unknown", func(b []byte) error { _, err := DecodeStateUpdate(b); return err }, `{"state":"asleep"}`, ErrBadPayload},
		{"state missing", func(b []byte) error { _, err := DecodeStateUpdate(b); return err }, `{}`, ErrBadPayload},
		{"trailing garbage", func(b []byte) error { _, err := DecodeGet(b); return err }, `{} {}`, ErrBadPayload},
	} {
		if err := tc.dec([]byte(tc.in)); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		} else if ErrorCode(err) != CodeBadRequest {
			t.Errorf("%s: code %d, want 400", tc.name, ErrorCode(err))
		}
	}
	if g, err := DecodeGet(nil); err != nil || g.EventID != "" {
		t.Errorf("empty get: %v, %v", g, err)
	}
}

// Oversized input is refused before it is parsed: almost no allocation whatever its size.
func TestDecodeRefusesOversizedInput(t *testing.T) {
	big := []byte(`{"twin":{"a":{"actual":{"value":"` + strings.Repeat("x", MaxPayloadSize) + `"}}}}`)
	decoders := []func([]byte) error{
		func(b []byte) error { _, err := DecodeTwinUpdate(b); return err },
		func(b []byte) error { _, err := DecodeTwinResult(b); return err },
		func(b []byte) error { _, err := DecodeTwinDelta(b); return err },
		func(b []byte) error { _, err := DecodeTwinDocument(b); return err },
		func(b []byte) error { _, err := DecodeGet(b); return err },
		func(b []byte) error { _, err := DecodeStateUpdate(b); return err },
		func(b []byte) error { _, err := DecodeStateUpdateResult(b); return err },
		func(b []byte) error { _, err := DecodeMembershipGetResult(b); return err },
		func(b []byte) error { _, err := DecodeErrorResult(b); return err },
	}
	for i, dec := range decoders {
		if err := dec(big); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("decoder %d: err = %v, want ErrTooLarge", i, err)
		}
		if allocs := testing.AllocsPerRun(10, func() { _ = dec(big) }); allocs > 8 {
			t.Errorf("decoder %d: %v allocations to refuse an oversized payload", i, allocs)
		}
	}
	// The limit is inclusive.
	ok := []byte(`{"event_id":"` + strings.Repeat("x", MaxPayloadSize-len(`{"event_id":""}`)) + `"}`)
	if len(ok) != MaxPayloadSize {
		t.Fatalf("test payload is %d bytes", len(ok))
	}
	if _, err := DecodeGet(ok); err != nil {
		t.Fatalf("payload of exactly MaxPayloadSize: %v", err)
	}
}

func TestTwinUpdateChanges(t *testing.T) {
	u, err := DecodeTwinUpdate(readGolden(t, "twin_update_actual.json"))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := u.Changes("default/thermostat")
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{
		{DeviceID: "default/thermostat", Twin: "power-state", Update: Update{Source: FromDevice, Value: "on"}},
		{DeviceID: "default/thermostat", Twin: "temperature", Type: "float", Update: Update{Source: FromDevice, Value: "19.5"}},
	}
	if !reflect.DeepEqual(cs, want) {
		t.Fatalf("Changes =\n %+v\nwant\n %+v", cs, want)
	}
	u, _ = DecodeTwinUpdate(readGolden(t, "twin_update.json"))
	cs, _ = u.Changes("d")
	if len(cs) != 2 || cs[0].Source != FromEdge || cs[0].Value != "21" || cs[1].Source != FromDevice || cs[1].Value != "20" {
		t.Fatalf("expected+actual: %+v", cs)
	}
	u, err = DecodeTwinUpdate([]byte(`{"twin":{"a":null}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Changes("d"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("null twin: %v, want ErrInvalid", err)
	}
}

func TestToMsgTwinVersions(t *testing.T) {
	tw := Twin{Name: "a", Desired: Value{Value: "1", Version: Version{Cloud: 2, Edge: 3}}, Reported: Value{Version: Version{Edge: 4}}}
	m := ToMsgTwin(tw, true)
	b, _ := json.Marshal(m)
	want := `{"expected":{"value":"1"},"optional":false,"metadata":{"type":"string"},"expected_version":{"cloud":2,"edge":3},"actual_version":{"cloud":0,"edge":4}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	if m := ToMsgTwin(tw, false); m.ExpectedVersion != nil || m.ActualVersion != nil || m.Actual != nil {
		t.Fatalf("versions or empty side leaked: %+v", m)
	}
}
