package twin

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// MaxPayloadSize is the largest payload the decoders accept, in bytes. Larger input is refused with
// ErrTooLarge before anything is parsed or allocated. 1 MiB holds a device with hundreds of twins at
// KubeEdge's size limits.
const MaxPayloadSize = 1 << 20

// Encode marshals a payload to KubeEdge's JSON.
func Encode(p Payload) ([]byte, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("twin: encode %T: %w", p, err)
	}
	return b, nil
}

func decode[T any](b []byte, what string) (*T, error) {
	if len(b) > MaxPayloadSize {
		return nil, fmt.Errorf("%w: %s of %d bytes (limit %d)", ErrTooLarge, what, len(b), MaxPayloadSize)
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadPayload, what, err)
	}
	return v, nil
}

// DecodeTwinUpdate decodes a …/twin/update payload and checks it as KubeEdge does: a "twin" object is
// required, twin names follow ValidTwinName, types are known and values at most MaxValueLen bytes.
func DecodeTwinUpdate(b []byte) (*TwinUpdate, error) {
	u, err := decode[TwinUpdate](b, "twin update")
	if err != nil {
		return nil, err
	}
	if u.Twin == nil {
		return nil, fmt.Errorf("%w: twin update has no twin", ErrBadPayload)
	}
	if err := checkMsgTwins(u.Twin); err != nil {
		return nil, err
	}
	return u, nil
}

func checkMsgTwins(twins map[string]*MsgTwin) error {
	for name, t := range twins {
		if !ValidTwinName(name) {
			return fmt.Errorf("%w: twin name %q", ErrBadPayload, truncate(name))
		}
		if t == nil {
			continue
		}
		if t.Metadata != nil && !ValidType(t.Metadata.Type) {
			return fmt.Errorf("%w: twin %s: unknown type %q", ErrBadPayload, name, truncate(t.Metadata.Type))
		}
		for _, v := range []*MsgValue{t.Expected, t.Actual} {
			if v != nil && v.Value != nil && len(*v.Value) > MaxValueLen {
				return fmt.Errorf("%w: twin %s: value of %d bytes (limit %d)", ErrBadPayload, name, len(*v.Value), MaxValueLen)
			}
		}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// DecodeTwinResult decodes a …/twin/update/result or …/twin/get/result payload.
func DecodeTwinResult(b []byte) (*TwinResult, error) { return decode[TwinResult](b, "twin result") }

// DecodeTwinDelta decodes a …/twin/update/delta payload.
func DecodeTwinDelta(b []byte) (*TwinDelta, error) { return decode[TwinDelta](b, "twin delta") }

// DecodeTwinDocument decodes a …/twin/update/document payload.
func DecodeTwinDocument(b []byte) (*TwinDocument, error) {
	return decode[TwinDocument](b, "twin document")
}

// DecodeGet decodes a …/twin/get or …/membership/get request. An empty payload is a request without an
// event id.
func DecodeGet(b []byte) (*Get, error) {
	if len(b) == 0 {
		return &Get{}, nil
	}
	return decode[Get](b, "get request")
}

// DecodeStateUpdate decodes a …/state/update payload; the state must be online, offline or unknown.
func DecodeStateUpdate(b []byte) (*StateUpdate, error) {
	u, err := decode[StateUpdate](b, "state update")
	if err != nil {
		return nil, err
	}
	if !DeviceState(u.State).Valid() {
		return nil, fmt.Errorf("%w: device state %q (want online, offline or unknown)", ErrBadPayload, truncate(u.State))
	}
	return u, nil
}

// DecodeStateUpdateResult decodes a …/state/update/result payload.
func DecodeStateUpdateResult(b []byte) (*StateUpdateResult, error) {
	return decode[StateUpdateResult](b, "state update result")
}

// DecodeMembershipGetResult decodes a …/membership/get/result payload.
func DecodeMembershipGetResult(b []byte) (*MembershipGetResult, error) {
	return decode[MembershipGetResult](b, "membership get result")
}

// DecodeErrorResult decodes an error answer.
func DecodeErrorResult(b []byte) (*ErrorResult, error) { return decode[ErrorResult](b, "error result") }

// ErrorCode maps an error of this package to KubeEdge's result code: 400 for a bad payload or an invalid
// change, 404 for an unknown device, 500 for anything else.
func ErrorCode(err error) int {
	switch {
	case errors.Is(err, ErrBadPayload), errors.Is(err, ErrTooLarge), errors.Is(err, ErrInvalid),
		errors.Is(err, ErrBatchTooLarge):
		return CodeBadRequest
	case errors.Is(err, ErrNotFound):
		return CodeNotFound
	}
	return CodeInternalError
}

// NewErrorResult builds the error answer to the request with eventID.
func NewErrorResult(eventID string, now time.Time, err error) *ErrorResult {
	return &ErrorResult{
		BaseMessage: BaseMessage{EventID: eventID, Timestamp: now.UnixMilli()},
		Code:        ErrorCode(err),
		Reason:      err.Error(),
	}
}

// Changes turns a twin update from the device's side of MQTT into store changes for the device id: an
// "expected" value is a desired value set on the edge (FromEdge), an "actual" value a reported one
// (FromDevice). Timestamps are left 0 (the store stamps the write, as KubeEdge does). A twin sent as null
// (KubeEdge's deletion of an optional twin) is refused: twins are removed by PutDevice, from the cloud.
// The changes are sorted by twin name, expected before actual.
func (u *TwinUpdate) Changes(deviceID string) ([]Change, error) {
	names := make([]string, 0, len(u.Twin))
	for name := range u.Twin {
		names = append(names, name)
	}
	slices.Sort(names)
	var out []Change
	for _, name := range names {
		t := u.Twin[name]
		if t == nil {
			return nil, fmt.Errorf("%w: twin %s: deleting a twin over MQTT is not supported", ErrInvalid, name)
		}
		typ := ""
		if t.Metadata != nil {
			typ = t.Metadata.Type
		}
		if t.Expected != nil && t.Expected.Value != nil {
			out = append(out, Change{DeviceID: deviceID, Twin: name, Type: typ,
				Update: Update{Source: FromEdge, Value: *t.Expected.Value}})
		}
		if t.Actual != nil && t.Actual.Value != nil {
			out = append(out, Change{DeviceID: deviceID, Twin: name, Type: typ,
				Update: Update{Source: FromDevice, Value: *t.Actual.Value}})
		}
	}
	return out, nil
}

func msgValue(v Value) *MsgValue {
	if v.Value == "" {
		return nil
	}
	s := v.Value
	m := &MsgValue{Value: &s}
	if v.Timestamp != 0 {
		m.Metadata = &ValueMetadata{Timestamp: v.Timestamp}
	}
	return m
}

// ToMsgTwin converts a twin to its wire form. A side without a value is left out; the type defaults to
// "string" as in KubeEdge. versions adds expected_version and actual_version (edge ↔ cloud only).
func ToMsgTwin(t Twin, versions bool) *MsgTwin {
	opt := t.Optional
	typ := t.Type
	if typ == "" {
		typ = "string"
	}
	m := &MsgTwin{
		Expected: msgValue(t.Desired),
		Actual:   msgValue(t.Reported),
		Optional: &opt,
		Metadata: &TypeMetadata{Type: typ},
	}
	if versions {
		dv, rv := t.Desired.Version, t.Reported.Version
		m.ExpectedVersion, m.ActualVersion = &dv, &rv
	}
	return m
}

// ToMsgTwins converts twins to the wire's name → twin map.
func ToMsgTwins(twins []Twin, versions bool) map[string]*MsgTwin {
	out := make(map[string]*MsgTwin, len(twins))
	for _, t := range twins {
		out[t.Name] = ToMsgTwin(t, versions)
	}
	return out
}

// ToMsgDevice converts a device to its wire form for membership and state results: id, name,
// description, state, last_online and attributes; no twins (as KubeEdge).
func ToMsgDevice(d Device) MsgDevice {
	m := MsgDevice{ID: d.ID(), Name: d.Name, Description: d.Description, State: string(d.State)}
	if d.LastOnline != 0 {
		m.LastOnline = time.UnixMilli(d.LastOnline).UTC().Format(LastOnlineLayout)
	}
	if len(d.Attributes) > 0 {
		m.Attributes = make(map[string]*MsgAttr, len(d.Attributes))
		for name, a := range d.Attributes {
			opt, typ := a.Optional, a.Type
			if typ == "" {
				typ = "string"
			}
			m.Attributes[name] = &MsgAttr{Value: a.Value, Optional: &opt, Metadata: &TypeMetadata{Type: typ}}
		}
	}
	return m
}

// NewTwinDelta builds the delta message of a device's twins: Twin holds every twin with a desired value
// (without versions), Delta the desired values that the reported values do not match.
func NewTwinDelta(base BaseMessage, twins []Twin) *TwinDelta {
	d := &TwinDelta{BaseMessage: base, Twin: map[string]*MsgTwin{}, Delta: DeltaValues(twins)}
	for _, t := range twins {
		if t.Desired.Value != "" {
			d.Twin[t.Name] = ToMsgTwin(t, false)
		}
	}
	return d
}

// NewTwinDocument builds the document message of applied changes: each twin's state before (null when the
// change created it) and after. Results that changed nothing are left out; for a twin changed twice, the
// first Before and the last After are kept.
func NewTwinDocument(base BaseMessage, results []Result) *TwinDocument {
	doc := &TwinDocument{BaseMessage: base, Twin: map[string]*TwinDoc{}}
	for _, r := range results {
		if r.Outcome != Applied {
			continue
		}
		name := r.After.Name
		if d, ok := doc.Twin[name]; ok {
			d.Current = ToMsgTwin(r.After, false)
			continue
		}
		d := &TwinDoc{Current: ToMsgTwin(r.After, false)}
		if !r.Created() {
			d.Last = ToMsgTwin(r.Before, false)
		}
		doc.Twin[name] = d
	}
	return doc
}
