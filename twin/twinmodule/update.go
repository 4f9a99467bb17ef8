package twinmodule

import (
	"context"
	"strings"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/eventbus/api"
	"github.com/edgehive/edgehive/twin"
)

// maxUpdateBatch bounds the twin/update messages applied in one store transaction.
const maxUpdateBatch = 256

// isTwinUpdate reports whether msg is a …/twin/update delivered by the eventbus.
func isTwinUpdate(msg beehive.Message) bool {
	return msg.Router.Operation == api.OpPublish && strings.HasPrefix(msg.Router.Resource, twin.DeviceTopicPrefix) &&
		strings.HasSuffix(msg.Router.Resource, "/twin/update")
}

// update is one …/twin/update request on its way through twinUpdates.
type update struct {
	topic   twin.Topic
	d       reqDev
	payload []byte
	u       *twin.TwinUpdate
	changes []twin.Change
	results []twin.Result
	err     error
}

// twinUpdates applies a run of …/twin/update messages (as they queued in the mailbox) in one store
// transaction, then answers each in order: result, document and delta, or the error. If the batch
// fails as a whole (one message names an unknown device, say), each message is applied on its own, so
// that one bad message costs the others nothing.
func (m *Module) twinUpdates(ctx context.Context, c *beehive.Context, msgs []beehive.Message) {
	ups := make([]update, 0, len(msgs))
	var all []twin.Change
	valid := 0
	for _, msg := range msgs {
		payload, ok := payloadBytes(msg.Content)
		topic, err := twin.ParseTopic(msg.Router.Resource)
		if err != nil || !ok || topic.Kind != twin.KindTwinUpdate {
			m.ctr.ignored.Add(1)
			continue
		}
		m.ctr.mqtt.Add(1)
		up := update{topic: topic, d: reqDev{id: m.resolve(ctx, topic.DeviceID), topic: topic.DeviceID}, payload: payload}
		up.u, up.err = twin.DecodeTwinUpdate(payload)
		if up.err == nil {
			up.changes, up.err = up.u.Changes(up.d.id)
		}
		if up.err == nil && len(up.changes) == 0 {
			_, up.err = m.cfg.Store.GetDevice(ctx, up.d.id) // no values: still 404 for an unknown device
		}
		if up.err == nil && len(up.changes) > 0 {
			all = append(all, up.changes...)
			valid++
		}
		ups = append(ups, up)
	}
	batched := false
	if valid > 1 {
		if results, err := m.cfg.Store.Update(ctx, all); err == nil {
			batched = true
			for i := range ups {
				if ups[i].err == nil && len(ups[i].changes) > 0 {
					n := len(ups[i].changes)
					ups[i].results, results = results[:n:n], results[n:]
				}
			}
		}
	}
	for i := range ups {
		up := &ups[i]
		if !batched && up.err == nil && len(up.changes) > 0 {
			up.results, up.err = m.cfg.Store.Update(ctx, up.changes)
		}
		if up.err != nil {
			m.answerError(ctx, c, up.topic, twin.KindTwinUpdateResult, up.payload, up.err)
			continue
		}
		m.answerUpdate(ctx, c, up)
	}
}

// answerUpdate publishes the result (the named twins as they are now), and after a change the
// document and the delta; it marks the device's status for the cloud.
func (m *Module) answerUpdate(ctx context.Context, c *beehive.Context, up *update) {
	res := &twin.TwinResult{BaseMessage: m.base(up.u.EventID), Twin: map[string]*twin.MsgTwin{}}
	applied := false
	for _, r := range up.results {
		t := r.After
		if t.Name == "" {
			t = r.Before
		}
		res.Twin[t.Name] = twin.ToMsgTwin(t, false) // the last result of each name wins
		applied = applied || r.Outcome == twin.Applied
	}
	m.publishDevice(ctx, c, up.d.topic, twin.KindTwinUpdateResult, res)
	if applied {
		m.publishDevice(ctx, c, up.d.topic, twin.KindTwinUpdateDocument, twin.NewTwinDocument(m.base(up.u.EventID), up.results))
		m.publishDelta(ctx, c, up.d, up.u.EventID)
	}
	reported := false
	for _, ch := range up.changes {
		reported = reported || ch.Source == twin.FromDevice
	}
	if applied || reported {
		m.up.mark(up.d.id)
	}
}

// receiveRun takes from the mailbox, without waiting, the twin/update messages queued behind first (up
// to maxUpdateBatch in all). It returns them, and the first other message it took, if any.
func receiveRun(now context.Context, c *beehive.Context, first beehive.Message) ([]beehive.Message, *beehive.Message) {
	run := []beehive.Message{first}
	for len(run) < maxUpdateBatch {
		next, err := c.Receive(now) // now is cancelled: Receive returns a queued message or an error
		if err != nil {
			return run, nil
		}
		if !isTwinUpdate(next) {
			return run, &next
		}
		run = append(run, next)
	}
	return run, nil
}
