package edged

import "time"

// backoff is kubelet's restart back-off per key (a container name, an image): the first failure is
// retried at once, the next after initial, then twice as long each time up to max. A key whose last
// failure is more than 2×max old starts over. It is owned by one pod worker and not safe for concurrent
// use.
type backoff struct {
	initial, max time.Duration
	entries      map[string]*backoffEntry
}

type backoffEntry struct {
	delay time.Duration
	last  time.Time // the failure that set delay
}

func newBackoff(initial, max time.Duration) *backoff {
	return &backoff{initial: initial, max: max, entries: map[string]*backoffEntry{}}
}

func (b *backoff) expired(e *backoffEntry, eventTime time.Time) bool {
	return eventTime.Sub(e.last) > 2*b.max
}

// wait returns how long the retry of key must still wait after a failure at eventTime, or 0.
func (b *backoff) wait(key string, eventTime, now time.Time) time.Duration {
	e := b.entries[key]
	if e == nil || b.expired(e, eventTime) {
		return 0
	}
	if d := e.delay - now.Sub(eventTime); d > 0 {
		return d
	}
	return 0
}

// next records a retry of key after a failure at eventTime and returns the delay for the next one.
func (b *backoff) next(key string, eventTime time.Time) time.Duration {
	e := b.entries[key]
	switch {
	case e == nil:
		e = &backoffEntry{delay: b.initial}
		b.entries[key] = e
	case b.expired(e, eventTime):
		e.delay = b.initial
	case e.last.Equal(eventTime):
		return e.delay // the same failure, counted once
	default:
		e.delay = min(2*e.delay, b.max)
	}
	e.last = eventTime
	return e.delay
}

// current is the delay key last got (for messages).
func (b *backoff) current(key string) time.Duration {
	if e := b.entries[key]; e != nil {
		return e.delay
	}
	return b.initial
}

func (b *backoff) reset(key string) { delete(b.entries, key) }
