package hub

import (
	"context"
	"slices"
	"strings"

	"github.com/edgehive/edgehive/beehive"
)

// Object is one desired object for a node: its key, its resourceVersion and its content (usually JSON).
type Object struct {
	Key             Key
	ResourceVersion string
	Content         []byte
}

// Change is one step that brings the edge to the desired state: OpInsert (the edge lacks the key),
// OpUpdate (it holds another version) or OpDelete (it holds a key that is no longer desired).
type Change struct {
	Op  beehive.Operation
	Key Key
	// ResourceVersion is the desired version for an insert or update, and the version the edge holds
	// for a delete (so that the edge deletes only what the cloud saw).
	ResourceVersion string
	// Content is the desired object for an insert or update; nil for a delete.
	Content []byte
}

// Diff returns the changes that turn what the edge holds (have) into what the cloud wants (want), and
// nothing else: an object whose resourceVersion is the same on both sides is not sent. The result is
// sorted by namespace, kind and name, so it is deterministic. Diff is pure: it does not modify its
// inputs, and the changes share want's Content slices.
//
// resourceVersions are compared as Kubernetes requires of clients: as opaque strings, equal or not. Any
// difference (also "" against a version, or an older version against a newer) means the cloud's object
// replaces the edge's: the cloud is the source of truth. If want holds a key twice, the first entry wins.
func Diff(have Digest, want []Object) []Change {
	var changes []Change
	seen := make(map[Key]struct{}, len(want))
	for _, o := range want {
		if _, dup := seen[o.Key]; dup {
			continue
		}
		seen[o.Key] = struct{}{}
		rv, held := have[o.Key]
		switch {
		case !held:
			changes = append(changes, Change{Op: OpInsert, Key: o.Key, ResourceVersion: o.ResourceVersion, Content: o.Content})
		case rv != o.ResourceVersion:
			changes = append(changes, Change{Op: OpUpdate, Key: o.Key, ResourceVersion: o.ResourceVersion, Content: o.Content})
		}
	}
	for k, rv := range have {
		if _, ok := seen[k]; !ok {
			changes = append(changes, Change{Op: OpDelete, Key: k, ResourceVersion: rv})
		}
	}
	slices.SortFunc(changes, func(a, b Change) int { return compareKeys(a.Key, b.Key) })
	return changes
}

// compareKeys orders keys by namespace, then kind, then name.
func compareKeys(a, b Key) int {
	if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
		return c
	}
	if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// DigestSource is what the edge holds: the meta store implements it. Digest is called once per connect,
// from the edge hub's goroutine, and must reflect every commit acknowledged so far.
type DigestSource interface {
	Digest(ctx context.Context) (Digest, error)
}

// DesiredState is what the cloud wants each node to hold: the edge controller implements it from its
// informers. Implementations must be safe for concurrent use: the cloud hub calls them from the
// goroutines of many connections. Returned Content must be treated as read-only by both sides.
type DesiredState interface {
	// Desired lists every object node should hold, each key once.
	Desired(ctx context.Context, node NodeName) ([]Object, error)
	// Get returns the object node should hold under key, or ok == false if there is none (the answer to
	// an OpQuery from the edge).
	Get(ctx context.Context, node NodeName, key Key) (obj Object, ok bool, err error)
}

// Resync returns the changes that bring node from have to its desired state in ds (ds.Desired, then
// Diff). It is the cloud's answer to an OpResync frame.
func Resync(ctx context.Context, ds DesiredState, node NodeName, have Digest) ([]Change, error) {
	want, err := ds.Desired(ctx, node)
	if err != nil {
		return nil, err
	}
	return Diff(have, want), nil
}
