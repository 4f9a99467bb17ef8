package beehive

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// replyHandle is carried (unexported) by a sync request so that Respond finds its waiter, and the
// requesting module to count a late response on.
type replyHandle struct {
	w     *waiter
	gen   uint64
	owner *entry
}

// SendSync sends m to the module named to and waits for its response (see Respond). It waits until ctx
// ends, or for Config.SyncTimeout when ctx has no deadline. A response that arrives before then is never
// lost; one that arrives later is dropped and counted (ModuleStats.LateResponses of this module).
// If the responder answered with RespondError, the response is returned together with its error.
// When the hive stops, a pending SendSync returns ErrClosed.
func (c *Context) SendSync(ctx context.Context, to string, m Message) (Message, error) {
	dst, err := c.hive.lookup(to)
	if err != nil {
		return Message{}, err
	}
	c.stamp(&m)
	m.Header.Sync = true
	_, hasDeadline := ctx.Deadline()
	w, gen, err := c.hive.waiters.get(!hasDeadline)
	if err != nil {
		return Message{}, err
	}
	m.reply = replyHandle{w: w, gen: gen, owner: c.self}
	if err := c.deliver(ctx, dst, m); err != nil {
		c.hive.waiters.cancel(w, gen)
		return Message{}, err
	}
	return c.await(ctx, w, gen)
}

// await waits on w for the response of generation gen: a plain channel receive when ctx cannot end, or
// is the module's own context, which ends only when the hive closes (the sweeper speaks through ch at the
// default timeout and at close); a two-way select otherwise.
func (c *Context) await(ctx context.Context, w *waiter, gen uint64) (Message, error) {
	var r Message
	if done := ctx.Done(); done == nil || ctx == c.hive.runCtx {
		r = <-w.ch
	} else {
		select {
		case r = <-w.ch:
		case <-done:
			if w.state.CompareAndSwap(stateOf(gen, phaseWaiting), stateOf(gen, phaseAbandoned)) {
				r = Message{Router: Router{Operation: opTimeout}, Content: ctx.Err()}
			} else {
				// The responder (or the sweeper) won the race: its message is in ch, or about to be.
				r = <-w.ch
			}
		}
	}
	c.hive.waiters.put(w)
	if r.Router.Operation == opTimeout {
		c.self.syncTimeouts.Add(1)
		cause, _ := r.Content.(error)
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
	_, hasDeadline := ctx.Deadline()
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
		w, gen, err := c.hive.waiters.get(!hasDeadline)
		if err != nil {
			errs = append(errs, err)
			break
		}
		req := m
		req.reply = replyHandle{w: w, gen: gen, owner: c.self}
		if err := c.deliver(ctx, dst, req); err != nil {
			c.hive.waiters.cancel(w, gen)
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
