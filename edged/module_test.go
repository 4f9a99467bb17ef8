package edged_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/edged"
	"github.com/edgehive/edgehive/edged/cri"
)

// testModule runs edged as a beehive module beside a stand-in "edgehub" that sends it a ConfigMap and a
// pod, receives the pod's statuses, and deletes the pod. A second pod comes from the PodSource.
func testModule(t *testing.T, env runtimeEnv) {
	const ns = "module"
	cfg := testConfig(t, shortTempDir(t))
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cm", ResourceVersion: "7"}, Data: map[string]string{"k": "v"}}
	c := sh("main", "exec sleep 3600")
	c.Env = []corev1.EnvVar{{Name: "K", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, Key: "k"}}}}
	pod := newPod(env, ns, "from-cloud", c)
	stored := newPod(env, ns, "from-store", sh("main", "exec sleep 3600"))

	mod, err := edged.NewModule(edged.ModuleConfig{
		Runtime: cri.Config{Endpoint: env.endpoint},
		Manager: cfg,
		Source:  &edged.StaticSource{Pods: []*corev1.Pod{stored}},
	})
	if err != nil {
		t.Fatal(err)
	}
	hive, err := beehive.New(beehive.Config{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	statuses := make(chan edged.PodStatusMessage, 1000)
	hubErr := make(chan error, 1)
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
				m, err := bc.Receive(ctx)
				if err != nil {
					return nil
				}
				var st edged.PodStatusMessage
				if err := json.Unmarshal(m.Content.([]byte), &st); err != nil {
					t.Errorf("status content: %v", err)
				}
				if st.Name != "" && (m.Router.Operation != beehive.OpUpdate || m.Router.Resource != edged.ResourceKey(ns, edged.ResourcePodStatus, st.Name)) {
					t.Errorf("status message router %+v", m.Router)
				}
				statuses <- st
				if st.Name == pod.Name && st.Status.Phase == corev1.PodRunning {
					if err := send(beehive.OpDelete, edged.ResourcePod, pod.Name, nil); err != nil {
						t.Error(err)
					}
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
	if err := <-hubErr; err != nil {
		t.Fatal(err)
	}

	running := map[string]bool{}
	timeout := time.After(20 * time.Second)
	for !running[pod.Name] || !running[stored.Name] {
		select {
		case st := <-statuses:
			if st.Status.Phase == corev1.PodRunning {
				running[st.Name] = true
			}
		case <-timeout:
			t.Fatalf("running pods %v, want both", running)
		}
	}
	var rt *cri.Client
	eventually(t, 5*time.Second, "manager", func() error {
		if mod.Manager() == nil {
			return errors.New("no manager")
		}
		return nil
	})
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	rt, err = cri.Dial(dctx, cri.Config{Endpoint: env.endpoint})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	eventually(t, 15*time.Second, "deleted pod gone", func() error {
		if sb, cs := runtimeState(t, rt, pod.UID); len(sb)+len(cs) > 0 {
			return errors.New("still in the runtime")
		}
		return nil
	})
	mod.Manager().DeletePod(ns, stored.Name)
	eventually(t, 15*time.Second, "stored pod gone", func() error {
		if sb, cs := runtimeState(t, rt, stored.UID); len(sb)+len(cs) > 0 {
			return errors.New("still in the runtime")
		}
		return nil
	})
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
