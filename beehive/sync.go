package beehive

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// A waiter is where one SendSync waits for its response. Waiters are pooled per hive, so a round trip
// allocates nothing.
//
// The race between a response and the deadline is settled by one compare-and-swap on state, which holds
// a generation (the waiter's reuse count) and a phase:
//   - the responder swaps (gen, waiting) → (gen, answered) and then puts the response into ch (capacity 1,
//     so this never blocks);
//   - the deadline (the waiter's timer, or the caller's context) swaps (gen, waiting) → (gen, abandoned)
//     and, for the timer, puts a timeout marker into ch. Exactly one party wins the swap, so exactly one
//     message ever enters ch per generation, and a response that arrives before the deadline is never lost.
//   - a responder that loses (the phase is abandoned, or the waiter has moved on to a later generation)
//     drops its response and counts it as late.
//
// Waiting is a plain channel receive when the caller's context cannot end (the timer speaks through ch),
// and a two-way select otherwise: the cheapest wait Go offers for each case. A waiter whose timer may
// still fire (Stop reported false) is never reused, so a stale timer cannot touch a later request.
type waiter struct {
	state atomic.Uint64
	ch    chan Message
	timer *time.Timer
}

const (
	phaseWaiting uint64 = iota
	phaseAnswered
	phaseAbandoned
	phaseBits = 2
	phaseMask = 1<<phaseBits - 1
)

// stateOf packs a generation and a phase into a waiter state.
func stateOf(gen, phase uint64) uint64 { return gen<<phaseBits | phase }

// opTimeout marks the message the waiter's timer puts into ch; it never leaves this package.
const opTimeout Operation = "beehive.sync-timeout"

func newWaiter() *waiter {
	w := &waiter{ch: make(chan Message, 1)}
	w.timer = time.AfterFunc(time.Hour, w.expire)
	w.timer.Stop()
	return w
}

// expire runs when the waiter's timer fires: it abandons the current generation if nobody answered yet.
// The generation it reads is the one the timer was armed for, since a waiter is reused only after its
// timer was stopped before firing.
func (w *waiter) expire() {
	s := w.state.Load()
	if s&phaseMask == phaseWaiting && w.state.CompareAndSwap(s, s&^phaseMask|phaseAbandoned) {
		w.ch <- Message{Router: Router{Operation: opTimeout}}
	}
}

// replyHandle is carried (unexported) by a sync request so that Respond finds its waiter, and the
// requesting module to count a late response on.
type replyHandle struct {
	w     *waiter
	gen   uint64
	owner *entry
}

func (h *Hive) getWaiter() (*waiter, uint64) {
	w := h.waiters.Get().(*waiter)
	gen := w.state.Load()>>phaseBits + 1
	w.state.Store(gen << phaseBits)
	return w, gen
}

// SendSync sends m to the module named to and waits for its response (see Respond). It waits until ctx
// ends, or for Config.SyncTimeout when ctx has no deadline. A response that arrives before then is never
// lost; one that arrives later is dropped and counted (ModuleStats.LateResponses of this module).
// If the responder answered with RespondError, the response is returned together with its error.
// When the hive stops, a pending SendSync returns when ctx ends (a module's context ends with the hive)
// or at its timeout.
func (c *Context) SendSync(ctx context.Context, to string, m Message) (Message, error) {
	dst, err := c.hive.lookup(to)
	if err != nil {
		return Message{}, err
	}
	c.stamp(&m)
	m.Header.Sync = true
	w, gen := c.hive.getWaiter()
	m.reply = replyHandle{w: w, gen: gen, owner: c.self}
	if err := c.deliver(ctx, dst, m); err != nil {
		c.hive.waiters.Put(w) // nobody holds the request, and no timer is armed
		return Message{}, err
	}
	return c.await(ctx, w, gen)
}

// await waits on w for the response of generation gen.
func (c *Context) await(ctx context.Context, w *waiter, gen uint64) (Message, error) {
	armed := false
	if _, ok := ctx.Deadline(); !ok {
		w.timer.Reset(c.hive.cfg.SyncTimeout)
		armed = true
	}
	var r Message
	if done := ctx.Done(); done == nil {
		r = <-w.ch // the response, or the timer's marker
	} else {
		select {
		case r = <-w.ch:
		case <-done:
			if w.state.CompareAndSwap(stateOf(gen, phaseWaiting), stateOf(gen, phaseAbandoned)) {
				r = Message{Router: Router{Operation: opTimeout}, Content: ctx.Err()}
			} else {
				// The responder (or the timer) won the race: its message is in ch, or about to be.
				r = <-w.ch
			}
		}
	}
	if !armed || w.timer.Stop() {
		c.hive.waiters.Put(w)
	}
	if r.Router.Operation == opTimeout {
		c.self.syncTimeouts.Add(1)
		cause, _ := r.Content.(error)
		if cause == nil {
			cause = context.DeadlineExceeded
		}
		return Message{}, fmt.Errorf("beehive: sync request: %w", cause)
	}
	return r, r.Err()
}

// Respond answers the sync request req with content. It returns ErrNotSync if req was not sent with
// SendSync, and ErrLateResponse if the requester has already given up (the response is dropped and
// counted on the requester).
func (c *Context) Respond(req Message, content any) error {
	return c.respond(req, OpResponse, content)
}

// RespondError answers the sync request req with an error; the requester's SendSync returns it.
func (c *Context) RespondError(req Message, err error) error {
	return c.respond(req, OpError, err)
}

func (c *Context) respond(req Message, op Operation, content any) error {
	h := req.reply
	if h.w == nil {
		return ErrNotSync
	}
	resp := Message{
		Header: Header{
			ID:              c.hive.nextID(),
			ParentID:        req.Header.ID,
			Timestamp:       time.Now().UnixNano(),
			Sync:            true,
			ResourceVersion: req.Header.ResourceVersion,
		},
		Router:  Router{Source: c.self.name, Group: req.Router.Group, Operation: op, Resource: req.Router.Resource},
		Content: content,
	}
	if h.w.state.CompareAndSwap(stateOf(h.gen, phaseWaiting), stateOf(h.gen, phaseAnswered)) {
		h.w.ch <- resp
		c.self.sent.Add(1)
		return nil
	}
	st := h.w.state.Load()
	if st>>phaseBits == h.gen && st&phaseMask == phaseAnswered {
		return ErrAlreadyAnswered
	}
	h.owner.late.Add(1)
	return ErrLateResponse
}

// SendToGroupSync sends m to every module of group except the sender and waits for all responses, until
// ctx ends (or Config.SyncTimeout without a deadline). It returns the responses that arrived, in the
// group's order, and the joined errors of the members that did not answer.
func (c *Context) SendToGroupSync(ctx context.Context, group Group, m Message) ([]Message, error) {
	members, ok := c.hive.groups[group]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownGroup, group)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.hive.cfg.SyncTimeout)
		defer cancel()
	}
	c.stamp(&m)
	m.Header.Sync = true
	type pending struct {
		w   *waiter
		gen uint64
		to  string
	}
	waits := make([]pending, 0, len(members))
	var errs []error
	for _, dst := range members {
		if dst == c.self {
			continue
		}
		w, gen := c.hive.getWaiter()
		req := m
		req.reply = replyHandle{w: w, gen: gen, owner: c.self}
		if err := c.deliver(ctx, dst, req); err != nil {
			c.hive.waiters.Put(w)
			errs = append(errs, fmt.Errorf("%s: %w", dst.name, err))
			continue
		}
		waits = append(waits, pending{w, gen, dst.name})
	}
	out := make([]Message, 0, len(waits))
	for _, p := range waits {
		r, err := c.await(ctx, p.w, p.gen)
		if err != nil && r.Router.Operation != OpError {
			errs = append(errs, fmt.Errorf("%s: %w", p.to, err))
			continue
		}
		out = append(out, r)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.to, err))
		}
	}
	return out, errors.Join(errs...)
}
