package twin

import (
	"context"
	"fmt"
	"sync"
)

// EventKind is the kind of a change a watcher sees.
type EventKind int

const (
	// EventTwin: a twin changed (Source, Before, After; Before is zero when the twin was created).
	EventTwin EventKind = iota + 1
	// EventDevice: a device was created or replaced by PutDevice (Device holds it as stored).
	EventDevice
	// EventDeviceDeleted: a device and its twins were deleted.
	EventDeviceDeleted
	// EventState: a device's state changed (State, LastOnline).
	EventState
)

func (k EventKind) String() string {
	switch k {
	case EventTwin:
		return "twin"
	case EventDevice:
		return "device"
	case EventDeviceDeleted:
		return "device-deleted"
	case EventState:
		return "state"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is a committed change. Only changes that wrote something are events: Stale, Conflict and
// Unchanged outcomes are not.
type Event struct {
	// Seq numbers the events of a Store value from 1, without gaps, in commit order.
	Seq        uint64
	Kind       EventKind
	DeviceID   string
	Source     Source // EventTwin
	Before     Twin   // EventTwin
	After      Twin   // EventTwin
	Device     Device // EventDevice
	State      DeviceState
	LastOnline int64 // EventState
}

// Watcher receives the store's committed changes, in commit order, from the moment Watch returned.
type Watcher struct {
	c    chan Event
	stop func() bool // unregisters the context callback
	mu   sync.Mutex
	err  error // why c was closed
}

// Events returns the channel of events. It is closed when the watch ends; Err then says why.
func (w *Watcher) Events() <-chan Event { return w.c }

// Err returns why the event channel was closed: the watch context's error, ErrClosed (the store closed)
// or ErrWatchOverflow (the watcher fell more than Config.WatchBuffer events behind; read the store again
// and watch anew). It returns nil while the channel is open; call it after the channel is drained.
func (w *Watcher) Err() error {
	select {
	case _, ok := <-w.c:
		if ok {
			return nil // not closed; an event was lost to this peek, so only call Err after a drained close
		}
	default:
		return nil
	}
	return w.err
}

// Watch starts a watcher that lives until ctx ends, the store closes or the watcher falls behind. It
// starts no goroutine: events are handed over by the writers, without blocking them.
func (s *Store) Watch(ctx context.Context) (*Watcher, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w := &Watcher{c: make(chan Event, s.cfg.WatchBuffer)}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return nil, ErrClosed
	}
	s.watchers[w] = struct{}{}
	w.stop = context.AfterFunc(ctx, func() {
		s.wmu.Lock()
		defer s.wmu.Unlock()
		if _, ok := s.watchers[w]; ok {
			s.endWatcherLocked(w, ctx.Err())
		}
	})
	return w, nil
}

// endWatcherLocked ends w with err; s.wmu is held and w is registered.
func (s *Store) endWatcherLocked(w *Watcher, err error) {
	delete(s.watchers, w)
	if w.stop != nil {
		w.stop()
	}
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
	close(w.c)
}

// publish numbers events and hands them to every watcher; called after the commit, under the write lock.
func (s *Store) publish(events []Event) {
	if len(events) == 0 {
		return
	}
	for i := range events {
		s.seq++
		events[i].Seq = s.seq
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for w := range s.watchers {
		for _, e := range events {
			select {
			case w.c <- e:
			default:
				s.endWatcherLocked(w, ErrWatchOverflow)
			}
			if _, ok := s.watchers[w]; !ok {
				break
			}
		}
	}
}
