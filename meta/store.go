package meta

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/edgehive/edgehive/hub"
)

// Object is one stored resource: its key, the resourceVersion the cloud gave it, the store revision at
// which this version was committed, and its JSON.
type Object struct {
	Key             hub.Key
	ResourceVersion string
	// Revision is the store-wide revision of the commit that wrote this version (see Store).
	Revision int64
	// Value is the object's JSON. Treat it as read-only.
	Value []byte
}

// ListOptions selects the objects of List.
type ListOptions struct {
	// Kind selects one kind; empty means every kind.
	Kind hub.Kind
	// Namespace selects one namespace; empty means every namespace (and the cluster-scoped objects).
	Namespace string
	// Selector, if not nil, keeps the objects whose metadata.labels it matches.
	Selector labels.Selector
}

// ListResult is what List returns: the objects, ordered by namespace then name (then kind), and the
// store revision of the snapshot they were read from, the start point of a Watch that must miss nothing.
type ListResult struct {
	Items    []Object
	Revision int64
}

// EventType says what happened to an object.
type EventType string

// Event types, as in a Kubernetes watch.
const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
)

// Event is one change in the store's feed. Object is the new version (for Deleted, the last version held,
// with Revision set to the revision of the delete).
type Event struct {
	Type   EventType
	Object Object
}

// WatchOptions selects the events of a Watch.
type WatchOptions struct {
	// Kind and Namespace filter as in ListOptions.
	Kind      hub.Kind
	Namespace string
	// Since is the revision after which events are delivered: pass a ListResult's Revision to see every
	// change after that snapshot. Zero means "from now". A revision older than the history the store
	// keeps fails with ErrExpired.
	Since int64
}

// Store is the edge's metadata store. Implementations are safe for concurrent use.
//
// Revisions: every committed change (insert, update, delete) gets the next value of one store-wide
// counter, which only grows, also across restarts; List returns the revision of its snapshot, and
// Watch delivers the changes after a revision in revision order. The first revision of a new store is 1.
//
// Versions: Put and Delete compare the incoming resourceVersion with the held one by CompareVersions:
// an older one fails with ErrStale and changes nothing; the same one is a no-op that succeeds.
type Store interface {
	hub.DigestSource
	// Put inserts or updates the object under key, returning the revision of the commit (for a no-op,
	// the revision the held version was written at). It returns once the write is durable.
	Put(ctx context.Context, key hub.Key, resourceVersion string, value []byte) (int64, error)
	// Delete removes the object under key. resourceVersion, if not empty, is the version the deleter saw;
	// a delete older than the held version fails with ErrStale. A missing key fails with ErrNotFound.
	Delete(ctx context.Context, key hub.Key, resourceVersion string) (int64, error)
	// Get returns the object under key, or ErrNotFound.
	Get(ctx context.Context, key hub.Key) (Object, error)
	// List returns the objects selected by opts.
	List(ctx context.Context, opts ListOptions) (ListResult, error)
	// Watch streams the changes selected by opts until ctx ends, Stop is called, the watcher falls behind
	// (ErrWatcherTooSlow) or the store closes (ErrClosed).
	Watch(ctx context.Context, opts WatchOptions) (*Watcher, error)
	// Close stops the store; it is idempotent. Pending writes fail with ErrClosed.
	Close() error
}

// checkKey validates key for storing: well-formed (hub rules) and of an accepted kind.
func checkKey(key hub.Key, accept func(hub.Kind) bool) error {
	if err := key.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	if !accept(key.Kind) {
		return fmt.Errorf("%w %q: unknown kind %q", ErrBadKey, key.String(), key.Kind)
	}
	return nil
}

// checkValue validates value: at most max bytes, and a JSON object.
func checkValue(key hub.Key, value []byte, max int) error {
	if len(value) > max {
		return fmt.Errorf("%w: %s is %d bytes, over the limit of %d", ErrTooLarge, key, len(value), max)
	}
	if !json.Valid(value) {
		return fmt.Errorf("%w: %s: not valid JSON", ErrBadValue, key)
	}
	if i := bytes.IndexFunc(value, func(r rune) bool { return r != ' ' && r != '\t' && r != '\r' && r != '\n' }); i >= 0 && value[i] == '{' {
		return nil
	}
	return fmt.Errorf("%w: %s: not a JSON object", ErrBadValue, key)
}

// objectLabels returns metadata.labels of a JSON object (nil if it has none or cannot be read).
func objectLabels(value []byte) labels.Set {
	var o struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	if json.Unmarshal(value, &o) != nil {
		return nil
	}
	return o.Metadata.Labels
}
