package meta

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/edgehive/edgehive/hub"
)

// MemStore is a Store in memory, with the SQLite store's rules (versions, revisions, limits, watch) and
// the defaults of Config, but no durability: for tests and for programs that need no persistence. It
// accepts the hub's known kinds. The zero value is not usable; call NewMemStore.
type MemStore struct {
	mu     sync.Mutex
	objs   map[hub.Key]Object
	closed bool
	rev    atomic.Int64
	bc     *broadcaster
}

// NewMemStore returns an empty MemStore at revision 1.
func NewMemStore() *MemStore {
	s := &MemStore{objs: make(map[hub.Key]Object), bc: newBroadcaster(DefaultWatchBuffer, DefaultWatchHistory, 1)}
	s.rev.Store(1)
	return s
}

func (s *MemStore) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// Put implements Store.
func (s *MemStore) Put(ctx context.Context, key hub.Key, resourceVersion string, value []byte) (int64, error) {
	if err := checkKey(key, hub.Kind.Known); err != nil {
		return 0, err
	}
	if err := checkValue(key, value, DefaultMaxValueBytes); err != nil {
		return 0, err
	}
	if err := s.lock(ctx); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	held, ok := s.objs[key]
	typ := Added
	if ok {
		switch CompareVersions(held.ResourceVersion, resourceVersion) {
		case Older:
			return held.Revision, fmt.Errorf("%w: %s holds %q, got %q", ErrStale, key, held.ResourceVersion, resourceVersion)
		case Same:
			return held.Revision, nil
		}
		typ = Modified
	}
	o := Object{Key: key, ResourceVersion: resourceVersion, Revision: s.rev.Load() + 1, Value: slices.Clone(value)}
	s.objs[key] = o
	s.rev.Store(o.Revision)
	s.bc.publish([]Event{{Type: typ, Object: o}})
	return o.Revision, nil
}

// Delete implements Store.
func (s *MemStore) Delete(ctx context.Context, key hub.Key, resourceVersion string) (int64, error) {
	if err := key.Validate(); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	if err := s.lock(ctx); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	held, ok := s.objs[key]
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if resourceVersion != "" && CompareVersions(held.ResourceVersion, resourceVersion) == Older {
		return held.Revision, fmt.Errorf("%w: %s holds %q, got %q", ErrStale, key, held.ResourceVersion, resourceVersion)
	}
	delete(s.objs, key)
	held.Revision = s.rev.Load() + 1
	s.rev.Store(held.Revision)
	s.bc.publish([]Event{{Type: Deleted, Object: held}})
	return held.Revision, nil
}

// Get implements Store.
func (s *MemStore) Get(ctx context.Context, key hub.Key) (Object, error) {
	if err := key.Validate(); err != nil {
		return Object{}, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	if err := s.lock(ctx); err != nil {
		return Object{}, err
	}
	defer s.mu.Unlock()
	o, ok := s.objs[key]
	if !ok {
		return Object{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return o, nil
}

// List implements Store.
func (s *MemStore) List(ctx context.Context, opts ListOptions) (ListResult, error) {
	if err := s.lock(ctx); err != nil {
		return ListResult{}, err
	}
	res := ListResult{Revision: s.rev.Load()}
	for k, o := range s.objs {
		if (opts.Kind == "" || k.Kind == opts.Kind) && (opts.Namespace == "" || k.Namespace == opts.Namespace) {
			res.Items = append(res.Items, o)
		}
	}
	s.mu.Unlock()
	if opts.Selector != nil && !opts.Selector.Empty() {
		res.Items = slices.DeleteFunc(res.Items, func(o Object) bool { return !opts.Selector.Matches(objectLabels(o.Value)) })
	}
	slices.SortFunc(res.Items, func(a, b Object) int {
		if c := strings.Compare(a.Key.Namespace, b.Key.Namespace); c != 0 {
			return c
		}
		if c := strings.Compare(a.Key.Name, b.Key.Name); c != 0 {
			return c
		}
		return strings.Compare(string(a.Key.Kind), string(b.Key.Kind))
	})
	return res, nil
}

// Digest implements hub.DigestSource.
func (s *MemStore) Digest(ctx context.Context) (hub.Digest, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	d := make(hub.Digest, len(s.objs))
	for k, o := range s.objs {
		d[k] = o.ResourceVersion
	}
	return d, nil
}

// Watch implements Store.
func (s *MemStore) Watch(ctx context.Context, opts WatchOptions) (*Watcher, error) {
	if opts.Since < 0 {
		return nil, fmt.Errorf("%w: negative revision %d", ErrExpired, opts.Since)
	}
	return s.bc.add(ctx, opts, s.rev.Load)
}

// Close ends every watch with ErrClosed; later calls fail with ErrClosed. It is idempotent.
func (s *MemStore) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.bc.close()
	return nil
}

var _ Store = (*MemStore)(nil)
