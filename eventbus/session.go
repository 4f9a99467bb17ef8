package eventbus

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/eventbus/api"
)

// session is one Run of the bus: a paho client and the goroutines around it.
//
// Goroutines: the module loop (Bus.Run) serves requests and publishes; connLoop owns the connection
// and the subscriptions (it alone changes routes and calls Subscribe/Unsubscribe); ackLoop waits for
// the broker's acknowledgements in order; paho's router goroutine calls onMessage for each message
// received. mu guards the connected flag and the offline queue, so that a publish never overtakes the
// queue being flushed on reconnect.
type session struct {
	bus      *Bus
	c        *beehive.Context
	client   paho.Client
	runCtx   context.Context
	canceled context.Context // already done: Send with it never waits

	ops  chan subOp
	lost chan error
	acks chan ack

	mu        sync.Mutex
	connected bool
	queue     []queued
}

// subOp is a subscribe or unsubscribe request, served by connLoop.
type subOp struct {
	req         beehive.Message
	filter      string
	target      api.Target
	unsubscribe bool
}

func newSession(ctx context.Context, b *Bus, c *beehive.Context) *session {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	s := &session{
		bus: b, c: c, runCtx: ctx, canceled: canceled,
		ops:  make(chan subOp, 16),
		lost: make(chan error, 1),
		acks: make(chan ack, b.cfg.MaxInflight),
	}
	cfg := b.cfg
	opts := paho.NewClientOptions().
		AddBroker(cfg.BrokerURL).
		SetClientID(cfg.ClientID).
		SetUsername(cfg.Username).
		SetPassword(cfg.Password).
		SetTLSConfig(cfg.TLS).
		SetCleanSession(false).  // the broker keeps our subscriptions and queues QoS 1 messages while we are away
		SetAutoReconnect(false). // connLoop reconnects: with our backoff, and stoppable at once
		SetConnectRetry(false).
		SetResumeSubs(false). // connLoop subscribes again on every connection
		SetOrderMatters(true).
		SetConnectTimeout(cfg.ConnectTimeout).
		SetKeepAlive(cfg.KeepAlive).
		SetPingTimeout(min(cfg.KeepAlive, 10*time.Second)).
		SetWriteTimeout(cfg.PublishTimeout).
		SetDefaultPublishHandler(s.onMessage).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			select {
			case s.lost <- err:
			default:
			}
		})
	s.client = paho.NewClient(opts)
	return s
}

// connLoop connects, subscribes, flushes the offline queue and serves subscription changes, and
// reconnects with backoff whenever the connection is lost, until ctx ends.
func (s *session) connLoop(ctx context.Context) {
	cfg, log := s.bus.cfg, s.bus.log
	bo := backoff{min: cfg.ReconnectMin, max: cfg.ReconnectMax}
	quiet := false // log only the first of consecutive connection failures as a warning
	for {
		select {
		case <-s.lost: // a stale signal from an earlier connection
		default:
		}
		tok := s.client.Connect()
		if !s.waitServing(ctx, tok) {
			<-tok.Done() // bounded by ConnectTimeout: leave no paho goroutine behind
			s.client.Disconnect(100)
			return
		}
		err := tok.Error()
		if err == nil {
			if err = s.resubscribe(ctx); err != nil {
				s.client.Disconnect(100)
				if ctx.Err() != nil {
					return
				}
			}
		}
		if err != nil {
			s.bus.stats.connectErrors.Add(1)
			delay := bo.next()
			if quiet {
				log.Debug("eventbus: connect failed", "broker", cfg.BrokerURL, "error", err, "retry_in", delay)
			} else {
				log.Warn("eventbus: connect failed, retrying with backoff", "broker", cfg.BrokerURL, "error", err)
				quiet = true
			}
			if !s.sleep(ctx, jitter(delay)) {
				return
			}
			continue
		}
		s.bus.stats.connects.Add(1)
		if !s.goOnline(ctx) {
			s.client.Disconnect(100)
			return
		}
		up := time.Now()
		log.Info("eventbus: connected", "broker", cfg.BrokerURL, "client_id", cfg.ClientID)
		quiet = false
		if !s.serve(ctx) {
			s.goOffline()
			s.client.Disconnect(250)
			return
		}
		s.goOffline()
		bo.ended(time.Since(up))
		if !s.sleep(ctx, jitter(bo.next())) {
			return
		}
	}
}

// backoff is the delay between connection attempts: doubling from min up to max, and starting over
// after a connection that lasted stableAfter × min or more (a shorter one is a flapping broker).
type backoff struct {
	min, max time.Duration
	cur      time.Duration // the next delay; 0 means min
}

const stableAfter = 10

// next returns the delay to wait now and doubles the one after.
func (b *backoff) next() time.Duration {
	d := max(b.cur, b.min)
	b.cur = min(2*d, b.max)
	return d
}

// ended records that a connection ended after lasting d.
func (b *backoff) ended(d time.Duration) {
	if d >= stableAfter*b.min {
		b.cur = b.min
	}
}

// serve handles subscription changes while connected. It returns true when the connection is lost,
// false when ctx ends.
func (s *session) serve(ctx context.Context) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case err := <-s.lost:
			if s.client.IsConnectionOpen() {
				continue // reported for an earlier connection
			}
			s.bus.log.Warn("eventbus: connection lost", "broker", s.bus.cfg.BrokerURL, "error", err)
			return true
		case o := <-s.ops:
			s.apply(ctx, o, true)
		}
	}
}

// waitServing waits for tok, serving subscription changes (offline) meanwhile. It returns false if ctx
// ends first.
func (s *session) waitServing(ctx context.Context, tok paho.Token) bool {
	for {
		select {
		case <-tok.Done():
			return true
		case o := <-s.ops:
			s.apply(ctx, o, false)
		case <-ctx.Done():
			return false
		}
	}
}

// sleep waits d, serving subscription changes (offline) meanwhile. It returns false if ctx ends first.
func (s *session) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return true
		case o := <-s.ops:
			s.apply(ctx, o, false)
		case <-ctx.Done():
			return false
		}
	}
}

// jitter returns a duration in [d/2, d].
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// resubscribe subscribes to every filter the routes need, on a fresh connection. The broker may still
// hold them from our session; subscribing again is harmless and covers a broker that restarted.
func (s *session) resubscribe(ctx context.Context) error {
	want := s.bus.routes.Load().filters()
	if len(want) == 0 {
		return nil
	}
	failed, err := s.subscribe(ctx, want)
	if err != nil {
		return err
	}
	for _, f := range failed {
		s.bus.log.Error("eventbus: broker refused a configured subscription", "filter", f)
	}
	return nil
}

// subscribe subscribes to filters at the configured QoS and returns those the broker refused.
func (s *session) subscribe(ctx context.Context, filters []string) (refused []string, err error) {
	qos := s.bus.cfg.QoS.Wire(DefaultQoS)
	m := make(map[string]byte, len(filters))
	for _, f := range filters {
		m[f] = qos
	}
	tok := s.client.SubscribeMultiple(m, nil) // nil: every message goes to the default handler, once
	if err := s.wait(ctx, tok); err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	st, ok := tok.(*paho.SubscribeToken)
	if !ok {
		return nil, nil
	}
	for f, code := range st.Result() {
		if code > 2 { // 0x80: failure
			refused = append(refused, f)
		}
	}
	return refused, nil
}

// wait waits for tok until PublishTimeout or ctx ends.
func (s *session) wait(ctx context.Context, tok paho.Token) error {
	t := time.NewTimer(s.bus.cfg.PublishTimeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-t.C:
		return ErrPublishTimeout
	case <-ctx.Done():
		return ErrStopped
	}
}

// apply serves one subscription change. Connected, it changes the broker's subscriptions before
// answering; disconnected, it records the route, which resubscribe puts in place on connect.
func (s *session) apply(ctx context.Context, o subOp, connected bool) {
	b := s.bus
	old := b.routes.Load()
	var next *table
	var err error
	if o.unsubscribe {
		next, err = old.without(o.filter, o.target)
	} else {
		next = old.with(route{filter: o.filter, target: o.target})
	}
	if err == nil && connected {
		add, remove := diff(old.filters(), next.filters())
		b.routes.Store(next) // before subscribing: the first message must find its route
		if len(add) > 0 {
			var refused []string
			refused, err = s.subscribe(ctx, add)
			if err == nil && len(refused) > 0 {
				err = fmt.Errorf("%w: %q", ErrSubscribeFailed, refused)
			}
			if err != nil {
				b.routes.Store(old)
			}
		}
		if err == nil && len(remove) > 0 {
			if uerr := s.wait(ctx, s.client.Unsubscribe(remove...)); uerr != nil {
				b.log.Warn("eventbus: unsubscribe failed", "filters", remove, "error", uerr)
			}
		}
	} else if err == nil {
		b.routes.Store(next)
	}
	if err == nil && !o.unsubscribe {
		b.stats.subscribed.Add(1)
	}
	s.answer(o.req, err)
}

// drainOps answers the requests left when the session ends.
func (s *session) drainOps() {
	for {
		select {
		case o := <-s.ops:
			s.answer(o.req, ErrStopped)
		default:
			return
		}
	}
}

// answer responds to a sync request with err (nil: success); it does nothing for other messages.
func (s *session) answer(req beehive.Message, err error) {
	if !req.Header.Sync {
		if err != nil {
			s.bus.log.Debug("eventbus: request failed", "source", req.Router.Source,
				"operation", req.Router.Operation, "resource", req.Router.Resource, "error", err)
		}
		return
	}
	var rerr error
	if err != nil {
		rerr = s.c.RespondError(req, err)
	} else {
		rerr = s.c.Respond(req, nil)
	}
	if rerr != nil && !errors.Is(rerr, beehive.ErrLateResponse) {
		s.bus.log.Debug("eventbus: respond", "error", rerr)
	}
}
