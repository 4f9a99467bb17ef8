package eventbus

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/eventbus/api"
)

// Errors of the eventbus; the ones it answers requests with live in package api, so that modules can
// compare them without importing this package (and the MQTT client).
var (
	ErrNotConnected     = api.ErrNotConnected
	ErrInvalidTopic     = api.ErrInvalidTopic
	ErrInvalidFilter    = api.ErrInvalidFilter
	ErrPayloadTooLarge  = api.ErrPayloadTooLarge
	ErrBadContent       = api.ErrBadContent
	ErrUnknownOperation = api.ErrUnknownOperation
	ErrPublishTimeout   = api.ErrPublishTimeout
	ErrSubscribeFailed  = api.ErrSubscribeFailed
	ErrNotSubscribed    = api.ErrNotSubscribed
	ErrStaticRoute      = api.ErrStaticRoute
	ErrStopped          = api.ErrStopped
)

// Bus is the eventbus module: an MQTT client that bridges broker topics and beehive messages both ways.
// Create it with New and add it to a beehive.Hive; the hive runs it. Stats and WaitConnected may be
// called from any goroutine.
type Bus struct {
	cfg    Config
	log    *slog.Logger
	routes atomic.Pointer[table] // survives restarts of the module: runtime subscriptions too
	stats  counters

	connMu sync.Mutex
	online chan struct{} // closed while connected and subscribed
}

// New returns the eventbus module with cfg. It fails with ErrInvalidConfig if cfg is invalid.
func New(cfg Config) (*Bus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	b := &Bus{cfg: cfg, log: cfg.Logger.With("module", cfg.Name), online: make(chan struct{})}
	b.routes.Store(&table{routes: cfg.staticRoutes()})
	return b, nil
}

// Name implements beehive.Module.
func (b *Bus) Name() string { return b.cfg.Name }

// Group implements beehive.Module: beehive.GroupBus.
func (b *Bus) Group() beehive.Group { return beehive.GroupBus }

// ModuleConfig implements beehive.Configurer.
func (b *Bus) ModuleConfig() beehive.ModuleConfig {
	return beehive.ModuleConfig{MailboxSize: b.cfg.MailboxSize}
}

// BrokerURL is the broker the bus connects to.
func (b *Bus) BrokerURL() string { return b.cfg.BrokerURL }

// Subscriptions returns the topic filters the bus subscribes to (the routes' filters without overlaps),
// sorted.
func (b *Bus) Subscriptions() []string { return b.routes.Load().filters() }

// WaitConnected waits until the bus is connected to the broker and its subscriptions are in place, or
// ctx ends.
func (b *Bus) WaitConnected(ctx context.Context) error {
	b.connMu.Lock()
	ch := b.online
	b.connMu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Bus) setOnline(up bool) {
	b.connMu.Lock()
	defer b.connMu.Unlock()
	select {
	case <-b.online:
		if !up {
			b.online = make(chan struct{})
		}
	default:
		if up {
			close(b.online)
		}
	}
	b.stats.connected.Store(up)
}

// Run implements beehive.Module: it connects to the broker (reconnecting with backoff until ctx ends),
// delivers MQTT messages to their routes, and serves the requests of other modules.
func (b *Bus) Run(ctx context.Context, c *beehive.Context) error {
	s := newSession(ctx, b, c)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.connLoop(ctx) }()
	go func() { defer wg.Done(); s.ackLoop(ctx) }()
	for {
		m, err := c.Receive(ctx)
		if err != nil {
			break // ctx ended: the hive is stopping
		}
		b.handle(ctx, s, m)
	}
	wg.Wait()
	s.drainOps()
	s.drainAcks()
	s.dropQueue()
	return nil
}

// handle serves one request from another module.
func (b *Bus) handle(ctx context.Context, s *session, m beehive.Message) {
	if m.IsResponse() {
		return // the bus sends no requests; nothing to match a response with
	}
	switch m.Router.Operation {
	case api.OpPublish:
		s.publish(ctx, m)
	case api.OpSubscribe, api.OpUnsubscribe:
		o, err := b.subscription(m)
		if err != nil {
			s.reject(m, err)
			return
		}
		select {
		case s.ops <- o:
		case <-ctx.Done():
			s.reject(m, ErrStopped)
		}
	default:
		s.reject(m, fmt.Errorf("%w %q", ErrUnknownOperation, m.Router.Operation))
	}
}

// subscription decodes an OpSubscribe or OpUnsubscribe request.
func (b *Bus) subscription(m beehive.Message) (subOp, error) {
	o := subOp{req: m, filter: m.Router.Resource, unsubscribe: m.Router.Operation == api.OpUnsubscribe}
	if err := api.ValidFilter(o.filter); err != nil {
		return o, err
	}
	switch c := m.Content.(type) {
	case nil:
	case api.Subscription:
		o.target = c.Target
	case *api.Subscription:
		if c != nil {
			o.target = c.Target
		}
	default:
		return o, fmt.Errorf("%w: subscription content is %T", ErrBadContent, m.Content)
	}
	if o.target.IsZero() {
		o.target = api.Target{Module: m.Router.Source}
	}
	if err := o.target.Validate(); err != nil {
		return o, fmt.Errorf("%w: %v", ErrBadContent, err)
	}
	if o.target.Module == b.cfg.Name {
		return o, fmt.Errorf("%w: the eventbus cannot be its own target", ErrBadContent)
	}
	return o, nil
}

var (
	_ beehive.Module     = (*Bus)(nil)
	_ beehive.Configurer = (*Bus)(nil)
)
