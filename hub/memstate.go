package hub

import (
	"context"
	"slices"
	"sync"
)

// MemState is an in-memory DesiredState for tests and small deployments: per node, a map of objects.
// It is safe for concurrent use. The zero value is not usable; call NewMemState.
type MemState struct {
	mu    sync.RWMutex
	nodes map[NodeName]map[Key]Object
}

// NewMemState returns an empty MemState.
func NewMemState() *MemState { return &MemState{nodes: make(map[NodeName]map[Key]Object)} }

// Put makes obj desired on node, replacing any object of the same key. Content is kept, not copied.
func (s *MemState) Put(node NodeName, obj Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.nodes[node]
	if m == nil {
		m = make(map[Key]Object)
		s.nodes[node] = m
	}
	m[obj.Key] = obj
}

// Delete makes key no longer desired on node.
func (s *MemState) Delete(node NodeName, key Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.nodes[node], key)
}

// Desired implements DesiredState; objects come sorted by key.
func (s *MemState) Desired(ctx context.Context, node NodeName) ([]Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := s.nodes[node]
	out := make([]Object, 0, len(m))
	for _, o := range m {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b Object) int { return compareKeys(a.Key, b.Key) })
	return out, nil
}

// Get implements DesiredState.
func (s *MemState) Get(ctx context.Context, node NodeName, key Key) (Object, bool, error) {
	if err := ctx.Err(); err != nil {
		return Object{}, false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.nodes[node][key]
	return o, ok, nil
}

var _ DesiredState = (*MemState)(nil)
