package edged_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/edged"
	"github.com/edgehive/edgehive/edged/cri"
	"github.com/edgehive/edgehive/hub"
)

// upstream is what a stand-in "edgehub" received from edged, by kind of message.
type upstream struct {
	statuses chan edged.PodStatusMessage
	deleted  chan edged.PodRef
	nodes    chan beehive.Message // node, nodestatus and lease reports
}

func newUpstream() *upstream {
	return &upstream{statuses: make(chan edged.PodStatusMessage, 1000), deleted: make(chan edged.PodRef, 100),
		nodes: make(chan beehive.Message, 1000)}
}

// receive sorts one upstream message, checking its router against the contract in messages.go.
func (u *upstream) receive(t *testing.T, m beehive.Message) {
	ns, typ, name, err := edged.ParseResourceKey(m.Router.Resource)
	if err != nil {
		t.Errorf("upstream resource: %v", err)
		return
	}
	content, _ := m.Content.([]byte)
	switch {
	case typ == edged.ResourcePodStatus && m.Router.Operation == beehive.OpUpdate:
		var st edged.PodStatusMessage
		if err := json.Unmarshal(content, &st); err != nil || st.Namespace != ns || st.Name != name {
			t.Errorf("pod status %s: %+v, %v", m.Router.Resource, st, err)
		}
		u.statuses <- st
	case typ == edged.ResourcePod && m.Router.Operation == beehive.OpDelete:
		var ref edged.PodRef
		if err := json.Unmarshal(content, &ref); err != nil || ref.Namespace != ns || ref.Name != name || ref.UID == "" {
			t.Errorf("pod delete %s: %+v, %v", m.Router.Resource, ref, err)
		}
		u.deleted <- ref
	case typ == edged.ResourceNode || typ == edged.ResourceNodeStatus || typ == edged.ResourceLease:
		u.nodes <- m
	default:
		t.Errorf("unexpected upstream message %+v", m.Router)
	}
}

// waitDeleted waits for the final delete of the pod uid.
func (u *upstream) waitDeleted(t *testing.T, uid types.UID, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ref := <-u.deleted:
			if ref.UID == uid {
				return
			}
		case <-deadline:
			t.Fatalf("no final delete of pod %s within %v", uid, timeout)
		}
	}
}

// testModule runs edged as a beehive module beside a stand-in "edgehub" that sends it a ConfigMap and a
// pod, receives the pod's statuses, and deletes the pod with a delete message. A second pod comes from
// the PodSource and is deleted by an update with a deletionTimestamp; a third one, already being
// deleted, comes from the PodSource (a restart after the cloud began deleting it). The pods deleted
// through a deletionTimestamp get their final delete upstream, after their last status and once they
// are out of the runtime; the one deleted by a delete message (gone from the cloud) gets none.
func testModule(t *testing.T, env runtimeEnv) {
	const ns = "module"
	cfg := testConfig(t, shortTempDir(t))
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cm", ResourceVersion: "7"}, Data: map[string]string{"k": "v"}}
	c := sh("main", "exec sleep 3600")
	c.Env = []corev1.EnvVar{{Name: "K", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, Key: "k"}}}}
	pod := newPod(env, ns, "from-cloud", c)
	stored := newPod(env, ns, "from-store", sh("main", "exec sleep 3600"))
	leftover := newPod(env, ns, "leftover", sh("main", "exec sleep 3600"))
	now := metav1.Now()
	leftover.DeletionTimestamp = &now

	mod, err := edged.NewModule(edged.ModuleConfig{
		Runtime: cri.Config{Endpoint: env.endpoint},
		Manager: cfg,
		Source:  &edged.StaticSource{Pods: []*corev1.Pod{stored, leftover}},
	})
	if err != nil {
		t.Fatal(err)
	}
	hive, err := beehive.New(beehive.Config{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	up := newUpstream()
	hubErr := make(chan error, 1)
	toEdged := make(chan beehive.Message, 10)
	hub := &beehive.ModuleFunc{ModuleName: edged.DefaultStatusTarget, ModuleGroup: beehive.GroupHub,
		Fn: func(ctx context.Context, bc *beehive.Context) error {
			send := func(op beehive.Operation, typ, name string, obj any) error {
				var content []byte
				if obj != nil {
					content, _ = json.Marshal(obj)
				}
				m := bc.NewMessage(beehive.GroupEdged, op, edged.ResourceKey(ns, typ, name), content)
				return bc.Send(ctx, edged.DefaultModuleName, m)
			}
			hubErr <- errors.Join(
				send(beehive.OpUpdate, "unknown-type", "x", cm), // refused and logged, nothing else
				send(beehive.OpInsert, edged.ResourceConfigMap, cm.Name, cm),
				send(beehive.OpInsert, edged.ResourcePod, pod.Name, pod))
			for {
				select {
				case m := <-toEdged:
					if err := bc.Send(ctx, edged.DefaultModuleName, m); err != nil {
						t.Error(err)
					}
					continue
				default:
				}
				rctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
				m, err := bc.Receive(rctx)
				cancel()
				if ctx.Err() != nil {
					return nil
				}
				if err != nil {
					continue
				}
				up.receive(t, m)
			}
		}}
	for _, m := range []beehive.Module{mod, hub} {
		if err := hive.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hive.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hive: %v", err)
		}
	}()
	if err := <-hubErr; err != nil {
		t.Fatal(err)
	}
	up.waitDeleted(t, leftover.UID, 15*time.Second) // nothing of it in the runtime: at once

	running := map[string]bool{}
	timeout := time.After(20 * time.Second)
	for !running[pod.Name] || !running[stored.Name] {
		select {
		case st := <-up.statuses:
			if st.Status.Phase == corev1.PodRunning {
				running[st.Name] = true
			}
		case <-timeout:
			t.Fatalf("running pods %v, want both", running)
		}
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	rt, err := cri.Dial(dctx, cri.Config{Endpoint: env.endpoint})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()

	gone := func(uid types.UID) {
		t.Helper()
		// The final delete is sent only once the runtime holds nothing of the pod.
		up.waitDeleted(t, uid, 30*time.Second)
		if sb, cs := runtimeState(t, rt, uid); len(sb)+len(cs) > 0 {
			t.Errorf("pod %s reported gone with %d sandboxes and %d containers in the runtime", uid, len(sb), len(cs))
		}
	}
	// A delete message: the pod is gone from the cloud already, nothing to confirm.
	toEdged <- beehive.Message{Router: beehive.Router{Source: edged.DefaultStatusTarget, Operation: beehive.OpDelete,
		Resource: edged.ResourceKey(ns, edged.ResourcePod, pod.Name)}}
	eventually(t, 30*time.Second, "deleted pod gone", func() error {
		if sb, cs := runtimeState(t, rt, pod.UID); len(sb)+len(cs) > 0 {
			return errors.New("still in the runtime")
		}
		return nil
	})

	deleting := stored.DeepCopy()
	deleting.DeletionTimestamp = &now
	zero := int64(0)
	deleting.DeletionGracePeriodSeconds = &zero
	body, _ := json.Marshal(deleting)
	toEdged <- beehive.Message{Router: beehive.Router{Source: edged.DefaultStatusTarget, Operation: beehive.OpUpdate,
		Resource: edged.ResourceKey(ns, edged.ResourcePod, stored.Name)}, Content: body}
	gone(stored.UID)

	// No status of a deleted pod after its final delete.
	for {
		select {
		case st := <-up.statuses:
			if st.UID == pod.UID || st.UID == stored.UID {
				t.Errorf("status of %s after its final delete: %s", st.Name, st.Status.Phase)
			}
			continue
		case ref := <-up.deleted:
			t.Errorf("unexpected final delete of %s (%s)", ref.Name, ref.UID)
			continue
		default:
		}
		break
	}
}

// TestTakeDeleted: the manager reports every deleted pod once it is gone from the runtime, with
// Confirm only for the one deleted through its deletionTimestamp.
func TestTakeDeleted(t *testing.T) {
	env := fakeEnv(startFake(t))
	a := newPod(env, "del", "a", sh("main", "exec sleep 3600"))
	b := newPod(env, "del", "b", sh("main", "exec sleep 3600"))
	m := startManager(t, env, testConfig(t, shortTempDir(t)), a, b)
	waitStatus(t, m, a, 10*time.Second, "running", running)
	waitStatus(t, m, b, 10*time.Second, "running", running)
	m.DeletePod("del", "a")
	bd := b.DeepCopy()
	now := metav1.Now()
	bd.DeletionTimestamp = &now
	if err := m.UpdatePod(bd); err != nil {
		t.Fatal(err)
	}
	got := map[string]edged.DeletedPod{}
	eventually(t, 10*time.Second, "both reported deleted", func() error {
		for _, d := range m.TakeDeleted() {
			got[d.Name] = d
		}
		if len(got) < 2 {
			return fmt.Errorf("reported %v", got)
		}
		return nil
	})
	if got["a"].UID != a.UID || got["a"].Confirm || got["b"].UID != b.UID || !got["b"].Confirm {
		t.Errorf("TakeDeleted %+v, want a without and b with Confirm", got)
	}
	for _, p := range []*corev1.Pod{a, b} {
		if sb, cs := runtimeState(t, m.rt, p.UID); len(sb)+len(cs) > 0 {
			t.Errorf("%s reported deleted while in the runtime", p.Name)
		}
	}
	if d := m.TakeDeleted(); len(d) != 0 {
		t.Errorf("reported again: %+v", d)
	}
}

// TestModuleNodeStatus runs the module with node reports on the fake runtime: the node is registered
// first, its status is sent, sent again only when it changes or on a ReportOn notice, and the lease is
// renewed on schedule.
func TestModuleNodeStatus(t *testing.T) {
	rt := startFake(t)
	env := fakeEnv(rt)
	cfg := testConfig(t, shortTempDir(t))
	const connected beehive.Operation = "cloud-connected"
	mod, err := edged.NewModule(edged.ModuleConfig{
		Runtime: cri.Config{Endpoint: env.endpoint},
		Manager: cfg,
		NodeStatus: &edged.NodeStatusConfig{UpdateInterval: 50 * time.Millisecond, ReportInterval: time.Hour,
			LeaseDuration: 2 * time.Second, LeaseRenewInterval: 100 * time.Millisecond,
			ReportOn: []beehive.Operation{connected}},
	})
	if err != nil {
		t.Fatal(err)
	}
	hive, err := beehive.New(beehive.Config{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	up := newUpstream()
	notify := make(chan beehive.Operation, 1)
	hub := &beehive.ModuleFunc{ModuleName: edged.DefaultStatusTarget, ModuleGroup: beehive.GroupHub,
		Fn: func(ctx context.Context, bc *beehive.Context) error {
			for {
				select {
				case op := <-notify:
					if err := bc.SendToGroup(ctx, beehive.GroupEdged, bc.NewMessage(beehive.GroupHub, op, "", nil)); err != nil {
						t.Error(err)
					}
				default:
				}
				rctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
				m, err := bc.Receive(rctx)
				cancel()
				if ctx.Err() != nil {
					return nil
				}
				if err == nil {
					up.receive(t, m)
				}
			}
		}}
	for _, m := range []beehive.Module{mod, hub} {
		if err := hive.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hive.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hive: %v", err)
		}
	}()

	next := func(timeout time.Duration) (beehive.Message, bool) {
		select {
		case m := <-up.nodes:
			return m, true
		case <-time.After(timeout):
			return beehive.Message{}, false
		}
	}
	// nextStatus returns the next node status within timeout, counting the leases on the way.
	leases := 0
	nextStatus := func(timeout time.Duration) (corev1.NodeStatus, bool) {
		deadline := time.Now().Add(timeout)
		for {
			m, ok := next(time.Until(deadline))
			if !ok {
				return corev1.NodeStatus{}, false
			}
			_, typ, name, _ := edged.ParseResourceKey(m.Router.Resource)
			if name != cfg.NodeName {
				t.Errorf("report for node %q", name)
			}
			switch typ {
			case edged.ResourceLease:
				var spec coordinationv1.LeaseSpec
				if err := json.Unmarshal(m.Content.([]byte), &spec); err != nil || spec.HolderIdentity == nil || *spec.HolderIdentity != cfg.NodeName ||
					spec.LeaseDurationSeconds == nil || *spec.LeaseDurationSeconds != 2 || m.Router.Resource != "kube-node-lease/lease/edge-1" {
					t.Errorf("lease %s: %+v %v", m.Router.Resource, spec, err)
				}
				leases++
			case edged.ResourceNodeStatus:
				var st corev1.NodeStatus
				if err := json.Unmarshal(m.Content.([]byte), &st); err != nil || m.Router.Operation != beehive.OpUpdate {
					t.Fatalf("node status %+v: %v", m.Router, err)
				}
				return st, true
			default:
				t.Errorf("unexpected %+v", m.Router)
			}
		}
	}

	first, ok := next(10 * time.Second)
	if !ok || first.Router.Resource != "/node/edge-1" || first.Router.Operation != beehive.OpInsert {
		t.Fatalf("first report %+v, want the node's registration", first.Router)
	}
	st, ok := nextStatus(10 * time.Second)
	if !ok {
		t.Fatal("no node status")
	}
	if c := conditionOfNode(st, corev1.NodeReady); c.Status != corev1.ConditionTrue {
		t.Errorf("Ready %+v", c)
	}
	if st.NodeInfo.ContainerRuntimeVersion == "" || !strings.HasPrefix(st.NodeInfo.ContainerRuntimeVersion, "fakecri://") ||
		len(st.Images) != 1 || st.Images[0].Names[0] != fakeImage || st.Capacity.Cpu().IsZero() || st.Capacity.Memory().IsZero() ||
		len(st.Addresses) == 0 || st.Addresses[0].Address != cfg.NodeIP {
		t.Errorf("node status %+v", st)
	}

	// Unchanged: no status for a while, but the lease is renewed every 100 ms.
	leases = 0
	if st, ok := nextStatus(600 * time.Millisecond); ok {
		t.Errorf("unchanged status sent again: %+v", st.Conditions)
	}
	if leases < 3 {
		t.Errorf("%d lease renewals in 600 ms, want about 6", leases)
	}
	// A notice sends it at once.
	notify <- connected
	if _, ok := nextStatus(2 * time.Second); !ok {
		t.Error("no status after the connected notice")
	}
	// Another notice is ignored.
	notify <- "cloud-disconnected"
	if _, ok := nextStatus(300 * time.Millisecond); ok {
		t.Error("status after an unrelated notice")
	}
	// A change goes out within the update interval.
	rt.SetCondition(runtimeapi.NetworkReady, false, "NetworkPluginNotReady", "cni config uninitialized")
	st, ok = nextStatus(2 * time.Second)
	if !ok {
		t.Fatal("no status after the runtime's network went down")
	}
	if c := conditionOfNode(st, corev1.NodeReady); c.Status != corev1.ConditionFalse || !strings.Contains(c.Message, "cni config uninitialized") {
		t.Errorf("Ready %+v, want False naming the runtime's message", c)
	}
}

func conditionOfNode(st corev1.NodeStatus, typ corev1.NodeConditionType) corev1.NodeCondition {
	for _, c := range st.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return corev1.NodeCondition{}
}

func TestApplyRefusesBadMessages(t *testing.T) {
	m, err := edged.NewManager(edged.Config{DataDir: t.TempDir()}, &cri.Client{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		msg  beehive.Message
		want error
	}{
		{beehive.Message{Router: beehive.Router{Operation: beehive.OpInsert, Resource: "bad"}}, edged.ErrBadResource},
		{beehive.Message{Router: beehive.Router{Operation: beehive.OpQuery, Resource: "ns/pod/x"}}, edged.ErrBadResource},
		{beehive.Message{Router: beehive.Router{Operation: beehive.OpInsert, Resource: "ns/node/x"}}, edged.ErrBadResource},
		{beehive.Message{Router: beehive.Router{Operation: beehive.OpInsert, Resource: "ns/pod/x"}, Content: 42}, edged.ErrBadContent},
		{beehive.Message{Router: beehive.Router{Operation: beehive.OpInsert, Resource: "ns/pod/x"}, Content: []byte("{")}, edged.ErrBadContent},
		{beehive.Message{Router: beehive.Router{Operation: beehive.OpInsert, Resource: "ns/pod/x"},
			Content: []byte(`{"metadata":{"namespace":"ns","name":"y","uid":"u"}}`)}, edged.ErrBadContent},
		{beehive.Message{Router: beehive.Router{Operation: beehive.OpInsert, Resource: "ns/pod/x"},
			Content: []byte(`{"metadata":{"namespace":"ns","name":"x"}}`)}, edged.ErrBadContent},
	} {
		if err := edged.Apply(m, tc.msg); !errors.Is(err, tc.want) {
			t.Errorf("Apply(%+v) = %v, want %v", tc.msg.Router, err, tc.want)
		}
	}
}

// TestResourceTypesAreHubKinds checks that edged's message keys are the hub's, so that the edge hub
// carries them to the cloud unchanged.
func TestResourceTypesAreHubKinds(t *testing.T) {
	for typ, kind := range map[string]hub.Kind{
		edged.ResourcePod: hub.KindPod, edged.ResourceConfigMap: hub.KindConfigMap, edged.ResourceSecret: hub.KindSecret,
		edged.ResourcePodStatus: hub.KindPodStatus, edged.ResourceNode: hub.KindNode,
		edged.ResourceNodeStatus: hub.KindNodeStatus, edged.ResourceLease: hub.KindLease,
	} {
		if typ != string(kind) {
			t.Errorf("edged type %q, hub kind %q", typ, kind)
		}
	}
	if edged.NodeLeaseNamespace != hub.NodeLeaseNamespace {
		t.Errorf("lease namespace %q, hub's %q", edged.NodeLeaseNamespace, hub.NodeLeaseNamespace)
	}
	for _, k := range []string{edged.ResourceKey("", edged.ResourceNodeStatus, "edge-1"),
		edged.ResourceKey(edged.NodeLeaseNamespace, edged.ResourceLease, "edge-1"), edged.ResourceKey("ns", edged.ResourcePod, "p")} {
		if hk, err := hub.ParseKey(k); err != nil || hk.String() != k {
			t.Errorf("hub.ParseKey(%q) = %v, %v", k, hk, err)
		}
	}
}
