package eventbus

import (
	"context"
	"encoding/json"
	"errors"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/eventbus/api"
)

// onMessage is paho's handler for every message the bus receives (all subscriptions share it). It runs
// on paho's router goroutine, one message at a time in arrival order, and paho acknowledges a QoS 1
// message when it returns; so it never blocks for longer than DeliverTimeout per target. Bytes from
// devices are checked before anything else: size, topic, and (for device topics) JSON.
func (s *session) onMessage(_ paho.Client, msg paho.Message) {
	b := s.bus
	st := &b.stats
	st.received.Add(1)
	topic, payload := msg.Topic(), msg.Payload()
	if len(payload) > b.cfg.MaxPayloadSize {
		st.oversized.Add(1)
		return
	}
	if api.ValidTopic(topic) != nil {
		st.malformed.Add(1)
		return
	}
	var buf [4]hit
	hits := b.routes.Load().match(topic, buf[:0])
	if len(hits) == 0 {
		st.noRoute.Add(1)
		return
	}
	checked, isJSON := false, false
	for _, h := range hits {
		if h.device && !b.cfg.AcceptNonJSON {
			if !checked {
				checked, isJSON = true, json.Valid(payload)
				if !isJSON {
					st.malformed.Add(1)
				}
			}
			if !isJSON {
				continue
			}
		}
		m := s.c.NewMessage(beehive.GroupBus, api.OpPublish, topic, payload)
		if err := s.deliver(h.target, m); err != nil {
			st.dropped.Add(1)
			b.log.Debug("eventbus: message dropped", "topic", topic, "target", h.target.String(), "error", err)
			continue
		}
		st.delivered.Add(1)
	}
}

// deliver hands m to target: at once if its mailbox has room, else waiting up to DeliverTimeout.
func (s *session) deliver(t api.Target, m beehive.Message) error {
	wait := s.bus.cfg.DeliverTimeout
	if t.Module != "" {
		// Send with a context that is already done tries the mailbox once without waiting, and unlike
		// TrySend does not count a drop on the receiver when it is full: we may still wait below.
		err := s.c.Send(s.canceled, t.Module, m)
		if !errors.Is(err, context.Canceled) || wait < 0 {
			return err
		}
		ctx, cancel := context.WithTimeout(s.runCtx, wait)
		defer cancel()
		return s.c.Send(ctx, t.Module, m)
	}
	if wait < 0 {
		return s.c.SendToGroup(s.canceled, t.Group, m)
	}
	ctx, cancel := context.WithTimeout(s.runCtx, wait)
	defer cancel()
	return s.c.SendToGroup(ctx, t.Group, m)
}
