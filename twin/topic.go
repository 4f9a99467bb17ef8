package twin

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is the kind of a device or node topic.
type Kind int

// Topic kinds, with their topics ({id} is "namespace/name", or a single segment for older ids).
const (
	KindTwinUpdate          Kind = iota + 1 // $hw/events/device/{id}/twin/update
	KindTwinUpdateResult                    // $hw/events/device/{id}/twin/update/result
	KindTwinUpdateDelta                     // $hw/events/device/{id}/twin/update/delta
	KindTwinUpdateDocument                  // $hw/events/device/{id}/twin/update/document
	KindTwinGet                             // $hw/events/device/{id}/twin/get
	KindTwinGetResult                       // $hw/events/device/{id}/twin/get/result
	KindStateUpdate                         // $hw/events/device/{id}/state/update
	KindStateUpdateResult                   // $hw/events/device/{id}/state/update/result
	KindMembershipGet                       // $hw/events/node/{node}/membership/get
	KindMembershipGetResult                 // $hw/events/node/{node}/membership/get/result
	kindEnd
)

// Topic prefixes.
const (
	DeviceTopicPrefix = "$hw/events/device/"
	NodeTopicPrefix   = "$hw/events/node/"
)

// suffix returns the part of k's topic after the id, without the leading '/'.
func (k Kind) suffix() string {
	switch k {
	case KindTwinUpdate:
		return "twin/update"
	case KindTwinUpdateResult:
		return "twin/update/result"
	case KindTwinUpdateDelta:
		return "twin/update/delta"
	case KindTwinUpdateDocument:
		return "twin/update/document"
	case KindTwinGet:
		return "twin/get"
	case KindTwinGetResult:
		return "twin/get/result"
	case KindStateUpdate:
		return "state/update"
	case KindStateUpdateResult:
		return "state/update/result"
	case KindMembershipGet:
		return "membership/get"
	case KindMembershipGetResult:
		return "membership/get/result"
	}
	return ""
}

// IsNode reports whether k is a node (membership) topic kind.
func (k Kind) IsNode() bool { return k == KindMembershipGet || k == KindMembershipGetResult }

func (k Kind) String() string {
	if s := k.suffix(); s != "" {
		return s
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Topic is a parsed device or node topic: Kind and either DeviceID (device kinds) or Node (membership).
type Topic struct {
	Kind     Kind
	DeviceID string
	Node     string
}

// String builds the topic; it returns "" for a Topic that BuildTopic would refuse.
func (t Topic) String() string {
	s, err := BuildTopic(t)
	if err != nil {
		return ""
	}
	return s
}

// ParseTopic parses a device topic ($hw/events/device/{namespace}/{name}/…, or the older
// $hw/events/device/{id}/…) or a node membership topic ($hw/events/node/{node}/membership/get[/result]).
// The kind is matched from the end of the topic, so the id segments are free to look like kind words.
// Topics of other kinds or shapes are refused with ErrBadTopic. It never panics, and for every topic it
// accepts, BuildTopic gives the same string back.
func ParseTopic(topic string) (Topic, error) {
	switch {
	case strings.HasPrefix(topic, DeviceTopicPrefix):
		segs := strings.Split(topic[len(DeviceTopicPrefix):], "/")
		// The longest suffixes (3 segments) first; none of their tails is itself a suffix, so at most one
		// kind matches a given tail.
		for _, n := range []int{3, 2} {
			idSegs := len(segs) - n
			if idSegs < 1 || idSegs > 2 {
				continue
			}
			tail := strings.Join(segs[idSegs:], "/")
			for k := KindTwinUpdate; k <= KindStateUpdateResult; k++ {
				if k.suffix() != tail {
					continue
				}
				id := strings.Join(segs[:idSegs], "/")
				if !ValidDeviceID(id) {
					return Topic{}, fmt.Errorf("%w: bad device id in %q", ErrBadTopic, truncate(topic))
				}
				return Topic{Kind: k, DeviceID: id}, nil
			}
		}
	case strings.HasPrefix(topic, NodeTopicPrefix):
		rest := topic[len(NodeTopicPrefix):]
		node, tail, ok := strings.Cut(rest, "/")
		if !ok || !validSegment(node) {
			break
		}
		for _, k := range []Kind{KindMembershipGet, KindMembershipGetResult} {
			if tail == k.suffix() {
				return Topic{Kind: k, Node: node}, nil
			}
		}
	}
	return Topic{}, fmt.Errorf("%w: %q", ErrBadTopic, truncate(topic))
}

// BuildTopic returns the topic of t: a device topic for a device kind (t.DeviceID must be valid), a node
// topic for a membership kind (t.Node must be one valid segment).
func BuildTopic(t Topic) (string, error) {
	switch {
	case t.Kind <= 0 || t.Kind >= kindEnd:
		return "", fmt.Errorf("%w: unknown kind %d", ErrBadTopic, t.Kind)
	case t.Kind.IsNode():
		if !validSegment(t.Node) {
			return "", fmt.Errorf("%w: node name %q", ErrBadTopic, truncate(t.Node))
		}
		return NodeTopicPrefix + t.Node + "/" + t.Kind.suffix(), nil
	default:
		if !ValidDeviceID(t.DeviceID) {
			return "", fmt.Errorf("%w: device id %q", ErrBadTopic, truncate(t.DeviceID))
		}
		return DeviceTopicPrefix + t.DeviceID + "/" + t.Kind.suffix(), nil
	}
}

// DeviceTopic returns the topic of kind k for the device id.
func DeviceTopic(id string, k Kind) (string, error) {
	if k.IsNode() {
		return "", fmt.Errorf("%w: %v is a node topic", ErrBadTopic, k)
	}
	return BuildTopic(Topic{Kind: k, DeviceID: id})
}

// NodeTopic returns the membership topic of kind k for the node.
func NodeTopic(node string, k Kind) (string, error) {
	if !k.IsNode() {
		return "", fmt.Errorf("%w: %v is a device topic", ErrBadTopic, k)
	}
	return BuildTopic(Topic{Kind: k, Node: node})
}
