package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"github.com/edgehive/edgehive/hub"
)

// RegisterNode makes sure the Node name exists and is an edge node: it creates it with the edge label
// (Config.EdgeLabel, value ""), the label kubernetes.io/hostname = name and Config.RegisterTaints, or,
// if it exists without the edge label, adds the label. It returns the Node. It needs no running
// controller; the cloud hub may call it when a new edge joins.
func (c *EdgeController) RegisterNode(ctx context.Context, name hub.NodeName) (*corev1.Node, error) {
	if err := name.Validate(); err != nil {
		return nil, err
	}
	nodes := c.cfg.Client.CoreV1().Nodes()
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   string(name),
			Labels: map[string]string{c.cfg.EdgeLabel: "", corev1.LabelHostname: string(name)},
		},
		Spec: corev1.NodeSpec{Taints: c.cfg.RegisterTaints},
	}
	created, err := nodes.Create(ctx, n, metav1.CreateOptions{FieldManager: c.cfg.FieldManager})
	if err == nil {
		c.log.Info("registered edge node", "node", name)
		return created, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("controller: register node %s: %w", name, err)
	}
	cur, err := nodes.Get(ctx, string(name), metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("controller: register node %s: %w", name, err)
	}
	if _, ok := cur.Labels[c.cfg.EdgeLabel]; ok {
		return cur, nil
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{c.cfg.EdgeLabel: ""}}})
	cur, err = nodes.Patch(ctx, string(name), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: c.cfg.FieldManager})
	if err != nil {
		return nil, fmt.Errorf("controller: label node %s: %w", name, err)
	}
	return cur, nil
}

// updateNodeStatus writes a node's reported status (corev1.NodeStatus JSON) to nodes/status.
func (c *EdgeController) updateNodeStatus(ctx context.Context, node hub.NodeName, content []byte) error {
	var st corev1.NodeStatus
	if err := decodeContent(content, &st); err != nil {
		return err
	}
	nodes := c.cfg.Client.CoreV1().Nodes()
	first := true
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var n *corev1.Node
		if cs := c.cur.Load(); first && cs != nil {
			n, _ = cs.node(string(node))
		}
		first = false
		if n == nil {
			got, err := nodes.Get(ctx, string(node), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("%w: node %s", ErrGone, node)
			}
			if err != nil {
				return err
			}
			n = got
		}
		n = n.DeepCopy()
		n.Status = MergeNodeStatus(n.Status, st, time.Now())
		_, err := nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{FieldManager: c.cfg.FieldManager})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("%w: node %s", ErrGone, node)
		}
		return err
	})
}

// MergeNodeStatus returns the status to write when an edge reports reported for a node whose status in
// the API server is current, at time now. Reported conditions replace those of the same type (others are
// kept); a reported condition without a heartbeat time gets now, and one without a transition time
// keeps the current one if its status did not change, or gets now. Addresses, capacity, allocatable,
// daemon endpoints, node info, images and volumes are taken from the report when it has them. It is
// pure.
func MergeNodeStatus(current, reported corev1.NodeStatus, now time.Time) corev1.NodeStatus {
	out := *current.DeepCopy()
	rep := reported.DeepCopy()
	t := metav1.NewTime(now)
	for _, rc := range rep.Conditions {
		if rc.LastHeartbeatTime.IsZero() {
			rc.LastHeartbeatTime = t
		}
		i := -1
		for j, cc := range out.Conditions {
			if cc.Type == rc.Type {
				i = j
				break
			}
		}
		if rc.LastTransitionTime.IsZero() {
			if i >= 0 && out.Conditions[i].Status == rc.Status && !out.Conditions[i].LastTransitionTime.IsZero() {
				rc.LastTransitionTime = out.Conditions[i].LastTransitionTime
			} else {
				rc.LastTransitionTime = t
			}
		}
		if i >= 0 {
			out.Conditions[i] = rc
		} else {
			out.Conditions = append(out.Conditions, rc)
		}
	}
	if len(rep.Addresses) > 0 {
		out.Addresses = rep.Addresses
	}
	if len(rep.Capacity) > 0 {
		out.Capacity = rep.Capacity
	}
	if len(rep.Allocatable) > 0 {
		out.Allocatable = rep.Allocatable
	}
	if rep.DaemonEndpoints != (corev1.NodeDaemonEndpoints{}) {
		out.DaemonEndpoints = rep.DaemonEndpoints
	}
	if rep.NodeInfo != (corev1.NodeSystemInfo{}) {
		out.NodeInfo = rep.NodeInfo
	}
	if rep.Images != nil {
		out.Images = rep.Images
	}
	if rep.VolumesInUse != nil {
		out.VolumesInUse = rep.VolumesInUse
	}
	if rep.VolumesAttached != nil {
		out.VolumesAttached = rep.VolumesAttached
	}
	return out
}

// renewLease creates or renews node's Lease in kube-node-lease. The renew time is the cloud's clock, not
// the edge's (whose clock may be off); content may set leaseDurationSeconds (a coordinationv1.LeaseSpec
// JSON; other fields are ignored), otherwise Config.LeaseDuration is used. A new Lease is owned by the
// Node, as a kubelet's, so that it goes away with it.
func (c *EdgeController) renewLease(ctx context.Context, node hub.NodeName, content []byte) error {
	var spec coordinationv1.LeaseSpec
	if len(content) > 0 {
		if err := decodeContent(content, &spec); err != nil {
			return err
		}
	}
	dur := int32(c.cfg.LeaseDuration / time.Second)
	if spec.LeaseDurationSeconds != nil && *spec.LeaseDurationSeconds > 0 {
		dur = *spec.LeaseDurationSeconds
	}
	holder := string(node)
	leases := c.cfg.Client.CoordinationV1().Leases(hub.NodeLeaseNamespace)
	retriable := func(err error) bool { return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) }
	return retry.OnError(retry.DefaultRetry, retriable, func() error {
		now := metav1.NewMicroTime(time.Now())
		l, err := leases.Get(ctx, holder, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			l = &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: holder, Namespace: hub.NodeLeaseNamespace},
				Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &dur, RenewTime: &now},
			}
			if ref, ok := c.nodeOwnerRef(ctx, node); ok {
				l.OwnerReferences = []metav1.OwnerReference{ref}
			}
			_, err = leases.Create(ctx, l, metav1.CreateOptions{FieldManager: c.cfg.FieldManager})
			return err
		}
		if err != nil {
			return err
		}
		l = l.DeepCopy()
		l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.RenewTime = &holder, &dur, &now
		_, err = leases.Update(ctx, l, metav1.UpdateOptions{FieldManager: c.cfg.FieldManager})
		return err
	})
}

// nodeOwnerRef returns an owner reference to the Node node, if it exists.
func (c *EdgeController) nodeOwnerRef(ctx context.Context, node hub.NodeName) (metav1.OwnerReference, bool) {
	var n *corev1.Node
	if cs := c.cur.Load(); cs != nil {
		n, _ = cs.node(string(node))
	}
	if n == nil {
		got, err := c.cfg.Client.CoreV1().Nodes().Get(ctx, string(node), metav1.GetOptions{})
		if err != nil {
			return metav1.OwnerReference{}, false
		}
		n = got
	}
	return metav1.OwnerReference{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}, true
}
