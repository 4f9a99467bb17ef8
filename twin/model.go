package twin

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Version is a side's pair of counters, KubeEdge's TwinVersion: Cloud counts the cloud's changes of the
// value, Edge the edge's. Each side of a twin (desired, reported) has its own Version.
type Version struct {
	Cloud int64 `json:"cloud"`
	Edge  int64 `json:"edge"`
}

// Value is one side of a twin: the value, when it was set (milliseconds since the Unix epoch, KubeEdge's
// metadata.timestamp; 0 if unknown) and its version. As in KubeEdge, the empty string means "no value".
type Value struct {
	Value     string
	Timestamp int64
	Version   Version
}

// Twin is one property of a device: the Desired value comes from the cloud (KubeEdge's "expected"),
// the Reported value from the device (KubeEdge's "actual").
type Twin struct {
	Name string
	// Type is KubeEdge's metadata.type: "string" (or ""), "bytes", "int"/"integer", "float"/"double",
	// "boolean". Values are checked against it.
	Type string
	// Optional is KubeEdge's optional flag (true for twins created by an update).
	Optional bool
	Desired  Value
	Reported Value
}

// InDelta reports whether the twin belongs to the delta: it has a desired value and the reported value
// differs from it.
func (t Twin) InDelta() bool { return t.Desired.Value != "" && t.Desired.Value != t.Reported.Value }

// Attribute is a static property of a device (KubeEdge's attributes: value, optional, metadata.type).
type Attribute struct {
	Value    string
	Type     string
	Optional bool
}

// DeviceState is what the device last said about itself on $hw/events/device/{id}/state/update.
type DeviceState string

// The device states KubeEdge accepts.
const (
	StateUnknown DeviceState = "unknown"
	StateOnline  DeviceState = "online"
	StateOffline DeviceState = "offline"
)

// Valid reports whether s is one of the three states.
func (s DeviceState) Valid() bool {
	return s == StateUnknown || s == StateOnline || s == StateOffline
}

// Device is a device known to the edge: its identity, attributes, twins and state.
type Device struct {
	// Namespace and Name identify the device; ID() joins them. Namespace is empty for a device with an
	// older single-segment id (the whole id is then Name).
	Namespace   string
	Name        string
	Description string
	State       DeviceState
	// LastOnline is when the state last changed, in milliseconds since the Unix epoch (0: never).
	LastOnline int64
	Attributes map[string]Attribute
	// Twins are sorted by name.
	Twins []Twin
}

// ID returns the device id: "namespace/name", or just the name when the namespace is empty.
func (d Device) ID() string { return DeviceID(d.Namespace, d.Name) }

// Twin returns the twin called name.
func (d Device) Twin(name string) (Twin, bool) {
	i := sort.Search(len(d.Twins), func(i int) bool { return d.Twins[i].Name >= name })
	if i < len(d.Twins) && d.Twins[i].Name == name {
		return d.Twins[i], true
	}
	return Twin{}, false
}

// DeviceID joins a namespace and a name into a device id ("namespace/name"; "name" without namespace).
func DeviceID(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// SplitDeviceID splits an id into namespace and name; an id without "/" has an empty namespace. It
// reports false for an id that is not valid (see ValidDeviceID).
func SplitDeviceID(id string) (namespace, name string, ok bool) {
	if !ValidDeviceID(id) {
		return "", "", false
	}
	if i := strings.IndexByte(id, '/'); i >= 0 {
		return id[:i], id[i+1:], true
	}
	return "", id, true
}

// Limits on names and values. Twin names and values follow KubeEdge's limits (128 and 512 bytes);
// values may hold any UTF-8 text (KubeEdge allows only [a-zA-Z0-9-_.,:/@#]).
const (
	MaxIDSegment = 253
	MaxTwinName  = 128
	MaxValueLen  = 512
)

// ValidDeviceID reports whether id is "namespace/name" or a single segment, each segment non-empty,
// at most MaxIDSegment bytes, and free of '/', MQTT wildcards ('+', '#'), NUL and control characters.
func ValidDeviceID(id string) bool {
	segs := strings.Split(id, "/")
	if len(segs) > 2 {
		return false
	}
	for _, s := range segs {
		if !validSegment(s) {
			return false
		}
	}
	return true
}

func validSegment(s string) bool {
	if s == "" || len(s) > MaxIDSegment {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '+' || c == '#' || c == '/' {
			return false
		}
	}
	return true
}

// ValidTwinName reports whether name follows KubeEdge's twin key rule: 1 to 128 bytes of letters,
// digits and - _ . , : / @ #.
func ValidTwinName(name string) bool {
	if name == "" || len(name) > MaxTwinName {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-_.,:/@#", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// ValidType reports whether typ is a twin type KubeEdge knows ("" means "string").
func ValidType(typ string) bool {
	switch typ {
	case "", "string", "bytes", "int", "integer", "float", "double", "boolean":
		return true
	}
	return false
}

// CheckValue returns an error wrapping ErrInvalid if value is too long or does not parse as typ. The
// empty value (no value) is always allowed.
func CheckValue(typ, value string) error {
	if len(value) > MaxValueLen {
		return fmt.Errorf("%w: value of %d bytes (limit %d)", ErrInvalid, len(value), MaxValueLen)
	}
	if value == "" {
		return nil
	}
	var err error
	switch typ {
	case "", "string", "bytes":
	case "int", "integer":
		_, err = strconv.ParseInt(value, 10, 64)
	case "float", "double":
		_, err = strconv.ParseFloat(value, 64)
	case "boolean":
		if value != "true" && value != "false" {
			err = strconv.ErrSyntax
		}
	default:
		return fmt.Errorf("%w: unknown twin type %q", ErrInvalid, typ)
	}
	if err != nil {
		return fmt.Errorf("%w: value %q is not of type %s", ErrInvalid, value, typ)
	}
	return nil
}

// Validate checks a device's id, state, attributes and twins (names, types, values, no duplicates).
func (d Device) Validate() error {
	if d.Namespace != "" && !validSegment(d.Namespace) || !validSegment(d.Name) {
		return fmt.Errorf("%w: device id %q", ErrInvalid, d.ID())
	}
	if d.State != "" && !d.State.Valid() {
		return fmt.Errorf("%w: device %s: state %q", ErrInvalid, d.ID(), d.State)
	}
	for name, a := range d.Attributes {
		if !ValidTwinName(name) || !ValidType(a.Type) || len(a.Value) > MaxValueLen {
			return fmt.Errorf("%w: device %s: attribute %q", ErrInvalid, d.ID(), name)
		}
	}
	seen := make(map[string]bool, len(d.Twins))
	for _, t := range d.Twins {
		if !ValidTwinName(t.Name) || seen[t.Name] {
			return fmt.Errorf("%w: device %s: twin name %q invalid or repeated", ErrInvalid, d.ID(), t.Name)
		}
		seen[t.Name] = true
		if !ValidType(t.Type) {
			return fmt.Errorf("%w: device %s: twin %s: unknown type %q", ErrInvalid, d.ID(), t.Name, t.Type)
		}
		for _, v := range []string{t.Desired.Value, t.Reported.Value} {
			if err := CheckValue(t.Type, v); err != nil {
				return fmt.Errorf("device %s: twin %s: %w", d.ID(), t.Name, err)
			}
		}
	}
	return nil
}

// SortTwins sorts twins by name, in place.
func SortTwins(twins []Twin) {
	sort.Slice(twins, func(i, j int) bool { return twins[i].Name < twins[j].Name })
}
