package twinmodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/twin"
)

// ErrWrongNode answers a membership request for a node other than Config.NodeName (code 404).
var ErrWrongNode = fmt.Errorf("%w: node not served here", twin.ErrNotFound)

// handleMQTT answers a device or node request that the eventbus delivered.
func (m *Module) handleMQTT(ctx context.Context, c *beehive.Context, msg beehive.Message) {
	payload, ok := payloadBytes(msg.Content)
	topic, err := twin.ParseTopic(msg.Router.Resource)
	if err != nil || !ok {
		m.ctr.ignored.Add(1)
		return
	}
	var answer twin.Kind
	d := reqDev{id: topic.DeviceID, topic: topic.DeviceID}
	if topic.Kind == twin.KindTwinUpdate || topic.Kind == twin.KindTwinGet || topic.Kind == twin.KindStateUpdate {
		d.id = m.resolve(ctx, topic.DeviceID)
	}
	switch topic.Kind {
	case twin.KindTwinUpdate:
		m.twinUpdates(ctx, c, []beehive.Message{msg})
		return
	case twin.KindTwinGet:
		answer, err = m.twinGet(ctx, c, d, payload)
	case twin.KindStateUpdate:
		answer, err = m.stateUpdate(ctx, c, d, payload)
	case twin.KindMembershipGet:
		answer, err = m.membershipGet(ctx, c, topic.Node, payload)
	default: // results, deltas and documents (ours, coming back), twin/cloud_updated
		m.ctr.ignored.Add(1)
		return
	}
	m.ctr.mqtt.Add(1)
	if err == nil {
		return
	}
	m.answerError(ctx, c, topic, answer, payload, err)
}

// answerError publishes the error answer of kind answer to a request on topic.
func (m *Module) answerError(ctx context.Context, c *beehive.Context, topic twin.Topic, answer twin.Kind, payload []byte, err error) {
	m.ctr.mqttErrors.Add(1)
	if ctx.Err() != nil {
		return
	}
	m.cfg.Logger.Debug("twinmodule: request refused", "topic", topic.String(), "err", err)
	out, terr := twin.BuildTopic(twin.Topic{Kind: answer, DeviceID: topic.DeviceID, Node: topic.Node})
	if terr != nil {
		return
	}
	m.publish(ctx, c, out, twin.NewErrorResult(eventID(payload), m.cfg.Now(), err))
}

// reqDev is the device of a request: its id in the store, and the id its topics use (the same, except for
// an older single-segment id that names a namespaced device).
type reqDev struct{ id, topic string }

// resolve maps an older single-segment device id (KubeEdge before 1.16: the device's name) to the
// namespaced device of that name, when the store has no device with the id itself and exactly one
// device has that name. Otherwise it returns id unchanged.
func (m *Module) resolve(ctx context.Context, id string) string {
	if strings.Contains(id, "/") {
		return id
	}
	if _, err := m.cfg.Store.GetDevice(ctx, id); !isNotFound(err) {
		return id
	}
	devices, err := m.cfg.Store.ListDevices(ctx)
	if err != nil {
		return id
	}
	found := ""
	for _, d := range devices {
		if d.Name == id {
			if found != "" {
				return id // ambiguous: answer 404 rather than guess
			}
			found = d.ID()
		}
	}
	if found == "" {
		return id
	}
	return found
}

func payloadBytes(content any) ([]byte, bool) {
	switch v := content.(type) {
	case []byte:
		return v, true
	case string:
		return []byte(v), true
	case json.RawMessage:
		return v, true
	case nil:
		return nil, true
	}
	return nil, false
}

// eventID digs the event_id out of a payload that may not decode as a whole, so that an error answer
// still echoes it when it can.
func eventID(payload []byte) string {
	if len(payload) > twin.MaxPayloadSize {
		return ""
	}
	var b twin.BaseMessage
	if json.Unmarshal(payload, &b) != nil {
		var loose struct {
			EventID json.RawMessage `json:"event_id"`
		}
		if json.Unmarshal(payload, &loose) == nil {
			_ = json.Unmarshal(loose.EventID, &b.EventID)
		}
	}
	return b.EventID
}

func (m *Module) base(eventID string) twin.BaseMessage {
	return twin.BaseMessage{EventID: eventID, Timestamp: m.cfg.Now().UnixMilli()}
}

// publishDelta publishes the device's delta if it is not empty.
func (m *Module) publishDelta(ctx context.Context, c *beehive.Context, d reqDev, eventID string) {
	device, err := m.cfg.Store.GetDevice(ctx, d.id)
	if err != nil {
		return
	}
	delta := twin.NewTwinDelta(m.base(eventID), device.Twins)
	if len(delta.Delta) == 0 {
		return
	}
	m.publishDevice(ctx, c, d.topic, twin.KindTwinUpdateDelta, delta)
}

func (m *Module) publishDevice(ctx context.Context, c *beehive.Context, id string, k twin.Kind, p twin.Payload) {
	topic, err := twin.DeviceTopic(id, k)
	if err != nil {
		return
	}
	m.publish(ctx, c, topic, p)
}

// twinGet answers …/twin/get with every twin of the device.
func (m *Module) twinGet(ctx context.Context, c *beehive.Context, d reqDev, payload []byte) (twin.Kind, error) {
	g, err := twin.DecodeGet(payload)
	if err != nil {
		return twin.KindTwinGetResult, err
	}
	device, err := m.cfg.Store.GetDevice(ctx, d.id)
	if err != nil {
		return twin.KindTwinGetResult, err
	}
	m.publishDevice(ctx, c, d.topic, twin.KindTwinGetResult,
		&twin.TwinResult{BaseMessage: m.base(g.EventID), Twin: twin.ToMsgTwins(device.Twins, false)})
	return 0, nil
}

// stateUpdate records …/state/update and answers with the device's state and last_online.
func (m *Module) stateUpdate(ctx context.Context, c *beehive.Context, d reqDev, payload []byte) (twin.Kind, error) {
	u, err := twin.DecodeStateUpdate(payload)
	if err != nil {
		return twin.KindStateUpdateResult, err
	}
	if err := m.cfg.Store.SetState(ctx, d.id, twin.DeviceState(u.State)); err != nil {
		return twin.KindStateUpdateResult, err
	}
	device, err := m.cfg.Store.GetDevice(ctx, d.id)
	if err != nil {
		return twin.KindStateUpdateResult, err
	}
	msg := twin.ToMsgDevice(device)
	msg.Attributes = nil
	m.publishDevice(ctx, c, d.topic, twin.KindStateUpdateResult,
		&twin.StateUpdateResult{BaseMessage: m.base(u.EventID), Device: msg})
	m.up.mark(d.id)
	return 0, nil
}

// membershipGet answers …/membership/get with the devices of this node.
func (m *Module) membershipGet(ctx context.Context, c *beehive.Context, node string, payload []byte) (twin.Kind, error) {
	g, err := twin.DecodeGet(payload)
	if err != nil {
		return twin.KindMembershipGetResult, err
	}
	if m.cfg.NodeName != "" && node != m.cfg.NodeName {
		return twin.KindMembershipGetResult, fmt.Errorf("%w: %s", ErrWrongNode, node)
	}
	devices, err := m.cfg.Store.ListDevices(ctx)
	if err != nil {
		return twin.KindMembershipGetResult, err
	}
	res := &twin.MembershipGetResult{BaseMessage: m.base(g.EventID), Devices: make([]twin.MsgDevice, 0, len(devices))}
	for _, d := range devices {
		res.Devices = append(res.Devices, twin.ToMsgDevice(d))
	}
	topic, err := twin.NodeTopic(node, twin.KindMembershipGetResult)
	if err != nil {
		return twin.KindMembershipGetResult, err
	}
	m.publish(ctx, c, topic, res)
	return 0, nil
}

// isNotFound reports whether err is the store's "no such device".
func isNotFound(err error) bool { return errors.Is(err, twin.ErrNotFound) }
