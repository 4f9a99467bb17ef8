package api

import (
	"errors"
	"fmt"

	"github.com/edgehive/edgehive/beehive"
)

// ModuleName is the eventbus module's default name: the name other modules send to.
const ModuleName = "eventbus"

// Operations understood by the eventbus module.
const (
	// OpPublish publishes Content on the topic Resource; the bus also uses it for the messages it
	// delivers from MQTT.
	OpPublish = beehive.OpPublish
	// OpSubscribe adds a route from the topic filter Resource to a module or group.
	OpSubscribe beehive.Operation = "subscribe"
	// OpUnsubscribe removes a route added with OpSubscribe.
	OpUnsubscribe beehive.Operation = "unsubscribe"
)

// Errors the eventbus answers sync requests with. Compare with errors.Is.
var (
	ErrNotConnected     = errors.New("eventbus: not connected to the broker")
	ErrInvalidTopic     = errors.New("eventbus: invalid topic name")
	ErrInvalidFilter    = errors.New("eventbus: invalid topic filter")
	ErrPayloadTooLarge  = errors.New("eventbus: payload too large")
	ErrBadContent       = errors.New("eventbus: content is not []byte, string or Publish")
	ErrUnknownOperation = errors.New("eventbus: unknown operation")
	ErrPublishTimeout   = errors.New("eventbus: broker did not acknowledge in time")
	ErrSubscribeFailed  = errors.New("eventbus: broker refused the subscription")
	ErrNotSubscribed    = errors.New("eventbus: no such subscription")
	ErrStaticRoute      = errors.New("eventbus: route is part of the configuration")
	ErrStopped          = errors.New("eventbus: stopped")
)

// QoS is an MQTT quality of service. Its zero value, QoSDefault, means "the bus's configured QoS", so
// that a zero Publish or Config gets the default; the wire levels are QoS0, QoS1 and QoS2.
type QoS uint8

// QoS levels.
const (
	QoSDefault QoS = iota // the configured default (eventbus.DefaultQoS unless set)
	QoS0                  // at most once
	QoS1                  // at least once
	QoS2                  // exactly once
)

// Wire returns the MQTT QoS byte (0, 1 or 2) of q, with def standing in for QoSDefault.
func (q QoS) Wire(def QoS) byte {
	if q == QoSDefault {
		q = def
	}
	if q == QoSDefault || q > QoS2 {
		return 1
	}
	return byte(q - 1)
}

// Valid reports whether q is one of the defined levels.
func (q QoS) Valid() bool { return q <= QoS2 }

func (q QoS) String() string {
	switch q {
	case QoSDefault:
		return "default"
	case QoS0, QoS1, QoS2:
		return fmt.Sprintf("qos%d", q-1)
	}
	return fmt.Sprintf("QoS(%d)", uint8(q))
}

// Publish is the Content of an OpPublish message that sets QoS and retain explicitly. The topic is the
// message's Router.Resource.
type Publish struct {
	Payload []byte
	QoS     QoS // QoSDefault: the bus's configured QoS
	Retain  bool
}

// Target names where routed MQTT messages go: a module by name, or every module of a group. Exactly
// one of the two is set.
type Target struct {
	Module string
	Group  beehive.Group
}

// IsZero reports whether t names nothing.
func (t Target) IsZero() bool { return t == Target{} }

// Validate reports an error unless exactly one of Module and Group is set.
func (t Target) Validate() error {
	switch {
	case t.Module == "" && t.Group == "":
		return errors.New("target names no module and no group")
	case t.Module != "" && t.Group != "":
		return fmt.Errorf("target names both module %q and group %q", t.Module, t.Group)
	}
	return nil
}

func (t Target) String() string {
	if t.Module != "" {
		return "module " + t.Module
	}
	return "group " + string(t.Group)
}

// Subscription is the optional Content of OpSubscribe and OpUnsubscribe. A zero Target means the
// requesting module.
type Subscription struct {
	Target Target
}

// NewPublishMessage returns a message asking the eventbus to publish p on topic. Send it to ModuleName
// (or the configured name) with Send or SendSync; the hive stamps its ID and source.
func NewPublishMessage(topic string, p Publish) beehive.Message {
	return beehive.Message{
		Router:  beehive.Router{Group: beehive.GroupBus, Operation: OpPublish, Resource: topic},
		Content: p,
	}
}

// NewSubscribeMessage returns an OpSubscribe (or, with unsubscribe set, OpUnsubscribe) request for
// filter; a zero target means the requesting module.
func NewSubscribeMessage(filter string, target Target, unsubscribe bool) beehive.Message {
	op := OpSubscribe
	if unsubscribe {
		op = OpUnsubscribe
	}
	var content any
	if !target.IsZero() {
		content = Subscription{Target: target}
	}
	return beehive.Message{
		Router:  beehive.Router{Group: beehive.GroupBus, Operation: op, Resource: filter},
		Content: content,
	}
}

// KubeEdge's MQTT topic filters, as the eventbus subscribes to them by default. Device ids are a single
// segment in KubeEdge before 1.16 and namespace/name since, so each device filter comes in both forms.
const (
	// Device and node topics: routed to the twin module.
	FilterDeviceTwin        = "$hw/events/device/+/twin/+"   // twin/update, twin/get, … (single-segment id)
	FilterDeviceTwinNS      = "$hw/events/device/+/+/twin/+" // the same with a namespace/name id
	FilterDeviceState       = "$hw/events/device/+/state/update"
	FilterDeviceStateNS     = "$hw/events/device/+/+/state/update"
	FilterNodeMembershipGet = "$hw/events/node/+/membership/get"

	// Upload and user topics: routed to the hub (and on to the cloud).
	FilterUpload        = "$hw/events/upload/#"
	FilterUploadRecords = "SYS/dis/upload_records"
	FilterUser          = "+/user/#"
)

// DeviceFilters returns the default filters routed to the twin module (a fresh slice).
func DeviceFilters() []string {
	return []string{FilterDeviceTwin, FilterDeviceTwinNS, FilterDeviceState, FilterDeviceStateNS, FilterNodeMembershipGet}
}

// HubFilters returns the default filters routed to the hub (a fresh slice).
func HubFilters() []string {
	return []string{FilterUpload, FilterUploadRecords, FilterUser}
}
