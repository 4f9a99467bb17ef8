package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edgehive/edgehive/hub"
)

// TestMain checks that no test leaks a goroutine. No goroutine needs to be ignored: Run stops its
// informers, workers and work queue, and the module its shards, before returning.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds every wait of the tests for something the controller or the API server does.
const waitTimeout = 30 * time.Second

// recorder is a Downstream that records every change per node and can be told to refuse sends.
type recorder struct {
	mu      sync.Mutex
	changes map[hub.NodeName][]hub.Change
	refuse  map[hub.NodeName]int // number of sends still to refuse
	changed chan struct{}        // closed and replaced on every change
}

func newRecorder() *recorder {
	return &recorder{changes: map[hub.NodeName][]hub.Change{}, refuse: map[hub.NodeName]int{}, changed: make(chan struct{})}
}

var errRefused = errors.New("recorder: refused")

func (r *recorder) Send(_ context.Context, node hub.NodeName, c hub.Change) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuse[node] > 0 {
		r.refuse[node]--
		return errRefused
	}
	r.changes[node] = append(r.changes[node], c)
	close(r.changed)
	r.changed = make(chan struct{})
	return nil
}

func (r *recorder) refuseNext(node hub.NodeName, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refuse[node] = n
}

// all returns a copy of node's changes.
func (r *recorder) all(node hub.NodeName) []hub.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hub.Change(nil), r.changes[node]...)
}

// held returns what node holds if it applied every change in order, as a digest.
func (r *recorder) held(node hub.NodeName) hub.Digest {
	d := hub.Digest{}
	for _, c := range r.all(node) {
		if c.Op == hub.OpDelete {
			delete(d, c.Key)
		} else {
			d[c.Key] = c.ResourceVersion
		}
	}
	return d
}

// wait returns the first change to node, at index from or later, that match accepts, waiting for it
// until waitTimeout; and its index.
func (r *recorder) wait(t *testing.T, node hub.NodeName, from int, what string, match func(hub.Change) bool) (hub.Change, int) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		r.mu.Lock()
		changes, ch := r.changes[node], r.changed
		for i := from; i < len(changes); i++ {
			if match(changes[i]) {
				r.mu.Unlock()
				return changes[i], i
			}
		}
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no change %s for node %s within %v; got:\n%s", what, node, waitTimeout, dump(r.all(node)))
		}
	}
}

func dump(changes []hub.Change) string {
	var b strings.Builder
	for i, c := range changes {
		fmt.Fprintf(&b, "  %d %s %s rv=%s (%d bytes)\n", i, c.Op, c.Key, c.ResourceVersion, len(c.Content))
	}
	return b.String()
}

// is returns a matcher of a change by operation and key (and resourceVersion, if not empty).
func is(op string, key hub.Key, rv string) func(hub.Change) bool {
	return func(c hub.Change) bool {
		return string(c.Op) == op && c.Key == key && (rv == "" || c.ResourceVersion == rv)
	}
}

// eventually calls f until it returns nil or waitTimeout passes.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testLogger logs to the test.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// mustKey returns the key namespace/kind/name or fails the test.
func mustKey(t *testing.T, ns string, kind hub.Kind, name string) hub.Key {
	t.Helper()
	k, err := hub.NewKey(ns, kind, name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
