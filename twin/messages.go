package twin

// KubeEdge's MQTT payloads for devices, with KubeEdge's JSON field names, so that KubeEdge mappers and
// applications work unchanged. Topic → payload:
//
//	$hw/events/device/{id}/twin/update            TwinUpdate          (mapper/app → edge)
//	$hw/events/device/{id}/twin/update/result     TwinResult          (edge → mapper; code/reason on error)
//	$hw/events/device/{id}/twin/update/delta      TwinDelta           (edge → mapper)
//	$hw/events/device/{id}/twin/update/document   TwinDocument        (edge → mapper)
//	$hw/events/device/{id}/twin/get               Get                 (mapper/app → edge)
//	$hw/events/device/{id}/twin/get/result        TwinResult          (edge → mapper; code/reason on error)
//	$hw/events/device/{id}/state/update           StateUpdate         (mapper → edge)
//	$hw/events/device/{id}/state/update/result    StateUpdateResult   (edge → mapper)
//	$hw/events/node/{node}/membership/get         Get                 (mapper → edge)
//	$hw/events/node/{node}/membership/get/result  MembershipGetResult (edge → mapper)
//
// Error answers are ErrorResult ({event_id, timestamp, code, reason}).

// BaseMessage is the head of every payload: the event id (chosen by the sender, echoed in the answer) and
// a timestamp in milliseconds since the Unix epoch.
type BaseMessage struct {
	EventID   string `json:"event_id"`
	Timestamp int64  `json:"timestamp"`
}

// ValueMetadata is a value's metadata: when it was set (ms since the Unix epoch).
type ValueMetadata struct {
	Timestamp int64 `json:"timestamp,omitempty"`
}

// TypeMetadata is a twin's or attribute's metadata: its value type.
type TypeMetadata struct {
	Type string `json:"type,omitempty"`
}

// MsgValue is one side of a twin on the wire ("expected" or "actual").
type MsgValue struct {
	Value    *string        `json:"value,omitempty"`
	Metadata *ValueMetadata `json:"metadata,omitempty"`
}

// MsgTwin is a twin on the wire. The versions travel only between edge and cloud; payloads for mappers
// leave them out.
type MsgTwin struct {
	Expected        *MsgValue     `json:"expected,omitempty"`
	Actual          *MsgValue     `json:"actual,omitempty"`
	Optional        *bool         `json:"optional,omitempty"`
	Metadata        *TypeMetadata `json:"metadata,omitempty"`
	ExpectedVersion *Version      `json:"expected_version,omitempty"`
	ActualVersion   *Version      `json:"actual_version,omitempty"`
}

// MsgAttr is a device attribute on the wire.
type MsgAttr struct {
	Value    string        `json:"value"`
	Optional *bool         `json:"optional,omitempty"`
	Metadata *TypeMetadata `json:"metadata,omitempty"`
}

// MsgDevice is a device on the wire (membership results, state update results). LastOnline is
// KubeEdge's "2006-01-02 15:04:05" text (see LastOnlineLayout).
type MsgDevice struct {
	ID          string              `json:"id,omitempty"`
	Name        string              `json:"name,omitempty"`
	Description string              `json:"description,omitempty"`
	State       string              `json:"state,omitempty"`
	LastOnline  string              `json:"last_online,omitempty"`
	Attributes  map[string]*MsgAttr `json:"attributes,omitempty"`
	Twin        map[string]*MsgTwin `json:"twin,omitempty"`
}

// LastOnlineLayout is the time layout of MsgDevice.LastOnline (written in UTC).
const LastOnlineLayout = "2006-01-02 15:04:05"

// TwinUpdate is published on …/twin/update: new expected (desired) and/or actual (reported) values.
type TwinUpdate struct {
	BaseMessage
	Twin map[string]*MsgTwin `json:"twin"`
}

// TwinResult answers …/twin/update and …/twin/get with the twins. An error answer on those topics is an
// ErrorResult instead; TwinResult decodes its code and reason too, so that a reader of the topic needs one
// type.
type TwinResult struct {
	BaseMessage
	Twin   map[string]*MsgTwin `json:"twin"`
	Code   int                 `json:"code,omitempty"`
	Reason string              `json:"reason,omitempty"`
}

// TwinDelta is published on …/twin/update/delta: the twins that have a desired value, and in Delta the
// name → desired value of those whose reported value differs.
type TwinDelta struct {
	BaseMessage
	Twin  map[string]*MsgTwin `json:"twin"`
	Delta map[string]string   `json:"delta"`
}

// TwinDoc is a twin before (Last, nil if new) and after (Current, nil if deleted) a change.
type TwinDoc struct {
	Last    *MsgTwin `json:"last"`
	Current *MsgTwin `json:"current"`
}

// TwinDocument is published on …/twin/update/document after a change.
type TwinDocument struct {
	BaseMessage
	Twin map[string]*TwinDoc `json:"twin"`
}

// Get is the request published on …/twin/get and …/membership/get.
type Get struct {
	BaseMessage
}

// StateUpdate is published on …/state/update by a mapper: "online", "offline" or "unknown".
type StateUpdate struct {
	BaseMessage
	State      string              `json:"state,omitempty"`
	Attributes map[string]*MsgAttr `json:"attributes,omitempty"`
}

// StateUpdateResult answers …/state/update with the device's name, state and last_online.
type StateUpdateResult struct {
	BaseMessage
	Device MsgDevice `json:"device"`
}

// MembershipGetResult answers …/membership/get with the node's devices (without their twins, as
// KubeEdge does).
type MembershipGetResult struct {
	BaseMessage
	Devices []MsgDevice `json:"devices"`
}

// ErrorResult is an error answer, with one of the Code constants and a reason.
type ErrorResult struct {
	BaseMessage
	Code   int    `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// KubeEdge's result codes.
const (
	CodeBadRequest    = 400 // the payload does not parse or breaks a rule
	CodeNotFound      = 404 // the device does not exist
	CodeConflict      = 409 // version conflict
	CodeInternalError = 500 // the edge failed (e.g. its store)
)

// Payload is implemented by the payload types of this file; Encode accepts only them.
type Payload interface{ payload() }

func (*TwinUpdate) payload()          {}
func (*TwinResult) payload()          {}
func (*TwinDelta) payload()           {}
func (*TwinDocument) payload()        {}
func (*Get) payload()                 {}
func (*StateUpdate) payload()         {}
func (*StateUpdateResult) payload()   {}
func (*MembershipGetResult) payload() {}
func (*ErrorResult) payload()         {}
