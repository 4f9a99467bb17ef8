package controller

import (
	"context"
	"maps"
	"slices"

	"github.com/edgehive/edgehive/hub"
)

// syncNode sends node the changes between what was sent to it and what it should hold now. A failed Send
// stops the pass; what was sent before it is recorded, and the next pass (after backoff) sends the rest
// as it is then.
func (c *EdgeController) syncNode(ctx context.Context, cs *caches, node hub.NodeName) error {
	items := cs.items(node)
	want := make([]hub.Object, len(items))
	byKey := make(map[hub.Key]any, len(items))
	for i, it := range items {
		want[i] = hub.Object{Key: it.key, ResourceVersion: it.rv}
		byKey[it.key] = it.obj
	}
	c.mu.Lock()
	have := maps.Clone(c.sent[node])
	c.mu.Unlock()

	for _, ch := range order(hub.Diff(have, want)) {
		if ch.Op != hub.OpDelete {
			b, err := encode(byKey[ch.Key])
			if err != nil {
				return err
			}
			ch.Content = b
		}
		if err := c.cfg.Downstream.Send(ctx, node, ch); err != nil {
			return err
		}
		c.record(node, ch)
	}
	return nil
}

// order sorts a diff for sending: upserts first, the Node before the objects pods and devices use
// (ConfigMaps, Secrets, DeviceModels), those before the pods and devices, the membership last; then
// deletes in the reverse order (a pod before the ConfigMaps and Secrets it used). Within a rank, keys
// keep hub.Diff's order. An edge that applies changes in order (the hub does not promise it across keys)
// never sees a pod before what it needs.
func order(changes []hub.Change) []hub.Change {
	out := slices.Clone(changes)
	cmp := func(a, b hub.Change) int {
		if c := rank(a.Key.Kind) - rank(b.Key.Kind); c != 0 {
			return c
		}
		return compareKeys(a.Key, b.Key)
	}
	slices.SortStableFunc(out, func(a, b hub.Change) int {
		ad, bd := a.Op == hub.OpDelete, b.Op == hub.OpDelete
		switch {
		case ad && !bd:
			return 1
		case !ad && bd:
			return -1
		case ad && bd:
			return cmp(b, a)
		}
		return cmp(a, b)
	})
	return out
}

// rank orders kinds for sending (see order).
func rank(k hub.Kind) int {
	switch k {
	case hub.KindNode:
		return 0
	case hub.KindConfigMap, hub.KindSecret, hub.KindDeviceModel:
		return 1
	case hub.KindMembership:
		return 3
	}
	return 2
}

// record notes that ch was handed to Downstream for node.
func (c *EdgeController) record(node hub.NodeName, ch hub.Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.sent[node]
	if ch.Op == hub.OpDelete {
		delete(d, ch.Key)
		if len(d) == 0 {
			delete(c.sent, node)
		}
		return
	}
	if d == nil {
		d = make(hub.Digest)
		c.sent[node] = d
	}
	d[ch.Key] = ch.ResourceVersion
}
