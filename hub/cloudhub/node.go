package cloudhub

import (
	"slices"
	"sync"
	"time"

	"github.com/edgehive/edgehive/hub"
)

// item is one downstream frame waiting for its ack, or a protocol frame (key "") to send in order.
type item struct {
	key      string
	frame    hub.Frame
	session  uint64    // the session that last wrote it (0: none yet)
	attempts int       // writes so far
	due      time.Time // when to resend it on the same session
}

// nodeState is what the cloud keeps per node across its connections: the pending set (the newest
// unacknowledged version of each key), the write order for the current session, and the rate bucket.
type nodeState struct {
	name hub.NodeName

	mu       sync.Mutex
	pending  map[string]*item
	unsent   []*item // to write on the current session, in order; replaced items are skipped
	seq      uint64  // last downstream Seq
	sess     *session
	started  bool      // the current session has had its resync (or its wait for one ended)
	nextScan time.Time // earliest resend due on the current session

	bucket bucket
}

func newNodeState(name hub.NodeName, rate float64, burst int) *nodeState {
	return &nodeState{
		name:    name,
		pending: make(map[string]*item),
		bucket:  newBucket(rate, burst),
	}
}

// signal wakes the sender of the current session, if any.
func (n *nodeState) signal() {
	n.mu.Lock()
	s := n.sess
	n.mu.Unlock()
	if s != nil {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// put makes f the pending frame of its key, replacing an older one. n.mu must be held.
func (n *nodeState) put(f hub.Frame) {
	n.seq++
	f.Seq = n.seq
	it := &item{key: f.Router.Resource, frame: f}
	n.pending[it.key] = it
	if n.sess != nil && n.started {
		n.unsent = append(n.unsent, it)
	}
}

// start begins writing on the current session: every pending frame in Seq order, then done (if not
// nil). n.mu must be held.
func (n *nodeState) start(done *item) {
	n.unsent = n.unsent[:0]
	for _, it := range n.pending {
		n.unsent = append(n.unsent, it)
	}
	slices.SortFunc(n.unsent, func(a, b *item) int {
		switch {
		case a.frame.Seq < b.frame.Seq:
			return -1
		case a.frame.Seq > b.frame.Seq:
			return 1
		}
		return 0
	})
	if done != nil {
		n.unsent = append(n.unsent, done)
	}
	n.started = true
	n.nextScan = time.Time{}
}

// ack removes the pending frame of key if it is the one with id; it reports whether it was.
func (n *nodeState) ack(key string, f *hub.Frame) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	it := n.pending[key]
	if it == nil || it.frame.Header.ID != f.Header.ParentID {
		return false
	}
	delete(n.pending, key)
	return true
}

// next returns the frames to write now on session s: the unsent ones in order, then the ones due for a
// resend. ok is false when s is no longer the node's session.
func (n *nodeState) next(s *session, now time.Time, backoff func(int) time.Duration) (out []*hub.Frame, resends int, wait time.Duration, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.sess != s {
		return nil, 0, 0, false
	}
	if !n.started {
		return nil, 0, -1, true
	}
	mark := func(it *item) {
		if it.attempts > 0 {
			resends++
		}
		it.attempts++
		it.session = s.id
		it.due = now.Add(backoff(it.attempts))
		f := it.frame
		out = append(out, &f)
	}
	for _, it := range n.unsent {
		if it.key == "" {
			f := it.frame
			out = append(out, &f)
			continue
		}
		if n.pending[it.key] != it {
			continue // replaced by a newer version, or acknowledged
		}
		mark(it)
		if n.nextScan.IsZero() || it.due.Before(n.nextScan) {
			n.nextScan = it.due
		}
	}
	clear(n.unsent)
	n.unsent = n.unsent[:0]
	if !n.nextScan.IsZero() && !now.Before(n.nextScan) {
		n.nextScan = time.Time{}
		for _, it := range n.pending {
			if it.session != s.id {
				continue
			}
			if !now.Before(it.due) {
				mark(it)
			}
			if n.nextScan.IsZero() || it.due.Before(n.nextScan) {
				n.nextScan = it.due
			}
		}
	}
	wait = -1
	if !n.nextScan.IsZero() {
		wait = max(n.nextScan.Sub(now), time.Millisecond)
	}
	return out, resends, wait, true
}

// bucket is a token bucket for upstream frames.
type bucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64, burst int) bucket {
	return bucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// take takes a token and returns how long to wait before using it (0: at once).
func (b *bucket) take(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}
