package eventbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/eventbus/api"
)

// pub is a decoded publish request.
type pub struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
}

// queued is a publish held while the broker is unreachable.
type queued struct {
	pub
	req beehive.Message
}

// ack is a publish awaiting the broker's acknowledgement; req is answered when it comes, if sync.
type ack struct {
	tok   paho.Token
	req   beehive.Message
	start time.Time
}

// decodePublish checks an OpPublish request: its topic, its content and its size.
func (b *Bus) decodePublish(m beehive.Message) (pub, error) {
	p := pub{topic: m.Router.Resource, qos: b.cfg.QoS.Wire(DefaultQoS)}
	if err := api.ValidTopic(p.topic); err != nil {
		return p, err
	}
	var q api.QoS
	switch c := m.Content.(type) {
	case nil:
	case []byte:
		p.payload = c
	case string:
		p.payload = []byte(c)
	case api.Publish:
		p.payload, q, p.retain = c.Payload, c.QoS, c.Retain
	case *api.Publish:
		if c != nil {
			p.payload, q, p.retain = c.Payload, c.QoS, c.Retain
		}
	default:
		return p, fmt.Errorf("%w: got %T", ErrBadContent, m.Content)
	}
	if !q.Valid() {
		return p, fmt.Errorf("%w: QoS %v", ErrBadContent, q)
	}
	if q != api.QoSDefault {
		p.qos = q.Wire(DefaultQoS)
	}
	if len(p.payload) > b.cfg.MaxPayloadSize {
		return p, fmt.Errorf("%w: %d bytes, limit %d", ErrPayloadTooLarge, len(p.payload), b.cfg.MaxPayloadSize)
	}
	return p, nil
}

// reject answers a malformed request with err and counts it.
func (s *session) reject(m beehive.Message, err error) {
	s.bus.stats.rejected.Add(1)
	s.answer(m, err)
}

// publish serves an OpPublish request from the module loop. Connected, it hands the message to paho and
// the acknowledgement to ackLoop; disconnected (or while older publishes wait in the queue), it queues
// it or fails it (see offline).
func (s *session) publish(ctx context.Context, m beehive.Message) {
	p, err := s.bus.decodePublish(m)
	if err != nil {
		s.reject(m, err)
		return
	}
	s.mu.Lock()
	if !s.connected || len(s.queue) > 0 {
		s.offline(queued{p, m})
		s.mu.Unlock()
		return
	}
	tok := s.client.Publish(p.topic, p.qos, p.retain, p.payload)
	if notConnected(tok) {
		// The connection has just gone and connLoop has not heard yet: its reconnect flushes the queue.
		s.offline(queued{p, m})
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.track(ctx, ack{tok: tok, req: m, start: time.Now()})
}

// notConnected reports whether paho refused tok's publish at once for want of a connection.
func notConnected(tok paho.Token) bool {
	select {
	case <-tok.Done():
		return errors.Is(tok.Error(), paho.ErrNotConnected)
	default:
		return false
	}
}

// offline deals with a publish while there is no connection: a sync request fails with ErrNotConnected
// (its sender decides what to do), QoS 0 is dropped (at most once), QoS 1 and 2 wait in the bounded
// queue, the oldest dropped when it is full. s.mu is held.
func (s *session) offline(q queued) {
	st := &s.bus.stats
	switch {
	case q.req.Header.Sync:
		st.publishErrors.Add(1)
		s.answer(q.req, ErrNotConnected)
	case q.qos == 0 || s.bus.cfg.OfflineQueue < 0:
		st.offlineDropped.Add(1)
	default:
		if len(s.queue) >= s.bus.cfg.OfflineQueue {
			s.queue[0] = queued{}
			s.queue = s.queue[1:]
			st.offlineDropped.Add(1)
		}
		s.queue = append(s.queue, q)
		st.queued.Store(uint64(len(s.queue)))
	}
}

// goOnline flushes the offline queue in order and marks the session connected, under s.mu so that no
// new publish overtakes the queue. It returns false if ctx ended.
func (s *session) goOnline(ctx context.Context) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) > 0 {
		q := s.queue[0]
		tok := s.client.Publish(q.topic, q.qos, q.retain, q.payload)
		if notConnected(tok) {
			break // lost again already: the rest waits for the next connection
		}
		s.queue[0] = queued{}
		s.queue = s.queue[1:]
		s.bus.stats.queued.Store(uint64(len(s.queue)))
		if !s.track(ctx, ack{tok: tok, start: time.Now()}) {
			return false
		}
	}
	if len(s.queue) == 0 {
		s.queue = nil
	}
	s.connected = true
	s.bus.setOnline(true)
	return true
}

func (s *session) goOffline() {
	s.mu.Lock()
	s.connected = false
	s.mu.Unlock()
	s.bus.setOnline(false)
}

// track hands a publish's token to ackLoop, waiting while MaxInflight publishes are unacknowledged.
func (s *session) track(ctx context.Context, a ack) bool {
	select {
	case s.acks <- a:
		return true
	case <-ctx.Done():
		s.settle(a, ErrStopped)
		return false
	}
}

// ackLoop waits for the acknowledgements in publish order (they complete in about that order) and
// settles each: counted, and answered if it was a sync request.
func (s *session) ackLoop(ctx context.Context) {
	timeout := s.bus.cfg.PublishTimeout
	timer := time.NewTimer(timeout)
	timer.Stop()
	for {
		var a ack
		select {
		case a = <-s.acks:
		case <-ctx.Done():
			return
		}
		var err error
		select {
		case <-a.tok.Done():
			err = a.tok.Error()
		default:
			timer.Reset(max(timeout-time.Since(a.start), 0))
			select {
			case <-a.tok.Done():
				err = a.tok.Error()
			case <-timer.C:
				err = ErrPublishTimeout
			case <-ctx.Done():
				err = ErrStopped
			}
			timer.Stop()
		}
		s.settle(a, err)
	}
}

// settle counts a finished publish and answers its request.
func (s *session) settle(a ack, err error) {
	if err == nil {
		s.bus.stats.published.Add(1)
	} else {
		s.bus.stats.publishErrors.Add(1)
		if !errors.Is(err, ErrStopped) && !errors.Is(err, ErrPublishTimeout) && !errors.Is(err, ErrNotConnected) {
			err = fmt.Errorf("eventbus: publish: %w", err)
		}
	}
	s.answer(a.req, err)
}

// drainAcks settles the publishes left when the session ends.
func (s *session) drainAcks() {
	for {
		select {
		case a := <-s.acks:
			s.settle(a, ErrStopped)
		default:
			return
		}
	}
}

// dropQueue discards the offline queue when the session ends (it lives in memory), counting it.
func (s *session) dropQueue() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bus.stats.offlineDropped.Add(uint64(len(s.queue)))
	s.bus.stats.queued.Store(0)
	s.queue = nil
}
