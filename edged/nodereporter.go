package edged

import (
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgehive/edgehive/beehive"
)

// nodeReporter is the node part of the module, a goroutine of its Run: it registers the node, then
// sends the node status when it changed (checked every UpdateInterval, sent at least every
// ReportInterval) and renews the lease every LeaseRenewInterval; a ReportOn notice sends both at once.
// The edge hub's outbox coalesces per key, so an edge that was offline sends only its newest status.
type nodeReporter struct {
	b     *NodeStatusBuilder
	cfg   NodeStatusConfig
	to    string
	group beehive.Group
	retry time.Duration
	log   *slog.Logger
	now   chan struct{} // capacity 1: reportNow
}

func newNodeReporter(b *NodeStatusBuilder, mc ModuleConfig, log *slog.Logger) *nodeReporter {
	return &nodeReporter{b: b, cfg: b.Config(), to: mc.StatusTarget, group: mc.StatusGroup, retry: mc.StatusRetry,
		log: log, now: make(chan struct{}, 1)}
}

// reportNow asks for the status and lease to be sent at once (coalesced).
func (r *nodeReporter) reportNow() {
	select {
	case r.now <- struct{}{}:
	default:
	}
}

// run reports until ctx ends.
func (r *nodeReporter) run(ctx context.Context, c *beehive.Context) {
	name := r.cfg.NodeName
	for !r.send(ctx, c, beehive.OpInsert, ResourceKey("", ResourceNode, name), struct{}{}) {
		if !sleepCtx(ctx, r.retry) {
			return
		}
	}
	statusT := time.NewTimer(0)
	leaseT := time.NewTimer(0)
	defer statusT.Stop()
	defer leaseT.Stop()
	var (
		last     *corev1.NodeStatus // the last status sent
		lastSent time.Time
	)
	status := func(force bool) {
		st := r.b.Build(ctx)
		if ctx.Err() != nil {
			return
		}
		if !force && last != nil && time.Since(lastSent) < r.cfg.ReportInterval && reflect.DeepEqual(*last, st) {
			statusT.Reset(r.cfg.UpdateInterval)
			return
		}
		if r.send(ctx, c, beehive.OpUpdate, ResourceKey("", ResourceNodeStatus, name), st) {
			last, lastSent = &st, time.Now()
			statusT.Reset(r.cfg.UpdateInterval)
		} else {
			statusT.Reset(min(r.retry, r.cfg.UpdateInterval))
		}
	}
	lease := func() {
		holder, dur := name, int32(r.cfg.LeaseDuration/time.Second)
		now := metav1.NewMicroTime(time.Now())
		spec := coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &dur, RenewTime: &now}
		if r.send(ctx, c, beehive.OpUpdate, ResourceKey(NodeLeaseNamespace, ResourceLease, name), spec) {
			leaseT.Reset(r.cfg.LeaseRenewInterval)
		} else {
			leaseT.Reset(min(r.retry, r.cfg.LeaseRenewInterval))
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-statusT.C:
			status(false)
		case <-leaseT.C:
			lease()
		case <-r.now:
			status(true)
			lease() // resets leaseT, whose pending tick (if any) is dropped (Go 1.23 timers)
		}
	}
}

// send sends one report to the target and says whether it was handed over.
func (r *nodeReporter) send(ctx context.Context, c *beehive.Context, op beehive.Operation, resource string, content any) bool {
	b, err := json.Marshal(content)
	if err != nil {
		r.log.Error("edged: node report does not marshal", "resource", resource, "err", err)
		return true // retrying will not help
	}
	if err := c.Send(ctx, r.to, c.NewMessage(r.group, op, resource, b)); err != nil {
		if ctx.Err() == nil {
			r.log.Warn("edged: send node report", "to", r.to, "resource", resource, "err", err)
		}
		return false
	}
	return true
}
