package controller

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/edgehive/edgehive/controller/api"
	"github.com/edgehive/edgehive/controller/crds"
	"github.com/edgehive/edgehive/edged"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/internal/testenv"
)

// kubeEnv is what the subtests of TestAgainstKube share: one control plane, one controller.
type kubeEnv struct {
	kube *testenv.Kube
	cs   kubernetes.Interface
	dyn  dynamic.Interface
	ctl  *EdgeController
	rec  *recorder
}

// TestAgainstKube runs the controller against a real kube-apiserver. The subtests run in order and
// build on each other (one control plane for all: starting one costs seconds).
func TestAgainstKube(t *testing.T) {
	began := time.Now()
	k := testenv.StartKube(t)
	cs := k.Clientset(t)
	dyn, err := dynamic.NewForConfig(k.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	ctl, err := New(Config{Client: cs, Dynamic: dyn, Downstream: rec, Logger: testLogger(t), RetryInitial: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ctl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return within 10 s of its context's end")
		}
	})
	eventually(t, "controller caches synced", func() error {
		_, err := ctl.Desired(ctx, "edge-1")
		return err
	})
	if err := ctl.Run(ctx); !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second Run: %v, want ErrAlreadyRunning", err)
	}
	if err := k.WaitDefaultServiceAccount(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	t.Logf("control plane and controller ready in %v", time.Since(began).Round(time.Millisecond))
	e := &kubeEnv{kube: k, cs: cs, dyn: dyn, ctl: ctl, rec: rec}

	for _, st := range []struct {
		name string
		f    func(t *testing.T, e *kubeEnv)
	}{
		{"RegisterNode", testRegisterNode},
		{"PodAndReferences", testPodAndReferences},
		{"ConfigMapUpdate", testConfigMapUpdate},
		{"PodStatus", testPodStatus},
		{"NodeReady", testNodeReady},
		{"DesiredAndDiff", testDesiredAndDiff},
		{"DownstreamRetry", testDownstreamRetry},
		{"PodDeletion", testPodDeletion},
		{"Devices", testDevices},
		{"Module", testModule},
	} {
		stBegan := time.Now()
		if !t.Run(st.name, func(t *testing.T) { st.f(t, e) }) {
			t.FailNow() // the next subtests build on this one
		}
		t.Logf("%s took %v", st.name, time.Since(stBegan).Round(time.Millisecond))
	}
}

func testRegisterNode(t *testing.T, e *kubeEnv) {
	ctx := t.Context()
	for _, name := range []hub.NodeName{"edge-1", "edge-2"} {
		n, err := e.ctl.RegisterNode(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := n.Labels[DefaultEdgeLabel]; !ok {
			t.Fatalf("node %s has no edge label: %v", name, n.Labels)
		}
		e.rec.wait(t, name, 0, "node insert", is("insert", name.Key(), ""))
	}
	// Registering again is a no-op; a node that exists without the label gets it.
	if _, err := e.ctl.RegisterNode(ctx, "edge-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "cloud-1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(e.rec.all("cloud-1")) != 0 {
		t.Fatalf("a node without the edge label got changes: %s", dump(e.rec.all("cloud-1")))
	}
	if _, err := e.ctl.RegisterNode(ctx, "bad_name"); !errors.Is(err, hub.ErrBadNodeName) {
		t.Fatalf("RegisterNode(bad_name) = %v, want ErrBadNodeName", err)
	}
}

// testPod returns a pod bound to node that uses ConfigMap app-config (volume, and envFrom) and Secret
// app-secret (env valueFrom).
func testPod(name, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeName:                     node,
			AutomountServiceAccountToken: new(false),
			Containers: []corev1.Container{{
				Name:  "app",
				Image: "busybox",
				Env: []corev1.EnvVar{{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{
					SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "app-secret"}, Key: "password"},
				}}},
				EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}}}},
			}},
			Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}},
			}}},
		},
	}
}

func testPodAndReferences(t *testing.T, e *kubeEnv) {
	ctx := t.Context()
	core := e.cs.CoreV1()
	cm, err := core.ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "app-config", Namespace: "default"}, Data: map[string]string{"mode": "a"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sec, err := core.Secrets("default").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "app-secret", Namespace: "default"}, StringData: map[string]string{"password": "s3cret"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// An unrelated ConfigMap goes nowhere.
	if _, err := core.ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "unused", Namespace: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	pod, err := core.Pods("default").Create(ctx, testPod("app", "edge-1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	podKey := mustKey(t, "default", hub.KindPod, "app")
	got, _ := e.rec.wait(t, "edge-1", 0, "pod insert", is("insert", podKey, pod.ResourceVersion))
	t.Logf("pod reached Downstream %v after its creation", time.Since(began).Round(time.Microsecond))
	var sent corev1.Pod
	if err := json.Unmarshal(got.Content, &sent); err != nil || sent.UID != pod.UID || sent.Kind != "Pod" || sent.APIVersion != "v1" {
		t.Fatalf("pod content: %v; uid %s kind %q apiVersion %q", err, sent.UID, sent.Kind, sent.APIVersion)
	}
	// The ConfigMap and Secret come too (usually before the pod, in the same pass; but their informers
	// may lag the pods' one, and then they follow in the next pass: order is unit-tested).
	e.rec.wait(t, "edge-1", 0, "configmap insert", is("insert", mustKey(t, "default", hub.KindConfigMap, "app-config"), cm.ResourceVersion))
	e.rec.wait(t, "edge-1", 0, "secret insert", is("insert", mustKey(t, "default", hub.KindSecret, "app-secret"), sec.ResourceVersion))
	// edge-2 gets its Node only.
	time.Sleep(200 * time.Millisecond)
	for _, c := range e.rec.all("edge-2") {
		if c.Key.Kind != hub.KindNode {
			t.Errorf("edge-2 got %s %s", c.Op, c.Key)
		}
	}
	for _, c := range e.rec.all("edge-1") {
		if c.Key.Name == "unused" {
			t.Errorf("edge-1 got the unused ConfigMap")
		}
	}
}

func testConfigMapUpdate(t *testing.T, e *kubeEnv) {
	ctx := t.Context()
	cms := e.cs.CoreV1().ConfigMaps("default")
	cm, err := cms.Get(ctx, "app-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["mode"] = "b"
	cm, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := e.rec.wait(t, "edge-1", 0, "configmap update", is("update", mustKey(t, "default", hub.KindConfigMap, "app-config"), cm.ResourceVersion))
	var sent corev1.ConfigMap
	if err := json.Unmarshal(got.Content, &sent); err != nil || sent.Data["mode"] != "b" {
		t.Fatalf("configmap content: %v %v", err, sent.Data)
	}
}

func testPodStatus(t *testing.T, e *kubeEnv) {
	ctx := t.Context()
	pod, err := e.cs.CoreV1().Pods("default").Get(ctx, "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	msg := edged.PodStatusMessage{UID: pod.UID, Namespace: "default", Name: "app", Status: corev1.PodStatus{
		Phase:     corev1.PodRunning,
		HostIP:    "192.0.2.10",
		PodIP:     "10.244.1.5",
		StartTime: &now,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
		},
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", Image: "busybox", ImageID: "sha256:0123", ContainerID: "containerd://abc", Ready: true, Started: new(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		}},
	}}
	content, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	key := mustKey(t, "default", hub.KindPodStatus, "app")
	// Another node may not write it.
	if err := e.ctl.HandleUpstream(ctx, "edge-2", hub.OpUpdate, key, content); !errors.Is(err, hub.ErrForbidden) || !Final(err) {
		t.Fatalf("edge-2 writing edge-1's pod status: %v, want a final ErrForbidden", err)
	}
	if err := e.ctl.HandleUpstream(ctx, "edge-1", hub.OpUpdate, key, []byte("{")); !errors.Is(err, ErrBadContent) {
		t.Fatalf("malformed content: %v, want ErrBadContent", err)
	}
	if err := e.ctl.HandleUpstream(ctx, "edge-1", hub.OpUpdate, key, content); err != nil {
		t.Fatal(err)
	}
	got, err := e.cs.CoreV1().Pods("default").Get(ctx, "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != corev1.PodRunning || got.Status.PodIP != "10.244.1.5" || len(got.Status.ContainerStatuses) != 1 {
		t.Fatalf("pod status in the API server: %+v", got.Status)
	}
	out := e.kube.Kubectl(t, "get", "pod", "app", "-n", "default", "--no-headers")
	if f := strings.Fields(out); len(f) < 3 || f[1] != "1/1" || f[2] != "Running" {
		t.Fatalf("kubectl get pod: %q, want 1/1 Running", out)
	}
	t.Logf("kubectl get pod: %s", strings.TrimSpace(out))
	// The status update reaches the edge too, as a new version of the pod.
	e.rec.wait(t, "edge-1", 0, "pod update after status", is("update", mustKey(t, "default", hub.KindPod, "app"), got.ResourceVersion))
}

func testNodeReady(t *testing.T, e *kubeEnv) {
	ctx := t.Context()
	st := corev1.NodeStatus{
		Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "EdgeReady", Message: "edged is posting ready status"},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "EdgeHasSufficientMemory"},
		},
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.10"}, {Type: corev1.NodeHostName, Address: "edge-1"}},
		Capacity:  corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("2Gi"), corev1.ResourcePods: resource.MustParse("110")},
		NodeInfo:  corev1.NodeSystemInfo{KubeletVersion: "v1.36.3-edgehive", OperatingSystem: "linux", Architecture: "amd64", ContainerRuntimeVersion: "containerd://2.0.0"},
	}
	content, _ := json.Marshal(st)
	if err := e.ctl.HandleUpstream(ctx, "edge-1", hub.OpUpdate, hub.NodeName("edge-1").StatusKey(), content); err != nil {
		t.Fatal(err)
	}
	if err := e.ctl.HandleUpstream(ctx, "edge-2", hub.OpUpdate, hub.NodeName("edge-1").StatusKey(), content); !errors.Is(err, hub.ErrForbidden) {
		t.Fatalf("edge-2 writing edge-1's status: %v", err)
	}
	leaseKey := mustKey(t, hub.NodeLeaseNamespace, hub.KindLease, "edge-1")
	for range 2 { // create, then renew
		if err := e.ctl.HandleUpstream(ctx, "edge-1", hub.OpUpdate, leaseKey, nil); err != nil {
			t.Fatal(err)
		}
	}
	lease, err := e.cs.CoordinationV1().Leases(hub.NodeLeaseNamespace).Get(ctx, "edge-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *lease.Spec.HolderIdentity != "edge-1" || *lease.Spec.LeaseDurationSeconds != 40 || time.Since(lease.Spec.RenewTime.Time) > time.Minute ||
		len(lease.OwnerReferences) != 1 || lease.OwnerReferences[0].Name != "edge-1" {
		t.Fatalf("lease: %+v %+v", lease.Spec, lease.OwnerReferences)
	}
	node, err := e.cs.CoreV1().Nodes().Get(ctx, "edge-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node.Status.NodeInfo.KubeletVersion != "v1.36.3-edgehive" || node.Status.Capacity.Cpu().String() != "2" {
		t.Fatalf("node status: %+v", node.Status)
	}
	out := e.kube.Kubectl(t, "get", "nodes", "--no-headers")
	var ready bool
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "edge-1" {
			ready = f[1] == "Ready"
		}
	}
	if !ready {
		t.Fatalf("kubectl get nodes: edge-1 not Ready:\n%s", out)
	}
	t.Logf("kubectl get nodes:\n%s", strings.TrimSpace(out))
}

func testDesiredAndDiff(t *testing.T, e *kubeEnv) {
	ctx := t.Context()
	want := []hub.Key{
		hub.NodeName("edge-1").Key(),
		mustKey(t, "default", hub.KindConfigMap, "app-config"),
		mustKey(t, "default", hub.KindPod, "app"),
		mustKey(t, "default", hub.KindSecret, "app-secret"),
	}
	var desired []hub.Object
	// Desired reads the caches, which follow the API server by watch: wait until they saw the writes.
	eventually(t, "Desired matches the API server", func() error {
		var err error
		desired, err = e.ctl.Desired(ctx, "edge-1")
		if err != nil {
			return err
		}
		var keys []hub.Key
		for _, o := range desired {
			keys = append(keys, o.Key)
		}
		if !slices.Equal(keys, want) {
			return errors.New("keys " + keyList(keys))
		}
		node, _ := e.cs.CoreV1().Nodes().Get(ctx, "edge-1", metav1.GetOptions{})
		pod, _ := e.cs.CoreV1().Pods("default").Get(ctx, "app", metav1.GetOptions{})
		if desired[0].ResourceVersion != node.ResourceVersion || desired[2].ResourceVersion != pod.ResourceVersion {
			return errors.New("caches behind the API server")
		}
		// What Downstream got, applied in order, is what is desired.
		if d := hub.Diff(e.rec.held("edge-1"), desired); len(d) != 0 {
			return errors.New("downstream behind: " + dump(d))
		}
		return nil
	})
	digest := hub.Digest{}
	for _, o := range desired {
		digest[o.Key] = o.ResourceVersion
	}
	if d := hub.Diff(digest, desired); len(d) != 0 {
		t.Fatalf("diff against its own digest: %s", dump(d))
	}
	stale := mustKey(t, "default", hub.KindConfigMap, "app-config")
	extra := mustKey(t, "default", hub.KindSecret, "old")
	digest[stale] = "1"
	digest[extra] = "7"
	delete(digest, mustKey(t, "default", hub.KindPod, "app"))
	changes := hub.Diff(digest, desired)
	if len(changes) != 3 || changes[0].Op != hub.OpUpdate || changes[0].Key != stale || changes[1].Op != hub.OpInsert ||
		changes[2].Op != hub.OpDelete || changes[2].Key != extra || changes[2].ResourceVersion != "7" {
		t.Fatalf("diff: %s", dump(changes))
	}
	if resync, err := hub.Resync(ctx, e.ctl, "edge-1", digest); err != nil || len(resync) != 3 {
		t.Fatalf("hub.Resync: %v %s", err, dump(resync))
	}
	obj, ok, err := e.ctl.Get(ctx, "edge-1", stale)
	if err != nil || !ok || obj.ResourceVersion != desired[1].ResourceVersion {
		t.Fatalf("Get(edge-1, %s) = %v %v %v", stale, obj.Key, ok, err)
	}
	if _, ok, err := e.ctl.Get(ctx, "edge-2", stale); ok || err != nil {
		t.Fatalf("Get(edge-2, %s) = %v %v, want not found", stale, ok, err)
	}
	if objs, err := e.ctl.Desired(ctx, "cloud-1"); err != nil || len(objs) != 0 {
		t.Fatalf("Desired(cloud-1) = %d objects, %v; want none (not an edge node)", len(objs), err)
	}
	if n, ok := e.ctl.PodNode("default", "app"); !ok || n != "edge-1" {
		t.Fatalf("PodNode = %s %v", n, ok)
	}
}

func keyList(keys []hub.Key) string {
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = k.String()
	}
	return strings.Join(s, " ")
}

func testDownstreamRetry(t *testing.T, e *kubeEnv) {
	ctx := t.Context()
	e.rec.refuseNext("edge-2", 3)
	from := len(e.rec.all("edge-2"))
	patch := []byte(`{"metadata":{"labels":{"zone":"b"}}}`)
	n, err := e.cs.CoreV1().Nodes().Patch(ctx, "edge-2", "application/merge-patch+json", patch, metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.rec.wait(t, "edge-2", from, "node update after refused sends", is("update", hub.NodeName("edge-2").Key(), n.ResourceVersion))
}

func testPodDeletion(t *testing.T, e *kubeEnv) {
	ctx := t.Context()
	pods := e.cs.CoreV1().Pods("default")
	from := len(e.rec.all("edge-1"))
	podKey := mustKey(t, "default", hub.KindPod, "app")
	if err := pods.Delete(ctx, "app", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// A graceful delete is an update that the edge sees (deletionTimestamp set); the pod stays until the
	// edge confirms.
	got, _ := e.rec.wait(t, "edge-1", from, "pod update with deletionTimestamp", func(c hub.Change) bool {
		return c.Op == hub.OpUpdate && c.Key == podKey && strings.Contains(string(c.Content), `"deletionTimestamp"`)
	})
	var p corev1.Pod
	if err := json.Unmarshal(got.Content, &p); err != nil {
		t.Fatal(err)
	}
	confirm, _ := json.Marshal(PodStatusMessage{UID: p.UID})
	if err := e.ctl.HandleUpstream(ctx, "edge-2", hub.OpDelete, podKey, confirm); !errors.Is(err, hub.ErrForbidden) {
		t.Fatalf("edge-2 deleting edge-1's pod: %v", err)
	}
	if err := e.ctl.HandleUpstream(ctx, "edge-1", hub.OpDelete, podKey, confirm); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "app", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("pod after the edge confirmed its deletion: %v", err)
	}
	_, podAt := e.rec.wait(t, "edge-1", from, "pod delete", is("delete", podKey, ""))
	_, cmAt := e.rec.wait(t, "edge-1", from, "configmap delete", is("delete", mustKey(t, "default", hub.KindConfigMap, "app-config"), ""))
	e.rec.wait(t, "edge-1", from, "secret delete", is("delete", mustKey(t, "default", hub.KindSecret, "app-secret"), ""))
	if cmAt < podAt {
		t.Errorf("the ConfigMap (change %d) was deleted before the pod (%d)", cmAt, podAt)
	}
	// Confirming again is harmless.
	if err := e.ctl.HandleUpstream(ctx, "edge-1", hub.OpDelete, podKey, confirm); !errors.Is(err, hub.ErrForbidden) {
		t.Fatalf("confirming a deleted pod again: %v (the pod is no longer bound, so forbidden)", err)
	}
	// A pod that is not being deleted cannot be deleted by its edge.
	if _, err := pods.Create(ctx, testPod("keep", "edge-1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	keepKey := mustKey(t, "default", hub.KindPod, "keep")
	e.rec.wait(t, "edge-1", from, "pod keep", is("insert", keepKey, ""))
	if err := e.ctl.HandleUpstream(ctx, "edge-1", hub.OpDelete, keepKey, nil); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("edge deleting a running pod: %v, want ErrUnsupported", err)
	}
	if err := pods.Delete(ctx, "keep", metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))}); err != nil {
		t.Fatal(err)
	}
	e.rec.wait(t, "edge-1", from, "pod keep delete", is("delete", keepKey, ""))
}

func testDevices(t *testing.T, e *kubeEnv) {
	ctx := t.Context()
	if err := crds.Ensure(ctx, e.dyn); err != nil { // Run installed them; again is a no-op
		t.Fatal(err)
	}
	samples, err := filepath.Abs(filepath.Join("crds", "samples")) // kubectl runs in the control plane's dir
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"thermostat-model.yaml", "thermostat.yaml"} {
		e.kube.Kubectl(t, "apply", "-f", filepath.Join(samples, f))
	}
	devKey := mustKey(t, "default", hub.KindDevice, "thermostat")
	got, _ := e.rec.wait(t, "edge-1", 0, "device insert", is("insert", devKey, ""))
	var dev struct {
		Spec struct {
			NodeName   string `json:"nodeName"`
			Properties []struct {
				Name    string            `json:"name"`
				Desired *api.TwinProperty `json:"desired"`
			} `json:"properties"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(got.Content, &dev); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(dev.Spec.Properties, func(p struct {
		Name    string            `json:"name"`
		Desired *api.TwinProperty `json:"desired"`
	}) bool {
		return p.Name == "target-temperature"
	})
	if dev.Spec.NodeName != "edge-1" || i < 0 || dev.Spec.Properties[i].Desired == nil || dev.Spec.Properties[i].Desired.Value != "21" {
		t.Fatalf("device sent down: %s", got.Content)
	}
	e.rec.wait(t, "edge-1", 0, "device model insert", is("insert", mustKey(t, "default", hub.KindDeviceModel, "thermostat-model"), ""))
	mem, _ := e.rec.wait(t, "edge-1", 0, "membership insert", is("insert", mustKey(t, "", hub.KindMembership, "edge-1"), ""))
	var m api.Membership
	if err := json.Unmarshal(mem.Content, &m); err != nil || !slices.Equal(m.Devices, []string{"default/thermostat"}) {
		t.Fatalf("membership: %v %s", err, mem.Content)
	}
	if n, ok := e.ctl.DeviceNode("default", "thermostat"); !ok || n != "edge-1" {
		t.Fatalf("DeviceNode = %s %v", n, ok)
	}

	// A new desired value goes down.
	out := e.kube.Kubectl(t, "patch", "device", "thermostat", "-n", "default", "--type=json",
		`-p=[{"op":"replace","path":"/spec/properties/1/desired/value","value":"23"}]`)
	t.Logf("kubectl patch: %s", strings.TrimSpace(out))
	e.rec.wait(t, "edge-1", 0, "device update with desired 23", func(c hub.Change) bool {
		return c.Op == hub.OpUpdate && c.Key == devKey && strings.Contains(string(c.Content), `"value":"23"`)
	})

	// Reported values come up into the Device's status.
	report := api.DeviceStatus{State: "online", Twins: []api.Twin{{
		PropertyName:    "target-temperature",
		Reported:        api.TwinProperty{Value: "22", Metadata: map[string]string{"timestamp": "1700000000000", "type": "int"}},
		ObservedDesired: api.TwinProperty{Value: "23"},
	}}}
	content, _ := json.Marshal(report)
	statusKey := mustKey(t, "default", hub.KindDeviceStatus, "thermostat")
	if err := e.ctl.HandleUpstream(ctx, "edge-2", hub.OpUpdate, statusKey, content); !errors.Is(err, hub.ErrForbidden) {
		t.Fatalf("edge-2 reporting edge-1's device: %v", err)
	}
	if err := e.ctl.HandleUpstream(ctx, "edge-1", hub.OpUpdate, statusKey, content); err != nil {
		t.Fatal(err)
	}
	report.Twins = []api.Twin{{PropertyName: "temperature", Reported: api.TwinProperty{Value: "19"}}}
	content, _ = json.Marshal(report)
	if err := e.ctl.HandleUpstream(ctx, "edge-1", hub.OpUpdate, statusKey, content); err != nil {
		t.Fatal(err)
	}
	d, err := e.dyn.Resource(crds.DeviceResource()).Namespace("default").Get(ctx, "thermostat", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	twins, _, _ := unstructured.NestedSlice(d.Object, "status", "twins")
	if len(twins) != 2 {
		t.Fatalf("status.twins: %v", twins)
	}
	reported, _, _ := unstructured.NestedString(twins[0].(map[string]any), "reported", "value")
	observed, _, _ := unstructured.NestedString(twins[0].(map[string]any), "observedDesired", "value")
	if reported != "22" || observed != "23" {
		t.Fatalf("status.twins[0]: %v", twins[0])
	}
	out = e.kube.Kubectl(t, "get", "device", "thermostat", "-n", "default",
		`-o=jsonpath={.status.state} {.status.twins[?(@.propertyName=="target-temperature")].reported.value} {.status.twins[?(@.propertyName=="temperature")].reported.value}`)
	if out != "online 22 19" {
		t.Fatalf("kubectl get device: %q, want \"online 22 19\"", out)
	}
	t.Logf("kubectl get device thermostat (state, reported target-temperature, reported temperature): %s", out)

	// Deleting the device removes it, its model and the membership from the node.
	from := len(e.rec.all("edge-1"))
	e.kube.Kubectl(t, "delete", "-f", filepath.Join(samples, "thermostat.yaml"))
	e.rec.wait(t, "edge-1", from, "device delete", is("delete", devKey, ""))
	e.rec.wait(t, "edge-1", from, "membership delete", is("delete", mustKey(t, "", hub.KindMembership, "edge-1"), ""))
	e.rec.wait(t, "edge-1", from, "model delete", is("delete", mustKey(t, "default", hub.KindDeviceModel, "thermostat-model"), ""))
}
