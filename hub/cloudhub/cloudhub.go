package cloudhub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/certs"
	"github.com/edgehive/edgehive/hub/internal/link"
)

// CloudHub is the cloud's end of the link, a beehive module. Create it with New, Add it to a Hive.
type CloudHub struct {
	cfg      Config
	ids      *link.IDs
	upgrader websocket.Upgrader

	mu       sync.Mutex
	nodes    map[hub.NodeName]*nodeState
	sessions map[*session]struct{}
	admitted map[hub.NodeName]int // connections per node, from admission to the end of the handler
	stopped  bool
	runCtx   context.Context
	bee      *beehive.Context
	addr     net.Addr
	wg       sync.WaitGroup
	sessID   uint64

	ctr     link.Counters
	counter counters
}

type counters struct {
	connects, disconnects, replaced, refusedConns         atomic.Uint64
	resends, acks, nacks, refused, throttled, delivered   atomic.Uint64
	resyncs, resyncChanges, resyncBytes, digestBytes      atomic.Uint64
	rotations, downstream, badDownstream, deliveryFailure atomic.Uint64
	stale, shedHandshakes, failedHandshakes, resumed      atomic.Uint64
}

// New returns a cloud hub for cfg, or an error wrapping ErrInvalidConfig.
func New(cfg Config) (*CloudHub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	h := &CloudHub{
		cfg:      cfg,
		ids:      link.NewIDs(),
		nodes:    make(map[hub.NodeName]*nodeState),
		sessions: make(map[*session]struct{}),
		admitted: make(map[hub.NodeName]int),
	}
	h.upgrader = websocket.Upgrader{
		HandshakeTimeout: cfg.HandshakeTimeout,
		// ReadBufferSize 0 reuses the HTTP server's 4 KiB reader; writes borrow a pooled buffer.
		WriteBufferSize: 4096,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     func(*http.Request) bool { return true }, // not a browser endpoint; mTLS decides
	}
	return h, nil
}

// Name implements beehive.Module: "cloudhub".
func (h *CloudHub) Name() string { return Name }

// Group implements beehive.Module: beehive.GroupHub.
func (h *CloudHub) Group() beehive.Group { return Group }

// Addr returns the address the hub listens on while it runs, or nil.
func (h *CloudHub) Addr() net.Addr {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.addr
}

// Run implements beehive.Module: it listens on Config.Addr, serves the edges, and forwards downstream
// messages from its mailbox until ctx ends; then it closes every connection and returns. Pending
// frames survive a restart of Run by the hive (they live in the CloudHub), not a new CloudHub.
func (h *CloudHub) Run(ctx context.Context, c *beehive.Context) error {
	ln, err := net.Listen("tcp", h.cfg.Addr)
	if err != nil {
		return fmt.Errorf("cloudhub: listen: %w", err)
	}
	h.mu.Lock()
	h.stopped = false
	h.runCtx = ctx
	h.bee = c
	h.addr = ln.Addr()
	h.mu.Unlock()

	mux := http.NewServeMux()
	mux.HandleFunc(h.cfg.Path, h.serveWS)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: h.cfg.HandshakeTimeout, // also bounds the TLS handshake
		IdleTimeout:       h.cfg.HandshakeTimeout,
		ErrorLog:          slog.NewLogLogger(h.cfg.Logger.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	tlsLn := newHandshakeListener(ln, h.cfg.TLS.Clone(), h.cfg.MaxHandshakes, h.cfg.HandshakeTimeout,
		func() { h.counter.shedHandshakes.Add(1) }, func() { h.counter.failedHandshakes.Add(1) })
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(tlsLn) }()

	var bg sync.WaitGroup
	watchCtx, stopWatch := context.WithCancel(ctx)
	if n, ok := h.cfg.Denylist.(certs.Notifier); ok {
		bg.Add(1)
		go func() {
			defer bg.Done()
			h.watchDenylist(watchCtx, n)
		}()
	}

	err = h.loop(ctx, c, serveErr)
	stopWatch()
	_ = srv.Close()
	_ = tlsLn.Close()
	tlsLn.Wait()
	h.mu.Lock()
	h.stopped = true
	h.addr = nil
	for s := range h.sessions {
		s.conn.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
	bg.Wait()
	if err == nil || ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// loop forwards downstream messages until ctx ends or the server fails.
func (h *CloudHub) loop(ctx context.Context, c *beehive.Context, serveErr <-chan error) error {
	for {
		m, err := c.Receive(ctx)
		if err != nil {
			return nil
		}
		select {
		case err := <-serveErr:
			return fmt.Errorf("cloudhub: serve: %w", err)
		default:
		}
		err = h.downstream(ctx, m)
		if err != nil {
			h.counter.badDownstream.Add(1)
			h.cfg.Logger.Warn("cloudhub: downstream message refused", "resource", m.Router.Resource, "op", m.Router.Operation, "err", err)
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

// downstream turns a message from a local module into a frame for its node: reliable (pending until
// acknowledged) for object operations, best effort (sent if the node is connected) for the others.
func (h *CloudHub) downstream(ctx context.Context, m beehive.Message) error {
	node, key, err := ParseNodeResource(m.Router.Resource)
	if err != nil {
		return err
	}
	switch m.Router.Operation {
	case hub.OpAck, hub.OpNack, hub.OpPing, hub.OpPong, hub.OpResync, hub.OpResyncDone:
		return fmt.Errorf("%w: %s", ErrBadOperation, m.Router.Operation)
	}
	f, err := hub.FrameFromMessage(&m)
	if err != nil {
		return err
	}
	f.Header.ID = h.ids.Next()
	f.Header.ParentID = beehive.ID{}
	f.Header.Sync = false
	f.Router.Source = Name
	f.Router.Resource = ""
	if !key.IsZero() {
		f.Router.Resource = key.String()
	}
	if f.Router.Group == "" {
		f.Router.Group = beehive.GroupMeta
	}
	h.counter.downstream.Add(1)
	ns := h.node(node)
	if hub.IsWrite(f.Router.Operation) {
		if key.IsZero() {
			return fmt.Errorf("%w: an object operation needs a key", ErrBadResource)
		}
		if h.stale(ctx, node, key, &f) {
			h.counter.stale.Add(1)
			return nil
		}
		ns.mu.Lock()
		ns.put(f)
		ns.mu.Unlock()
		ns.signal()
		return nil
	}
	ns.mu.Lock()
	s := ns.sess
	ns.mu.Unlock()
	if s == nil {
		return nil // best effort: the node is away
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.WriteTimeout)
	defer cancel()
	if err := s.conn.Send(ctx, &f); err != nil && !errors.Is(err, link.ErrClosed) {
		return err
	}
	return nil
}

// stale reports whether f carries a version that DesiredState no longer wants (a newer one is on its
// way behind it, or the object is gone): forwarding it could put an older version after a newer one
// that a resync already sent. Without a DesiredState nothing is stale.
func (h *CloudHub) stale(ctx context.Context, node hub.NodeName, key hub.Key, f *hub.Frame) bool {
	if h.cfg.DesiredState == nil {
		return false
	}
	obj, ok, err := h.cfg.DesiredState.Get(ctx, node, key)
	if err != nil {
		h.cfg.Logger.Warn("cloudhub: desired state lookup failed; forwarding", "node", node, "key", key, "err", err)
		return false
	}
	if f.Router.Operation == hub.OpDelete {
		return ok
	}
	return !ok || obj.ResourceVersion != f.Header.ResourceVersion
}

// node returns the state of node, creating it.
func (h *CloudHub) node(node hub.NodeName) *nodeState {
	h.mu.Lock()
	defer h.mu.Unlock()
	ns := h.nodes[node]
	if ns == nil {
		ns = newNodeState(node, h.cfg.RatePerNode, h.cfg.BurstPerNode)
		h.nodes[node] = ns
	}
	return ns
}

// watchDenylist closes the open connections of nodes denied since their handshake.
func (h *CloudHub) watchDenylist(ctx context.Context, n certs.Notifier) {
	for {
		ch := n.Changed()
		h.mu.Lock()
		var cut []*session
		for s := range h.sessions {
			if _, err := certs.VerifyNode(s.tls, h.cfg.Denylist); err != nil {
				cut = append(cut, s)
			}
		}
		h.mu.Unlock()
		for _, s := range cut {
			h.cfg.Logger.Info("cloudhub: closing the connection of a denied node", "node", s.node.name)
			h.counter.refusedConns.Add(1)
			s.conn.Close()
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// Stats are the cloud hub's counters since New.
type Stats struct {
	ConnectedNodes int
	// PendingFrames is the number of downstream frames waiting for an ack, over all nodes.
	PendingFrames int
	Connects      uint64
	Disconnects   uint64
	// Replaced counts connections closed because the same node connected again.
	Replaced uint64
	// RefusedConns counts connections refused or cut for their identity (bad or denied certificate,
	// too many nodes) after the TLS handshake.
	RefusedConns                           uint64
	FramesIn, FramesOut, BytesIn, BytesOut uint64
	// Resends counts downstream frames written again (same connection after a timeout, or a new one).
	Resends uint64
	// Acks and Nacks count the acknowledgements of downstream frames that matched a pending one.
	Acks, Nacks uint64
	// Refused counts upstream writes refused by authorization (answered with OpNack, never delivered).
	Refused uint64
	// Throttled counts upstream frames delayed by the node's rate limit.
	Throttled uint64
	// Delivered counts upstream messages delivered to the upstream module or group.
	Delivered uint64
	// DeliveryFailures counts upstream messages that could not be delivered (not acknowledged).
	DeliveryFailures uint64
	// TooLarge and BadFrames count connections closed for a frame over the limit or malformed.
	TooLarge, BadFrames uint64
	// Resyncs, ResyncChanges, ResyncBytes, DigestBytes: resync exchanges, the change frames they sent
	// and those frames' bytes, and the bytes of the digests received.
	Resyncs, ResyncChanges, ResyncBytes, DigestBytes uint64
	// Rotations counts node certificates renewed over the link.
	Rotations uint64
	// Downstream counts messages accepted from local modules; BadDownstream those refused; Stale those
	// dropped because DesiredState wants another version (see Config.DesiredState).
	Downstream, BadDownstream, Stale uint64
	// ShedHandshakes counts connections closed unserved because MaxHandshakes handshakes were in
	// progress; FailedHandshakes the TLS handshakes that failed or timed out.
	ShedHandshakes, FailedHandshakes uint64
	// Resumed counts the connections whose TLS session was resumed (a ticket) instead of a full
	// handshake.
	Resumed uint64
}

// Stats returns the current counters.
func (h *CloudHub) Stats() Stats {
	h.mu.Lock()
	st := Stats{ConnectedNodes: len(h.sessions)}
	nodes := make([]*nodeState, 0, len(h.nodes))
	for _, n := range h.nodes {
		nodes = append(nodes, n)
	}
	h.mu.Unlock()
	for _, n := range nodes {
		n.mu.Lock()
		st.PendingFrames += len(n.pending)
		n.mu.Unlock()
	}
	c := &h.counter
	st.Connects, st.Disconnects, st.Replaced, st.RefusedConns = c.connects.Load(), c.disconnects.Load(), c.replaced.Load(), c.refusedConns.Load()
	st.FramesIn, st.FramesOut, st.BytesIn, st.BytesOut = h.ctr.FramesIn.Load(), h.ctr.FramesOut.Load(), h.ctr.BytesIn.Load(), h.ctr.BytesOut.Load()
	st.TooLarge, st.BadFrames = h.ctr.TooLarge.Load(), h.ctr.BadFrames.Load()
	st.Resends, st.Acks, st.Nacks, st.Refused = c.resends.Load(), c.acks.Load(), c.nacks.Load(), c.refused.Load()
	st.Throttled, st.Delivered, st.DeliveryFailures = c.throttled.Load(), c.delivered.Load(), c.deliveryFailure.Load()
	st.Resyncs, st.ResyncChanges, st.ResyncBytes, st.DigestBytes = c.resyncs.Load(), c.resyncChanges.Load(), c.resyncBytes.Load(), c.digestBytes.Load()
	st.Rotations, st.Downstream, st.BadDownstream, st.Stale = c.rotations.Load(), c.downstream.Load(), c.badDownstream.Load(), c.stale.Load()
	st.ShedHandshakes, st.FailedHandshakes, st.Resumed = c.shedHandshakes.Load(), c.failedHandshakes.Load(), c.resumed.Load()
	return st
}

// backoff is the resend delay after the n-th write of a frame.
func (h *CloudHub) backoff(n int) time.Duration {
	d := h.cfg.ResendInitial
	for i := 1; i < n && d < h.cfg.ResendMax; i++ {
		d *= 2
	}
	return min(d, h.cfg.ResendMax)
}

var _ beehive.Module = (*CloudHub)(nil)
