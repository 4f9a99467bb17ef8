package edgehub

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/internal/link"
)

// EdgeHub is the edge's end of the link, a beehive module. Create it with New, Add it to a Hive.
type EdgeHub struct {
	cfg      Config
	ids      *link.IDs
	dialer   websocket.Dialer
	sessions *sessionCache // Config.SessionResumption, else nil

	mu     sync.Mutex
	box    *outbox
	wake   chan struct{} // new outbox rows (capacity 1)
	online atomic.Bool

	ctr     link.Counters
	counter counters
}

type counters struct {
	connects, disconnects, dialErrors                  atomic.Uint64
	applied, applyErrors, acks, nacks, resends, resync atomic.Uint64
	accepted, refused, rotations, rotateErrors         atomic.Uint64
}

// New returns an edge hub for cfg, or an error wrapping ErrInvalidConfig. The outbox is opened by Run.
func New(cfg Config) (*EdgeHub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	e := &EdgeHub{
		cfg:  cfg,
		ids:  link.NewIDs(),
		wake: make(chan struct{}, 1),
		dialer: websocket.Dialer{
			TLSClientConfig:  cfg.TLS.Clone(),
			HandshakeTimeout: cfg.HandshakeTimeout,
			ReadBufferSize:   4096,
			WriteBufferSize:  4096,
			WriteBufferPool:  &sync.Pool{},
		},
	}
	if cfg.SessionResumption && e.dialer.TLSClientConfig.ClientSessionCache == nil {
		e.sessions = newSessionCache()
		e.dialer.TLSClientConfig.ClientSessionCache = e.sessions
	}
	return e, nil
}

// Name implements beehive.Module: "edgehub".
func (e *EdgeHub) Name() string { return Name }

// Group implements beehive.Module: beehive.GroupHub.
func (e *EdgeHub) Group() beehive.Group { return Group }

// Connected reports whether a connection to the cloud is up.
func (e *EdgeHub) Connected() bool { return e.online.Load() }

// Run implements beehive.Module: it opens the outbox, keeps a connection to the cloud (redialing with
// backoff), and takes upstream messages from its mailbox into the outbox until ctx ends.
func (e *EdgeHub) Run(ctx context.Context, c *beehive.Context) error {
	box, err := openOutbox(ctx, e.cfg.OutboxPath, e.cfg.OutboxMaxBytes, e.cfg.OutboxMaxAge, e.cfg.OutboxRelaxedSync)
	if err != nil {
		return err
	}
	if err := box.expire(ctx, time.Now()); err != nil {
		_ = box.close()
		return err
	}
	e.mu.Lock()
	e.box = box
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.box = nil
		e.mu.Unlock()
		_ = box.close()
	}()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		e.connectLoop(ctx, c, box)
	}()
	go func() {
		defer wg.Done()
		box.deleter(ctx, func(err error) { e.cfg.Logger.Warn("edgehub: outbox delete failed", "err", err) })
	}()
	defer wg.Wait()

	expire := time.NewTicker(min(e.cfg.OutboxMaxAge/4+time.Second, time.Hour))
	defer expire.Stop()
	for {
		m, err := c.Receive(ctx)
		if err != nil {
			return ctx.Err()
		}
		select {
		case <-expire.C:
			if err := box.expire(ctx, time.Now()); err != nil {
				e.cfg.Logger.Warn("edgehub: outbox expiry failed", "err", err)
			}
		default:
		}
		err = e.upstream(ctx, box, m)
		if err != nil {
			e.counter.refused.Add(1)
			e.cfg.Logger.Warn("edgehub: upstream message refused", "op", m.Router.Operation, "resource", m.Router.Resource, "err", err)
		}
		if m.Header.Sync {
			if err != nil {
				_ = c.RespondError(m, err)
			} else {
				_ = c.Respond(m, nil)
			}
		}
	}
}

// upstream puts a local module's message into the outbox.
func (e *EdgeHub) upstream(ctx context.Context, box *outbox, m beehive.Message) error {
	op := m.Router.Operation
	switch op {
	case "", hub.OpAck, hub.OpNack, hub.OpPing, hub.OpPong, hub.OpResync, hub.OpResyncDone, hub.OpCertRotate:
		return fmt.Errorf("%w: operation %q", ErrBadMessage, op)
	}
	if hub.IsWrite(op) {
		if _, err := hub.ParseKey(m.Router.Resource); err != nil {
			return fmt.Errorf("%w: %w", ErrBadMessage, err)
		}
	}
	f, err := hub.FrameFromMessage(&m)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	if len(f.Router.Resource) > hub.MaxFieldLen || len(f.Header.ResourceVersion) > hub.MaxFieldLen {
		return fmt.Errorf("%w: resource or version over %d bytes", ErrBadMessage, hub.MaxFieldLen)
	}
	r := &row{
		resource: f.Router.Resource,
		coalesce: hub.IsWrite(op),
		op:       op,
		group:    f.Router.Group,
		rv:       f.Header.ResourceVersion,
		msgID:    f.Header.ID,
		created:  time.Now().UnixNano(),
		content:  f.Content,
	}
	if r.msgID.IsZero() {
		r.msgID = e.ids.Next()
	}
	if _, err := box.put(ctx, r); err != nil {
		return err
	}
	e.counter.accepted.Add(1)
	select {
	case e.wake <- struct{}{}:
	default:
	}
	return nil
}

// connectLoop dials the cloud and serves each connection, until ctx ends.
func (e *EdgeHub) connectLoop(ctx context.Context, c *beehive.Context, box *outbox) {
	failures := 0
	for ctx.Err() == nil {
		ws, resp, err := e.dialer.DialContext(ctx, e.cfg.URL, nil)
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			e.counter.dialErrors.Add(1)
			status := 0
			if resp != nil {
				status = resp.StatusCode
			}
			e.cfg.Logger.Debug("edgehub: dial failed", "url", e.cfg.URL, "status", status, "err", err)
			failures++
			if !sleep(ctx, e.backoff(failures)) {
				return
			}
			continue
		}
		failures = 0
		err = e.session(ctx, c, box, ws)
		e.cfg.Logger.Debug("edgehub: disconnected", "err", err)
		if !sleep(ctx, e.backoff(0)) {
			return
		}
	}
}

// backoff returns the full-jitter wait after n failures in a row: uniform in [0, min(max, initial·2ⁿ)).
func (e *EdgeHub) backoff(n int) time.Duration {
	d := e.cfg.BackoffInitial
	for i := 0; i < n && d < e.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, e.cfg.BackoffMax)
	return time.Duration(rand.Int64N(int64(d) + 1))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// notify tells Config.NotifyGroups of a connection change, without blocking for long.
func (e *EdgeHub) notify(ctx context.Context, c *beehive.Context, op beehive.Operation) {
	for _, g := range e.cfg.NotifyGroups {
		nctx, cancel := context.WithTimeout(ctx, e.cfg.WriteTimeout)
		err := c.SendToGroup(nctx, g, c.NewMessage(Group, op, "", nil))
		cancel()
		if err != nil && !errors.Is(err, beehive.ErrClosed) {
			e.cfg.Logger.Warn("edgehub: notification not delivered", "group", g, "op", op, "err", err)
		}
	}
}

// Stats are the edge hub's counters since New.
type Stats struct {
	Connected                              bool
	Connects, Disconnects, DialErrors      uint64
	FramesIn, FramesOut, BytesIn, BytesOut uint64
	// Applied counts downstream frames the local module confirmed (and that were acknowledged);
	// ApplyErrors those it refused or did not answer in time (not acknowledged: the cloud resends).
	Applied, ApplyErrors uint64
	// Acks and Nacks count upstream messages the cloud acknowledged or refused (both leave the outbox).
	Acks, Nacks uint64
	// Resends counts upstream messages sent again.
	Resends uint64
	// Resyncs counts resync answers completed by the cloud (OpResyncDone).
	Resyncs uint64
	// Accepted counts upstream messages taken into the outbox; Refused those refused.
	Accepted, Refused uint64
	// Rotations and RotateErrors count certificate renewals over the link and their failures.
	Rotations, RotateErrors uint64
	Outbox                  OutboxStats
}

// Stats returns the current counters.
func (e *EdgeHub) Stats() Stats {
	st := Stats{Connected: e.online.Load()}
	c := &e.counter
	st.Connects, st.Disconnects, st.DialErrors = c.connects.Load(), c.disconnects.Load(), c.dialErrors.Load()
	st.FramesIn, st.FramesOut, st.BytesIn, st.BytesOut = e.ctr.FramesIn.Load(), e.ctr.FramesOut.Load(), e.ctr.BytesIn.Load(), e.ctr.BytesOut.Load()
	st.Applied, st.ApplyErrors, st.Acks, st.Nacks = c.applied.Load(), c.applyErrors.Load(), c.acks.Load(), c.nacks.Load()
	st.Resends, st.Resyncs, st.Accepted, st.Refused = c.resends.Load(), c.resync.Load(), c.accepted.Load(), c.refused.Load()
	st.Rotations, st.RotateErrors = c.rotations.Load(), c.rotateErrors.Load()
	e.mu.Lock()
	if e.box != nil {
		st.Outbox = e.box.stats()
	}
	e.mu.Unlock()
	return st
}

var _ beehive.Module = (*EdgeHub)(nil)
