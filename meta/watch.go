package meta

import (
	"context"
	"fmt"
	"sync"
)

// Watcher receives the events of one Watch. Read Events until it is closed, then Err says why.
type Watcher struct {
	ch        chan Event
	kind      string
	namespace string
	since     int64

	b        *broadcaster
	stopCtx  func() bool
	mu       sync.Mutex
	err      error
	isClosed bool // guarded by b.mu
}

// Events returns the channel of events, in revision order. It is closed when the watch ends.
func (w *Watcher) Events() <-chan Event { return w.ch }

// Err returns why the watch ended once Events is closed: nil after Stop, the context's error when its
// context ended, ErrWatcherTooSlow when it fell behind, ErrClosed when the store closed.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Stop ends the watch and closes Events. It is idempotent.
func (w *Watcher) Stop() { w.b.remove(w, nil) }

func (w *Watcher) matches(o *Object) bool {
	return o.Revision > w.since &&
		(w.kind == "" || string(o.Key.Kind) == w.kind) &&
		(w.namespace == "" || o.Key.Namespace == w.namespace)
}

// broadcaster fans committed events out to watchers and keeps a bounded history of recent events. The
// writer publishes under mu, so a watcher that registers sees either an event in the history or live,
// never neither; a watcher whose buffer is full is dropped instead of blocking the writer.
type broadcaster struct {
	bufSize int
	histCap int

	mu       sync.Mutex
	watchers map[*Watcher]struct{}
	hist     []Event // ring of the last histCap events
	head     int     // index of the oldest event in hist when full
	floor    int64   // the oldest revision a watch may start after
	closed   bool
}

func newBroadcaster(bufSize, histCap int, rev int64) *broadcaster {
	return &broadcaster{bufSize: bufSize, histCap: histCap, floor: rev, watchers: make(map[*Watcher]struct{})}
}

// publish delivers evs (committed, in revision order) and records them in the history.
func (b *broadcaster) publish(evs []Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ev := range evs {
		if len(b.hist) < b.histCap {
			b.hist = append(b.hist, ev)
		} else {
			b.floor = b.hist[b.head].Object.Revision
			b.hist[b.head] = ev
			b.head = (b.head + 1) % b.histCap
		}
		for w := range b.watchers {
			if !w.matches(&ev.Object) {
				continue
			}
			select {
			case w.ch <- ev:
			default:
				b.closeLocked(w, fmt.Errorf("%w: %d events buffered", ErrWatcherTooSlow, cap(w.ch)))
			}
		}
	}
}

// add registers a watcher starting after opts.Since (or now, for 0) at current, the last committed
// revision, replaying the history it needs.
func (b *broadcaster) add(ctx context.Context, opts WatchOptions, current func() int64) (*Watcher, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w := &Watcher{ch: make(chan Event, b.bufSize), kind: string(opts.Kind), namespace: opts.Namespace, since: opts.Since, b: b}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	if w.since == 0 {
		w.since = current()
	}
	if w.since < b.floor {
		b.mu.Unlock()
		return nil, fmt.Errorf("%w: revision %d, oldest available %d", ErrExpired, w.since, b.floor)
	}
	n := len(b.hist)
	for i := range n {
		ev := b.hist[(b.head+i)%n]
		if !w.matches(&ev.Object) {
			continue
		}
		select {
		case w.ch <- ev:
		default:
			b.mu.Unlock()
			return nil, fmt.Errorf("%w: more than %d events to replay since revision %d", ErrExpired, b.bufSize, w.since)
		}
	}
	b.watchers[w] = struct{}{}
	w.stopCtx = context.AfterFunc(ctx, func() { b.remove(w, ctx.Err()) })
	b.mu.Unlock()
	return w, nil
}

// remove closes w with err (first reason wins).
func (b *broadcaster) remove(w *Watcher, err error) {
	b.mu.Lock()
	b.closeLocked(w, err)
	b.mu.Unlock()
}

func (b *broadcaster) closeLocked(w *Watcher, err error) {
	if w.isClosed {
		return
	}
	w.isClosed = true
	delete(b.watchers, w)
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
	close(w.ch)
	if w.stopCtx != nil {
		w.stopCtx()
	}
}

// close ends every watch with ErrClosed and refuses new ones.
func (b *broadcaster) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for w := range b.watchers {
		b.closeLocked(w, ErrClosed)
	}
}
