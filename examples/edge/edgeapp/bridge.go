package edgeapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/edged"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/meta"
)

const bridgeName = "dispatch"

// storeSource is edged's PodSource over the meta store: the pods, ConfigMaps and Secrets the cloud
// sent before a restart.
type storeSource struct{ store meta.Store }

func listAs[T any](ctx context.Context, s meta.Store, kind hub.Kind) ([]*T, error) {
	res, err := s.List(ctx, meta.ListOptions{Kind: kind})
	if err != nil {
		return nil, err
	}
	out := make([]*T, 0, len(res.Items))
	for _, o := range res.Items {
		v := new(T)
		if err := json.Unmarshal(o.Value, v); err != nil {
			return nil, fmt.Errorf("%s: %w", o.Key, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func (s storeSource) ListPods(ctx context.Context) ([]*corev1.Pod, error) {
	return listAs[corev1.Pod](ctx, s.store, hub.KindPod)
}

func (s storeSource) ListConfigMaps(ctx context.Context) ([]*corev1.ConfigMap, error) {
	return listAs[corev1.ConfigMap](ctx, s.store, hub.KindConfigMap)
}

func (s storeSource) ListSecrets(ctx context.Context) ([]*corev1.Secret, error) {
	return listAs[corev1.Secret](ctx, s.store, hub.KindSecret)
}

var _ edged.PodSource = storeSource{}

// bridge is the module "dispatch": it follows the meta store (where the edge hub's meta module
// commits what the cloud sends) and hands each change to the module that acts on it — pods, ConfigMaps
// and Secrets to edged, Devices, DeviceModels and memberships to the twin module — as KubeEdge's
// MetaManager does. Following the store rather than the link means a change is acted on only once
// committed, and nothing is missed across restarts: edged restores from the store at start, the twin
// module gets every device object at start, and the watch starts at the store's revision when the
// process opened it.
//
// Pod deletions are finished by edged itself: once a deleted pod is gone from the runtime, edged sends
// the cloud its final delete (see edged's messages.go).
type bridge struct {
	store *meta.SQLiteStore
	since int64
	edged string
	twin  string
	log   *slog.Logger
}

func (b *bridge) Name() string         { return bridgeName }
func (b *bridge) Group() beehive.Group { return beehive.Group(bridgeName) }

// target returns the module that acts on objects of kind, or "".
func (b *bridge) target(kind hub.Kind) string {
	switch kind {
	case hub.KindPod, hub.KindConfigMap, hub.KindSecret:
		return b.edged
	case hub.KindDevice, hub.KindDeviceModel, hub.KindMembership:
		return b.twin
	}
	return ""
}

// Run implements beehive.Module.
func (b *bridge) Run(ctx context.Context, c *beehive.Context) error {
	// The twin module gets every device object at start (it skips what it already applied). The watch
	// starts at the revision the store had when the process opened it (edged restores from a later
	// list, so what lies between reaches it twice, harmlessly). A new store has revision 0, which a
	// watch reads as "from now": nothing can be written before the edge hub has joined and connected,
	// long after this module started.
	rev := b.since
	if err := b.sendAll(ctx, c, b.twin, hub.KindDeviceModel, hub.KindDevice, hub.KindMembership); err != nil {
		return nil
	}
	for ctx.Err() == nil {
		w, err := b.store.Watch(ctx, meta.WatchOptions{Since: rev})
		if errors.Is(err, meta.ErrExpired) {
			b.log.Warn("store watch expired, sending everything again")
			if rev, err = b.resendAll(ctx, c); err != nil {
				return nil
			}
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for ev := range w.Events() {
			b.forward(ctx, c, ev)
		}
		if ctx.Err() != nil {
			return nil
		}
		b.log.Warn("store watch ended, sending everything again", "err", w.Err())
		if rev, err = b.resendAll(ctx, c); err != nil {
			return nil
		}
	}
	return nil
}

// resendAll sends every object to its module again and returns the store revision to watch from.
// Objects deleted meanwhile are not deleted on the modules (edged removes unknown pods only at its
// own restart): this only happens after the watch fell behind, which a healthy edge never does.
func (b *bridge) resendAll(ctx context.Context, c *beehive.Context) (int64, error) {
	rev := b.store.Revision()
	err := b.sendAll(ctx, c, b.edged, hub.KindConfigMap, hub.KindSecret, hub.KindPod)
	if err == nil {
		err = b.sendAll(ctx, c, b.twin, hub.KindDeviceModel, hub.KindDevice, hub.KindMembership)
	}
	return rev, err
}

// sendAll sends the stored objects of kinds, in that order, to module to as updates.
func (b *bridge) sendAll(ctx context.Context, c *beehive.Context, to string, kinds ...hub.Kind) error {
	for _, k := range kinds {
		res, err := b.store.List(ctx, meta.ListOptions{Kind: k})
		if err != nil {
			return err
		}
		for _, o := range res.Items {
			b.send(ctx, c, to, beehive.OpUpdate, o)
		}
	}
	return ctx.Err()
}

// forward hands one store event to its module.
func (b *bridge) forward(ctx context.Context, c *beehive.Context, ev meta.Event) {
	to := b.target(ev.Object.Key.Kind)
	if to == "" {
		return
	}
	op := beehive.OpUpdate
	switch ev.Type {
	case meta.Added:
		op = beehive.OpInsert
	case meta.Deleted:
		op = beehive.OpDelete
	}
	b.send(ctx, c, to, op, ev.Object)
}

func (b *bridge) send(ctx context.Context, c *beehive.Context, to string, op beehive.Operation, o meta.Object) {
	m := c.NewMessage(beehive.GroupMeta, op, o.Key.String(), o.Value)
	m.Header.ResourceVersion = o.ResourceVersion
	if err := c.Send(ctx, to, m); err != nil && ctx.Err() == nil {
		b.log.Warn("hand over", "to", to, "key", o.Key.String(), "err", err)
	}
}
