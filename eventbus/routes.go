package eventbus

import (
	"fmt"
	"slices"

	"github.com/edgehive/edgehive/eventbus/api"
)

// route sends messages on topics matching filter to target.
type route struct {
	filter string
	target api.Target
	static bool // from the Config: cannot be unsubscribed
	device bool // a device topic: the payload must be JSON unless Config.AcceptNonJSON
}

// table is an immutable set of routes. The session goroutine builds a new one on every change and
// publishes it through an atomic pointer; the MQTT callback reads it without locks.
type table struct {
	routes []route
}

// hit is one target a message goes to.
type hit struct {
	target api.Target
	device bool
}

// match appends to hits (a caller's buffer, to avoid allocating) each distinct target whose filter
// matches topic. A target reached by a device route and by another route is treated as non-device.
func (t *table) match(topic string, hits []hit) []hit {
next:
	for _, r := range t.routes {
		if !api.Match(r.filter, topic) {
			continue
		}
		for i := range hits {
			if hits[i].target == r.target {
				hits[i].device = hits[i].device && r.device
				continue next
			}
		}
		hits = append(hits, hit{target: r.target, device: r.device})
	}
	return hits
}

// with returns a table with r added; adding a route that exists is a no-op.
func (t *table) with(r route) *table {
	if slices.ContainsFunc(t.routes, func(x route) bool { return x.filter == r.filter && x.target == r.target }) {
		return t
	}
	return &table{routes: append(slices.Clip(t.routes), r)}
}

// without returns a table without the route (filter, target). Static routes cannot be removed.
func (t *table) without(filter string, target api.Target) (*table, error) {
	i := slices.IndexFunc(t.routes, func(x route) bool { return x.filter == filter && x.target == target })
	switch {
	case i < 0:
		return t, fmt.Errorf("%w: %q for %v", api.ErrNotSubscribed, filter, target)
	case t.routes[i].static:
		return t, fmt.Errorf("%w: %q for %v", api.ErrStaticRoute, filter, target)
	}
	return &table{routes: slices.Delete(slices.Clone(t.routes), i, i+1)}, nil
}

// filters returns the MQTT subscriptions the table needs: every route's filter, without duplicates and
// without a filter that another one covers (so a broker does not deliver a message twice because two
// of the bus's subscriptions overlap). The result is sorted.
func (t *table) filters() []string {
	all := make([]string, 0, len(t.routes))
	for _, r := range t.routes {
		all = append(all, r.filter)
	}
	return minimalCover(all)
}

// minimalCover returns the filters of fs that no other filter of fs covers, sorted and deduplicated.
// When two different filters cover each other, the smaller one stays.
func minimalCover(fs []string) []string {
	fs = slices.Clone(fs)
	slices.Sort(fs)
	fs = slices.Compact(fs)
	out := fs[:0:0]
	for _, f := range fs {
		covered := false
		for _, g := range fs {
			if g != f && api.Covers(g, f) && (!api.Covers(f, g) || g < f) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, f)
		}
	}
	return out
}

// diff returns what is in want and not in have (to subscribe) and the reverse (to unsubscribe).
func diff(have, want []string) (add, remove []string) {
	for _, f := range want {
		if !slices.Contains(have, f) {
			add = append(add, f)
		}
	}
	for _, f := range have {
		if !slices.Contains(want, f) {
			remove = append(remove, f)
		}
	}
	return add, remove
}
