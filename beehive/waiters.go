package beehive

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// A waiter is where one SendSync waits for its response. Waiters are reused, so a round trip allocates
// nothing.
//
// The race between a response and the deadline is settled by one compare-and-swap on state, which holds
// a generation (the waiter's reuse count) and a phase:
//   - the responder swaps (gen, waiting) → (gen, answered) and then puts the response into ch (capacity 1,
//     so this never blocks);
//   - the deadline swaps (gen, waiting) → (gen, abandoned): the caller's context from the requester's own
//     goroutine, or the hive's default timeout from the sweeper, which then puts a timeout marker into
//     ch. Exactly one party wins the swap, so at most one message enters ch per generation, and a response
//     that arrives before the deadline is never lost;
//   - a responder that loses (the phase is abandoned, or the waiter has moved on to a later generation)
//     drops its response and counts it as late.
type waiter struct {
	state    atomic.Uint64
	deadline atomic.Int64 // in sweeper ticks; 0: the caller's context bounds the wait instead
	ch       chan Message
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

// opTimeout marks the message the sweeper puts into a waiter's ch; its Content is the cause. It never
// leaves this package.
const opTimeout Operation = "beehive.sync-timeout"

// waiterPool hands out waiters and, from one sweeper goroutine per hive, expires those whose default
// timeout (Config.SyncTimeout) has passed. The sweeper keeps a coarse clock in ticks of a twentieth of
// the timeout, so that arming a deadline costs one atomic load instead of a runtime timer (a timer's
// Reset and Stop cost about as much as the rest of a round trip). A default timeout therefore ends
// between SyncTimeout and SyncTimeout plus two ticks.
type waiterPool struct {
	interval time.Duration
	span     int64 // SyncTimeout in ticks, rounded up, plus one for the partial current tick
	tick     atomic.Int64

	mu     sync.Mutex
	all    []*waiter // every waiter made, for the sweeper; bounded by the peak of concurrent requests
	free   []*waiter
	closed bool
}

func newWaiterPool(timeout time.Duration) *waiterPool {
	interval := max(timeout/20, time.Millisecond)
	span := int64((timeout+interval-1)/interval) + 1
	p := &waiterPool{interval: interval, span: span}
	p.tick.Store(1)
	return p
}

// get returns a waiter armed for a new generation, with the default deadline if withDeadline. It fails
// with ErrClosed once the hive has stopped.
func (p *waiterPool) get(withDeadline bool) (*waiter, uint64, error) {
	var deadline int64
	if withDeadline {
		deadline = p.tick.Load() + p.span
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, 0, ErrClosed
	}
	var w *waiter
	if n := len(p.free); n > 0 {
		w = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		w = &waiter{ch: make(chan Message, 1)}
		p.all = append(p.all, w)
	}
	gen := w.state.Load()>>phaseBits + 1
	w.deadline.Store(deadline)
	w.state.Store(stateOf(gen, phaseWaiting))
	p.mu.Unlock()
	return w, gen, nil
}

// put returns a waiter whose channel is empty and on which nobody will send for its generation.
func (p *waiterPool) put(w *waiter) {
	p.mu.Lock()
	p.free = append(p.free, w)
	p.mu.Unlock()
}

// cancel gives up generation gen of w before anyone was told of it, and returns w to the pool.
func (p *waiterPool) cancel(w *waiter, gen uint64) {
	if !w.state.CompareAndSwap(stateOf(gen, phaseWaiting), stateOf(gen, phaseAbandoned)) {
		<-w.ch // the sweeper expired it meanwhile (the hive closed): take its marker
	}
	p.put(w)
}

// run advances the clock and expires overdue waiters until done is closed; then it expires every waiter
// still waiting with ErrClosed and refuses new ones.
func (p *waiterPool) run(done <-chan struct{}) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			p.sweep(p.tick.Add(1), false)
		case <-done:
			p.sweep(0, true)
			return
		}
	}
}

func (p *waiterPool) sweep(now int64, closing bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if closing {
		p.closed = true
	}
	for _, w := range p.all {
		s := w.state.Load()
		if s&phaseMask != phaseWaiting {
			continue
		}
		d := w.deadline.Load()
		if !closing && (d == 0 || d > now) {
			continue
		}
		if w.state.CompareAndSwap(s, s&^phaseMask|phaseAbandoned) {
			var cause error = context.DeadlineExceeded
			if closing {
				cause = ErrClosed
			}
			w.ch <- Message{Router: Router{Operation: opTimeout}, Content: cause}
		}
	}
}
