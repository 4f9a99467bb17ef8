package edgehub

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/internal/link"
)

// outboxBatch is how many outbox rows the sender reads at a time.
const outboxBatch = 256

// session serves one connection to the cloud until it ends.
func (e *EdgeHub) session(ctx context.Context, c *beehive.Context, box *outbox, ws *websocket.Conn) error {
	conn := link.New(ws, link.Config{
		Interval:     e.cfg.KeepaliveInterval,
		WriteTimeout: e.cfg.WriteTimeout,
		MaxFrameSize: e.cfg.MaxFrameSize,
		QueueSize:    e.cfg.QueueSize,
		Source:       Name,
	}, e.ids, &e.ctr)
	e.counter.connects.Add(1)
	e.online.Store(true)
	e.notify(ctx, c, OpCloudConnected)

	s := &edgeSession{e: e, box: box, conn: conn, inflight: make(map[int64]time.Time), calls: make(map[beehive.ID]chan hub.Frame)}
	var wg sync.WaitGroup
	if e.cfg.Rotation != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.rotateLoop(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := s.sendLoop(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, link.ErrClosed) {
			e.cfg.Logger.Warn("edgehub: sender stopped", "err", err)
		}
		conn.Close()
	}()
	err := conn.Run(ctx, func(f *hub.Frame) error { return s.handle(ctx, c, f) })
	wg.Wait()

	e.online.Store(false)
	e.counter.disconnects.Add(1)
	if ctx.Err() == nil {
		e.notify(ctx, c, OpCloudDisconnected)
	}
	return err
}

type edgeSession struct {
	e    *EdgeHub
	box  *outbox
	conn *link.Conn

	mu       sync.Mutex
	inflight map[int64]time.Time // outbox rows sent on this connection, not yet acknowledged
	calls    map[beehive.ID]chan hub.Frame
}

// sendLoop sends the resync digest, then the outbox in order, then new rows as they come, and resends
// rows left unacknowledged for ResendInterval.
func (s *edgeSession) sendLoop(ctx context.Context) error {
	e := s.e
	var digest hub.Digest
	if e.cfg.DigestSource != nil {
		d, err := e.cfg.DigestSource.Digest(ctx)
		if err != nil {
			return err
		}
		digest = d
	}
	b, err := digest.AppendBinary(nil)
	if err != nil {
		return err
	}
	rs := hub.Frame{Header: beehive.Header{Sync: true}, Router: beehive.Router{Operation: hub.OpResync}, Content: b}
	if err := s.conn.Send(ctx, &rs); err != nil {
		return err
	}

	var last, maxSent int64
	tick := time.NewTicker(max(e.cfg.ResendInterval/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		rows, err := s.box.after(ctx, last, outboxBatch)
		if err != nil {
			return err
		}
		now := time.Now()
		for i := range rows {
			r := &rows[i]
			s.mu.Lock()
			s.inflight[r.id] = now
			s.mu.Unlock()
			if r.id <= maxSent {
				e.counter.resends.Add(1)
			}
			maxSent = max(maxSent, r.id)
			f := r.frame()
			if err := s.conn.Send(ctx, &f); err != nil {
				return err
			}
			last = r.id
		}
		if len(rows) == outboxBatch {
			continue
		}
		select {
		case <-e.wake:
		case <-tick.C:
			if s.overdue(time.Now()) {
				last = 0 // resend every unacknowledged row, in order
			}
		case <-s.conn.Done():
			return link.ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// overdue reports whether a row sent on this connection has waited ResendInterval for its ack, and
// forgets those rows (the rescan sends again the ones still in the outbox; a row replaced meanwhile by
// a newer write of its key is gone and must not keep the rescans coming).
func (s *edgeSession) overdue(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	found := false
	for id, t := range s.inflight {
		if now.Sub(t) >= s.e.cfg.ResendInterval {
			delete(s.inflight, id)
			found = true
		}
	}
	return found
}

// handle processes one frame from the cloud.
func (s *edgeSession) handle(ctx context.Context, c *beehive.Context, f *hub.Frame) error {
	e := s.e
	switch op := f.Router.Operation; {
	case op == hub.OpAck || op == hub.OpNack:
		id := int64(f.Seq)
		s.mu.Lock()
		delete(s.inflight, id)
		s.mu.Unlock()
		s.box.ack(id)
		if op == hub.OpAck {
			e.counter.acks.Add(1)
		} else {
			e.counter.nacks.Add(1)
			e.cfg.Logger.Warn("edgehub: upstream message refused by the cloud", "resource", f.Router.Resource, "reason", string(f.Content))
		}
		return nil
	case op == hub.OpResyncDone:
		e.counter.resync.Add(1)
		return nil
	case hub.IsWrite(op):
		return s.apply(ctx, c, f)
	case (op == hub.OpResponse || op == hub.OpError) && s.answer(f):
		return nil
	default:
		// Queries, responses, publishes: best effort to the routed module.
		if err := c.Send(ctx, e.route(f.Router.Group), f.Message()); err != nil && ctx.Err() == nil {
			e.cfg.Logger.Warn("edgehub: downstream message not delivered", "op", op, "resource", f.Router.Resource, "err", err)
		}
		return nil
	}
}

// apply hands an object frame to the local module with SendSync and acknowledges it to the cloud only
// when the module has answered without error (after its commit).
func (s *edgeSession) apply(ctx context.Context, c *beehive.Context, f *hub.Frame) error {
	e := s.e
	actx, cancel := context.WithTimeout(ctx, e.cfg.ApplyTimeout)
	_, err := c.SendSync(actx, e.route(f.Router.Group), f.Message())
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e.counter.applyErrors.Add(1)
		e.cfg.Logger.Warn("edgehub: downstream frame not applied (not acknowledged; the cloud resends it)", "op", f.Router.Operation, "resource", f.Router.Resource, "err", err)
		return nil
	}
	e.counter.applied.Add(1)
	ack := hub.Frame{
		Header: beehive.Header{ParentID: f.Header.ID, ResourceVersion: f.Header.ResourceVersion},
		Router: beehive.Router{Operation: hub.OpAck, Resource: f.Router.Resource, Group: f.Router.Group},
		Seq:    f.Seq,
	}
	if err := s.conn.Send(ctx, &ack); err != nil && !errors.Is(err, link.ErrClosed) {
		return err
	}
	return nil
}

// route names the local module for a downstream frame of group g.
func (e *EdgeHub) route(g beehive.Group) string {
	if m, ok := e.cfg.Routes[g]; ok {
		return m
	}
	return e.cfg.Module
}
