package controller

import (
	"context"
	"errors"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
)

// TestHandleUpstreamUnit drives HandleUpstream against a fake clientset, without Run: what needs no
// caches works, what needs them is a transient ErrNotRunning, what a node may never write is final.
func TestHandleUpstreamUnit(t *testing.T) {
	ctx := t.Context()
	client := fake.NewClientset()
	ctl, err := New(Config{Client: client, Downstream: DownstreamFunc(func(context.Context, hub.NodeName, hub.Change) error { return nil })})
	if err != nil {
		t.Fatal(err)
	}
	node := hub.NodeName("edge-1")
	if err := ctl.HandleUpstream(ctx, node, hub.OpInsert, node.Key(), nil); err != nil {
		t.Fatalf("register: %v", err)
	}
	n, err := client.CoreV1().Nodes().Get(ctx, "edge-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := n.Labels[DefaultEdgeLabel]; !ok || len(n.Spec.Taints) != 0 {
		t.Fatalf("registered node: labels %v taints %v", n.Labels, n.Spec.Taints)
	}
	leaseKey := hub.Key{Namespace: hub.NodeLeaseNamespace, Kind: hub.KindLease, Name: "edge-1"}
	if err := ctl.HandleUpstream(ctx, node, hub.OpUpdate, leaseKey, []byte(`{"leaseDurationSeconds":20,"future":1}`)); err != nil {
		t.Fatalf("lease: %v", err)
	}
	l, err := client.CoordinationV1().Leases(hub.NodeLeaseNamespace).Get(ctx, "edge-1", metav1.GetOptions{})
	if err != nil || *l.Spec.LeaseDurationSeconds != 20 || len(l.OwnerReferences) != 1 {
		t.Fatalf("lease: %v %+v", err, l)
	}
	if err := ctl.HandleUpstream(ctx, node, hub.OpUpdate, node.StatusKey(), []byte(`{"conditions":[`)); !errors.Is(err, ErrBadContent) || !Final(err) {
		t.Fatalf("malformed node status: %v", err)
	}
	for _, tc := range []struct {
		key  hub.Key
		op   beehive.Operation
		want error
	}{
		{hub.Key{Namespace: "default", Kind: hub.KindPodStatus, Name: "app"}, hub.OpUpdate, ErrNotRunning},
		{hub.Key{Namespace: "default", Kind: hub.KindDeviceStatus, Name: "dev"}, hub.OpUpdate, ErrNotRunning},
		{hub.Key{Namespace: "default", Kind: hub.KindConfigMap, Name: "cm"}, hub.OpUpdate, hub.ErrForbidden},
		{hub.Key{Kind: hub.KindNodeStatus, Name: "edge-2"}, hub.OpUpdate, hub.ErrForbidden},
		{leaseKey, hub.OpDelete, hub.ErrForbidden},
	} {
		err := ctl.HandleUpstream(ctx, node, tc.op, tc.key, nil)
		if !errors.Is(err, tc.want) || Final(err) != !errors.Is(tc.want, ErrNotRunning) {
			t.Errorf("%s %s: %v (final %v), want %v", tc.op, tc.key, err, Final(err), tc.want)
		}
	}
	if _, err := ctl.Desired(ctx, node); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Desired before Run: %v", err)
	}
	if _, ok := ctl.PodNode("default", "app"); ok {
		t.Fatal("PodNode before Run answered")
	}
}
