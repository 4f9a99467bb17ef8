package cloudhub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/certs"
	"github.com/edgehive/edgehive/hub/internal/link"
)

// session is one connection of a node.
type session struct {
	h    *CloudHub
	id   uint64
	node *nodeState
	conn *link.Conn
	tls  tls.ConnectionState
	wake chan struct{} // the sender's doorbell (capacity 1)
}

func (h *CloudHub) serveWS(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil {
		http.Error(w, "TLS required", http.StatusBadRequest)
		return
	}
	node, err := certs.VerifyNode(*r.TLS, h.cfg.Denylist)
	if err != nil {
		h.counter.refusedConns.Add(1)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	ns := h.node(node)
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		http.Error(w, "stopping", http.StatusServiceUnavailable)
		return
	}
	// Admission counts nodes, not connections: a node connecting again takes no new slot.
	if h.admitted[node] == 0 && len(h.admitted) >= h.cfg.MaxNodes {
		h.mu.Unlock()
		h.counter.refusedConns.Add(1)
		http.Error(w, "too many nodes", http.StatusServiceUnavailable)
		return
	}
	h.admitted[node]++
	h.wg.Add(1)
	ctx, bee := h.runCtx, h.bee
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		if h.admitted[node]--; h.admitted[node] == 0 {
			delete(h.admitted, node)
		}
		h.mu.Unlock()
		h.wg.Done()
	}()

	ws, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	conn := link.New(ws, link.Config{
		Interval:     h.cfg.KeepaliveInterval,
		WriteTimeout: h.cfg.WriteTimeout,
		MaxFrameSize: h.cfg.MaxFrameSize,
		QueueSize:    h.cfg.QueueSize,
		Source:       Name,
	}, h.ids, &h.ctr)

	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		conn.Close()
		return
	}
	h.sessID++
	s := &session{h: h, id: h.sessID, node: ns, conn: conn, tls: *r.TLS, wake: make(chan struct{}, 1)}
	h.sessions[s] = struct{}{}
	ns.mu.Lock()
	old := ns.sess
	ns.sess = s
	ns.started = false
	ns.unsent = ns.unsent[:0]
	ns.mu.Unlock()
	h.mu.Unlock()
	if old != nil {
		h.counter.replaced.Add(1)
		old.conn.Close()
	}
	// A denial that raced with the handshake: check again now that the session is visible.
	if _, err := certs.VerifyNode(s.tls, h.cfg.Denylist); err != nil {
		h.counter.refusedConns.Add(1)
		conn.Close()
	}
	h.counter.connects.Add(1)
	if r.TLS.DidResume {
		h.counter.resumed.Add(1)
	}
	h.cfg.Logger.Debug("cloudhub: node connected", "node", node)

	err = s.run(ctx, bee)

	h.mu.Lock()
	delete(h.sessions, s)
	h.mu.Unlock()
	ns.mu.Lock()
	if ns.sess == s {
		ns.sess = nil
		ns.started = false
		ns.unsent = ns.unsent[:0]
	}
	ns.mu.Unlock()
	h.counter.disconnects.Add(1)
	h.cfg.Logger.Debug("cloudhub: node disconnected", "node", node, "err", err)
}

// run serves the session until its connection ends.
func (s *session) run(ctx context.Context, bee *beehive.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.sendLoop(ctx)
	}()
	err := s.conn.Run(ctx, func(f *hub.Frame) error { return s.handle(ctx, bee, f) })
	wg.Wait()
	return err
}

// sendLoop writes the node's pending frames: at the start of the session (after the resync, or after
// HandshakeTimeout without one), whenever new ones arrive, and again when their resend is due.
func (s *session) sendLoop(ctx context.Context) {
	h, ns := s.h, s.node
	startBy := time.NewTimer(h.cfg.HandshakeTimeout)
	defer startBy.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		frames, resends, wait, ok := ns.next(s, time.Now(), h.backoff)
		if !ok {
			return
		}
		h.counter.resends.Add(uint64(resends))
		for _, f := range frames {
			if err := s.conn.Send(ctx, f); err != nil {
				return
			}
		}
		if wait >= 0 {
			retry.Reset(wait)
		}
		select {
		case <-s.wake:
		case <-retry.C:
		case <-startBy.C:
			ns.mu.Lock()
			if ns.sess == s && !ns.started {
				ns.start(nil) // the edge sent no resync: send what is pending
			}
			ns.mu.Unlock()
		case <-s.conn.Done():
			return
		}
	}
}

// handle processes one frame from the node.
func (s *session) handle(ctx context.Context, bee *beehive.Context, f *hub.Frame) error {
	h, ns := s.h, s.node
	switch f.Router.Operation {
	case hub.OpAck, hub.OpNack:
		if ns.ack(f.Router.Resource, f) {
			if f.Router.Operation == hub.OpAck {
				h.counter.acks.Add(1)
			} else {
				h.counter.nacks.Add(1)
				h.cfg.Logger.Warn("cloudhub: frame refused by the edge", "node", ns.name, "resource", f.Router.Resource, "reason", string(f.Content))
			}
			ns.signal()
		}
		return nil
	case hub.OpResync:
		return s.resync(ctx, f)
	case hub.OpResyncDone, hub.OpResponse, hub.OpError:
		// Answers to requests the cloud hub does not make, or has stopped waiting for: deliver them.
		return s.deliver(ctx, bee, f)
	case hub.OpCertRotate:
		return s.rotate(ctx, f)
	case hub.OpQuery:
		if h.cfg.DesiredState != nil {
			return s.query(ctx, f)
		}
	}
	if d := ns.bucket.take(time.Now()); d > 0 {
		h.counter.throttled.Add(1)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-s.conn.Done():
			t.Stop()
			return link.ErrClosed
		}
	}
	if hub.IsWrite(f.Router.Operation) {
		key, err := f.Key()
		if err == nil {
			err = hub.AuthorizeWrite(ns.name, f.Router.Operation, key, h.cfg.Bindings)
		}
		if err != nil {
			h.counter.refused.Add(1)
			h.cfg.Logger.Warn("cloudhub: upstream write refused", "node", ns.name, "op", f.Router.Operation, "resource", f.Router.Resource, "err", err)
			return s.reply(ctx, f, hub.OpNack, []byte(err.Error()))
		}
	}
	return s.deliver(ctx, bee, f)
}

// deliver hands an upstream frame to the upstream module or group, then acknowledges it.
func (s *session) deliver(ctx context.Context, bee *beehive.Context, f *hub.Frame) error {
	h := s.h
	m := f.Message()
	m.Router.Resource = resourcePrefix + string(s.node.name) + "/" + f.Router.Resource
	m.Header.Sync = false
	var err error
	if h.cfg.UpstreamModule != "" {
		err = bee.Send(ctx, h.cfg.UpstreamModule, m)
	} else {
		err = bee.SendToGroup(ctx, h.cfg.UpstreamGroup, m)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		h.counter.deliveryFailure.Add(1)
		h.cfg.Logger.Warn("cloudhub: upstream message not delivered (not acknowledged; the edge resends it)", "node", s.node.name, "resource", f.Router.Resource, "err", err)
		return nil
	}
	h.counter.delivered.Add(1)
	if f.Seq == 0 && !hub.IsWrite(f.Router.Operation) {
		return nil
	}
	return s.reply(ctx, f, hub.OpAck, nil)
}

// reply answers f with an OpAck or OpNack.
func (s *session) reply(ctx context.Context, f *hub.Frame, op beehive.Operation, content []byte) error {
	a := hub.Frame{
		Header:  beehive.Header{ParentID: f.Header.ID, ResourceVersion: f.Header.ResourceVersion},
		Router:  beehive.Router{Operation: op, Resource: f.Router.Resource, Group: f.Router.Group},
		Seq:     f.Seq,
		Content: content,
	}
	return s.send(ctx, &a)
}

func (s *session) send(ctx context.Context, f *hub.Frame) error {
	if err := s.conn.Send(ctx, f); err != nil && !errors.Is(err, link.ErrClosed) {
		return err
	}
	return nil
}

// resync answers the edge's digest with the differences from the desired state (or, without a
// DesiredState, with the pending frames), then OpResyncDone.
func (s *session) resync(ctx context.Context, f *hub.Frame) error {
	h, ns := s.h, s.node
	h.counter.resyncs.Add(1)
	h.counter.digestBytes.Add(uint64(len(f.Content)))
	done := &item{frame: hub.Frame{
		Header: beehive.Header{ID: h.ids.Next(), ParentID: f.Header.ID, Sync: true},
		Router: beehive.Router{Source: Name, Operation: hub.OpResyncDone},
	}}
	if h.cfg.DesiredState == nil {
		ns.mu.Lock()
		if ns.sess == s {
			ns.start(done)
		}
		ns.mu.Unlock()
		ns.signal()
		return nil
	}
	have, err := hub.DecodeDigest(f.Content)
	if err != nil {
		return fmt.Errorf("cloudhub: resync from %s: %w", ns.name, err)
	}
	ns.mu.Lock()
	seq0 := ns.seq // frames queued after this were checked against a state at least as new as the diff's
	ns.mu.Unlock()
	changes, err := hub.Resync(ctx, h.cfg.DesiredState, ns.name, have)
	if err != nil {
		h.cfg.Logger.Warn("cloudhub: resync failed; sending pending frames only", "node", ns.name, "err", err)
		ns.mu.Lock()
		if ns.sess == s {
			ns.start(done)
		}
		ns.mu.Unlock()
		ns.signal()
		return nil
	}
	var bytes uint64
	sent := 0
	ns.mu.Lock()
	if ns.sess == s {
		kept := make(map[string]*item)
		for k, it := range ns.pending {
			if it.frame.Seq > seq0 {
				kept[k] = it
			}
		}
		clear(ns.pending)
		for _, c := range changes {
			if _, newer := kept[c.Key.String()]; newer {
				continue
			}
			fr := hub.Frame{
				Header:  beehive.Header{ID: h.ids.Next(), Timestamp: time.Now().UnixNano(), ResourceVersion: c.ResourceVersion},
				Router:  beehive.Router{Source: Name, Group: beehive.GroupMeta, Operation: c.Op, Resource: c.Key.String()},
				Content: c.Content,
			}
			ns.put(fr)
			bytes += uint64(fr.Size())
			sent++
		}
		for k, it := range kept {
			ns.pending[k] = it
		}
		ns.start(done)
	}
	ns.mu.Unlock()
	h.counter.resyncChanges.Add(uint64(sent))
	h.counter.resyncBytes.Add(bytes)
	ns.signal()
	return nil
}

// query answers an OpQuery from the desired state.
func (s *session) query(ctx context.Context, f *hub.Frame) error {
	r := hub.Frame{
		Header: beehive.Header{ParentID: f.Header.ID, Sync: true},
		Router: beehive.Router{Operation: hub.OpResponse, Resource: f.Router.Resource, Group: f.Router.Group},
	}
	key, err := f.Key()
	var obj hub.Object
	var ok bool
	if err == nil {
		obj, ok, err = s.h.cfg.DesiredState.Get(ctx, s.node.name, key)
	}
	switch {
	case err != nil:
		r.Router.Operation, r.Content = hub.OpError, []byte(err.Error())
	case !ok:
		r.Router.Operation, r.Content = hub.OpError, []byte("not found")
	default:
		r.Header.ResourceVersion, r.Content = obj.ResourceVersion, obj.Content
	}
	if err := s.send(ctx, &r); err != nil {
		return err
	}
	if f.Seq != 0 { // the query came from the edge's outbox: acknowledge it so that it leaves
		return s.reply(ctx, f, hub.OpAck, nil)
	}
	return nil
}

// rotate answers an OpCertRotate with a certificate for the connection's node.
func (s *session) rotate(ctx context.Context, f *hub.Frame) error {
	r := hub.Frame{
		Header: beehive.Header{ParentID: f.Header.ID, Sync: true},
		Router: beehive.Router{Operation: hub.OpResponse},
	}
	if s.h.cfg.Authority == nil {
		r.Router.Operation, r.Content = hub.OpError, []byte("certificate rotation is not enabled")
		return s.send(ctx, &r)
	}
	nc, err := s.h.cfg.Authority.RenewNodeCert(ctx, s.node.name, f.Content)
	if err != nil {
		r.Router.Operation, r.Content = hub.OpError, []byte(err.Error())
		return s.send(ctx, &r)
	}
	s.h.counter.rotations.Add(1)
	r.Content = nc.ChainPEM
	return s.send(ctx, &r)
}
