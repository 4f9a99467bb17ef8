package controller

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/edgehive/edgehive/controller/api"
	"github.com/edgehive/edgehive/hub"
)

func TestPodReferences(t *testing.T) {
	ref := func(n string) corev1.LocalObjectReference { return corev1.LocalObjectReference{Name: n} }
	tests := []struct {
		name string
		spec corev1.PodSpec
		want References
	}{
		{"none", corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}}, References{}},
		{"volumes", corev1.PodSpec{Volumes: []corev1.Volume{
			{Name: "c", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: ref("cm-v")}}},
			{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec-v"}}},
			{Name: "p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: ref("cm-p")}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: ref("sec-p")}},
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
			}}}},
			{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		}}, References{ConfigMaps: []string{"cm-p", "cm-v"}, Secrets: []string{"sec-p", "sec-v"}}},
		{"env of every container kind, deduplicated", corev1.PodSpec{
			InitContainers: []corev1.Container{{Env: []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{
				ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: ref("cm-i"), Key: "k"}}}}}},
			Containers: []corev1.Container{{
				Env: []corev1.EnvVar{{Name: "B", Value: "plain"}, {Name: "C", ValueFrom: &corev1.EnvVarSource{
					SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: ref("sec-e"), Key: "k"}}}},
				EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: ref("cm-i")}},
					{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: ref("sec-f")}}},
			}},
			EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: ref("cm-x")}}}}}},
			ImagePullSecrets: []corev1.LocalObjectReference{ref("pull")},
		}, References{ConfigMaps: []string{"cm-i", "cm-x"}, Secrets: []string{"pull", "sec-e", "sec-f"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PodReferences(&corev1.Pod{Spec: tt.spec})
			if !slices.Equal(got.ConfigMaps, tt.want.ConfigMaps) || !slices.Equal(got.Secrets, tt.want.Secrets) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestOrder(t *testing.T) {
	k := func(ns string, kind hub.Kind, name string) hub.Key {
		return hub.Key{Namespace: ns, Kind: kind, Name: name}
	}
	in := []hub.Change{
		{Op: hub.OpDelete, Key: k("a", hub.KindConfigMap, "old")},
		{Op: hub.OpDelete, Key: k("a", hub.KindPod, "old")},
		{Op: hub.OpInsert, Key: k("a", hub.KindPod, "p")},
		{Op: hub.OpInsert, Key: k("a", hub.KindSecret, "s")},
		{Op: hub.OpUpdate, Key: k("", hub.KindMembership, "n")},
		{Op: hub.OpUpdate, Key: k("", hub.KindNode, "n")},
		{Op: hub.OpInsert, Key: k("b", hub.KindConfigMap, "c")},
	}
	var got []string
	for _, c := range order(in) {
		got = append(got, string(c.Op)+" "+c.Key.String())
	}
	want := []string{
		"update /node/n", "insert a/secret/s", "insert b/configmap/c", "insert a/pod/p", "update /membership/n",
		"delete a/pod/old", "delete a/configmap/old",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("order:\n got %q\nwant %q", got, want)
	}
}

func TestMergePodStatus(t *testing.T) {
	start := metav1.NewTime(time.Unix(100, 0))
	current := corev1.PodStatus{
		Phase:      corev1.PodPending,
		QOSClass:   corev1.PodQOSBestEffort,
		StartTime:  &start,
		Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}, {Type: corev1.PodReady, Status: corev1.ConditionFalse}},
	}
	reported := corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	got := MergePodStatus(current, reported)
	if got.Phase != corev1.PodRunning || got.QOSClass != corev1.PodQOSBestEffort || got.StartTime == nil || !got.StartTime.Equal(&start) {
		t.Fatalf("merged: %+v", got)
	}
	if len(got.Conditions) != 2 || got.Conditions[0].Type != corev1.PodReady || got.Conditions[0].Status != corev1.ConditionTrue ||
		got.Conditions[1].Type != corev1.PodScheduled {
		t.Fatalf("conditions: %+v", got.Conditions)
	}
	if len(reported.Conditions) != 1 {
		t.Fatal("MergePodStatus modified its input")
	}
}

func TestMergeNodeStatus(t *testing.T) {
	t0 := metav1.NewTime(time.Unix(1000, 0))
	now := time.Unix(2000, 0)
	current := corev1.NodeStatus{
		Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastTransitionTime: t0, LastHeartbeatTime: t0},
			{Type: "Custom", Status: corev1.ConditionFalse},
		},
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.1"}},
	}
	tests := []struct {
		name           string
		reported       corev1.NodeStatus
		wantTransition time.Time
		wantAddress    string
	}{
		{"same status keeps transition time", corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}, t0.Time, "192.0.2.1"},
		{"new status transitions now", corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse}},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.2"}}}, now, "192.0.2.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MergeNodeStatus(current, tt.reported, now)
			if len(got.Conditions) != 2 || got.Conditions[1].Type != "Custom" {
				t.Fatalf("conditions: %+v", got.Conditions)
			}
			ready := got.Conditions[0]
			if !ready.LastHeartbeatTime.Time.Equal(now) || !ready.LastTransitionTime.Time.Equal(tt.wantTransition) {
				t.Fatalf("ready: heartbeat %v transition %v", ready.LastHeartbeatTime, ready.LastTransitionTime)
			}
			if got.Addresses[0].Address != tt.wantAddress {
				t.Fatalf("addresses: %v", got.Addresses)
			}
			if !current.Conditions[0].LastHeartbeatTime.Equal(&t0) {
				t.Fatal("MergeNodeStatus modified its input")
			}
		})
	}
}

func TestMergeDeviceStatus(t *testing.T) {
	d := &unstructured.Unstructured{Object: map[string]any{
		"status": map[string]any{
			"reportToCloud": true,
			"twins": []any{
				map[string]any{"propertyName": "a", "reported": map[string]any{"value": "1"}},
				map[string]any{"propertyName": "b", "reported": map[string]any{"value": "2"}},
			},
		},
	}}
	err := MergeDeviceStatus(d, api.DeviceStatus{State: "online", Twins: []api.Twin{
		{PropertyName: "b", Reported: api.TwinProperty{Value: "3"}, ObservedDesired: api.TwinProperty{Value: "4"}},
		{PropertyName: "c", Reported: api.TwinProperty{Value: "5", Metadata: map[string]string{"type": "int"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	twins, _, _ := unstructured.NestedSlice(d.Object, "status", "twins")
	var got []string
	for _, tw := range twins {
		m := tw.(map[string]any)
		v, _, _ := unstructured.NestedString(m, "reported", "value")
		got = append(got, m["propertyName"].(string)+"="+v)
	}
	if !slices.Equal(got, []string{"a=1", "b=3", "c=5"}) {
		t.Fatalf("twins: %v", got)
	}
	if s, _, _ := unstructured.NestedString(d.Object, "status", "state"); s != "online" {
		t.Fatalf("state %q", s)
	}
	if r, _, _ := unstructured.NestedBool(d.Object, "status", "reportToCloud"); !r {
		t.Fatal("other status fields lost")
	}
	// The result must survive a deep copy (unstructured values must be JSON types).
	_ = d.DeepCopy()
}

func TestConfigValidate(t *testing.T) {
	client := fake.NewClientset()
	down := DownstreamFunc(func(_ context.Context, _ hub.NodeName, _ hub.Change) error { return nil })
	good := Config{Client: client, Downstream: down}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Config{
		"no client":        {Downstream: down},
		"no downstream":    {Client: client},
		"negative workers": {Client: client, Downstream: down, Workers: -1},
		"fractional lease": {Client: client, Downstream: down, LeaseDuration: 1500 * time.Millisecond},
		"retry inverted":   {Client: client, Downstream: down, RetryInitial: time.Minute, RetryMax: time.Second},
		"bad edge label":   {Client: client, Downstream: down, EdgeLabel: "not a label!"},
	} {
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v, want ErrInvalidConfig", name, err)
		}
		if _, err := New(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: New = %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestNodeResource(t *testing.T) {
	for _, key := range []hub.Key{
		{Kind: hub.KindNode, Name: "edge-1"},
		{Namespace: "default", Kind: hub.KindPodStatus, Name: "app"},
		{Namespace: hub.NodeLeaseNamespace, Kind: hub.KindLease, Name: "edge-1"},
	} {
		s := NodeResource("edge-1", key)
		node, got, err := ParseNodeResource(s)
		if err != nil || node != "edge-1" || got != key {
			t.Errorf("ParseNodeResource(%q) = %s %v %v", s, node, got, err)
		}
	}
	if s := NodeResource("edge-1", hub.Key{Kind: hub.KindNode, Name: "edge-1"}); s != "node/edge-1//node/edge-1" {
		t.Errorf("NodeResource = %q", s)
	}
	for _, bad := range []string{"", "edge-1//node/edge-1", "node/edge-1", "node/Edge/default/pod/a", "node/edge-1/default/pod", "node/edge-1/"} {
		if _, _, err := ParseNodeResource(bad); !errors.Is(err, ErrBadResource) {
			t.Errorf("ParseNodeResource(%q) = %v, want ErrBadResource", bad, err)
		}
	}
}
