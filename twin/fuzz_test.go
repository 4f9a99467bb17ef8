package twin

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// seedPayloads adds every golden payload, and a few hostile ones, to the fuzzer's corpus.
func seedPayloads(f *testing.F) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		f.Fatalf("no golden files (%v)", err)
	}
	for _, file := range files {
		f.Add(readGolden(f, filepath.Base(file)))
	}
	for _, s := range []string{"", "null", "{}", `{"twin":null}`, `{"twin":{"a":null}}`, `[]`, `"x"`,
		`{"twin":{"a":{"expected":{"value":null}}}}`, `{"devices":[null]}`, `{"timestamp":1e400}`,
		strings.Repeat("[", 10000)} {
		f.Add([]byte(s))
	}
}

// fuzzDecoder checks that dec never panics, that everything it accepts encodes, and that the encoding
// is a fixed point: it decodes to a value that encodes to the same bytes. (Struct equality is too strict:
// an empty map under omitempty encodes as nothing and decodes as nil.)
func fuzzDecoder[T any, P interface {
	*T
	Payload
}](f *testing.F, dec func([]byte) (*T, error)) {
	seedPayloads(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := dec(b)
		if err != nil {
			if v != nil {
				t.Fatalf("error %v with a value", err)
			}
			if !errors.Is(err, ErrBadPayload) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v is neither ErrBadPayload nor ErrTooLarge", err)
			}
			return
		}
		out, err := Encode(P(v))
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", b, err)
		}
		again, err := dec(out)
		if err != nil {
			t.Fatalf("own encoding %s refused: %v", out, err)
		}
		out2, err := Encode(P(again))
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("encoding is not a fixed point (%v):\n%s\n%s", err, out, out2)
		}
	})
}

func FuzzDecodeTwinUpdate(f *testing.F) { fuzzDecoder(f, DecodeTwinUpdate) }

func FuzzDecodeTwinResult(f *testing.F) { fuzzDecoder(f, DecodeTwinResult) }

func FuzzDecodeTwinDelta(f *testing.F) { fuzzDecoder(f, DecodeTwinDelta) }

func FuzzDecodeTwinDocument(f *testing.F) { fuzzDecoder(f, DecodeTwinDocument) }

func FuzzDecodeGet(f *testing.F) { fuzzDecoder(f, DecodeGet) }

func FuzzDecodeStateUpdate(f *testing.F) { fuzzDecoder(f, DecodeStateUpdate) }

func FuzzDecodeStateUpdateResult(f *testing.F) { fuzzDecoder(f, DecodeStateUpdateResult) }

func FuzzDecodeMembershipGetResult(f *testing.F) { fuzzDecoder(f, DecodeMembershipGetResult) }

func FuzzDecodeErrorResult(f *testing.F) { fuzzDecoder(f, DecodeErrorResult) }

// A decoded update's changes are valid store changes, or an ErrInvalid.
func FuzzTwinUpdateChanges(f *testing.F) {
	seedPayloads(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := DecodeTwinUpdate(b)
		if err != nil {
			return
		}
		cs, err := u.Changes("default/device")
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Changes: %v", err)
			}
			return
		}
		for _, c := range cs {
			if err := c.validate(); err != nil {
				t.Fatalf("decoded update gave an invalid change %+v: %v", c, err)
			}
		}
	})
}

// Every topic ParseTopic accepts builds back to itself; BuildTopic never panics.
func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{
		"$hw/events/device/default/thermostat/twin/update",
		"$hw/events/device/default/thermostat/twin/update/result",
		"$hw/events/device/default/thermostat/twin/update/delta",
		"$hw/events/device/default/thermostat/twin/update/document",
		"$hw/events/device/default/thermostat/twin/get",
		"$hw/events/device/default/thermostat/twin/get/result",
		"$hw/events/device/default/thermostat/state/update",
		"$hw/events/device/default/thermostat/state/update/result",
		"$hw/events/device/sensor-7/twin/update",
		"$hw/events/device/twin/update/twin/update",
		"$hw/events/node/edge-1/membership/get",
		"$hw/events/node/edge-1/membership/get/result",
		"$hw/events/device/+/+/twin/+",
		"$hw/events/device//twin/update",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := ParseTopic(s)
		if err != nil {
			if !errors.Is(err, ErrBadTopic) {
				t.Fatalf("ParseTopic(%q): %v is not ErrBadTopic", s, err)
			}
		} else {
			back, err := BuildTopic(tp)
			if err != nil || back != s {
				t.Fatalf("ParseTopic(%q) = %+v, which builds to %q, %v", s, tp, back, err)
			}
		}
		// Building from arbitrary parts either fails cleanly or gives a topic that parses back.
		for k := Kind(-1); k <= kindEnd; k++ {
			built, err := BuildTopic(Topic{Kind: k, DeviceID: s, Node: s})
			if err != nil {
				continue
			}
			tp, err := ParseTopic(built)
			if err != nil || tp.Kind != k || (k.IsNode() && tp.Node != s) || (!k.IsNode() && tp.DeviceID != s) {
				t.Fatalf("BuildTopic(%v, %q) = %q, which parses to %+v, %v", k, s, built, tp, err)
			}
		}
	})
}
