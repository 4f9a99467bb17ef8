package controller

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
)

// testModule runs a second controller as a beehive module next to a stand-in for the cloud hub, and
// checks the message shapes both ways.
func testModule(t *testing.T, e *kubeEnv) {
	down := NewHiveDownstream("")
	ctl, err := New(Config{Client: e.cs, Dynamic: e.dyn, SkipCRDInstall: true, Downstream: down, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := down.Send(t.Context(), "edge-2", hub.Change{Op: hub.OpInsert, Key: hub.NodeName("edge-2").Key()}); !errors.Is(err, ErrNotAttached) {
		t.Fatalf("Send before the module runs: %v, want ErrNotAttached", err)
	}
	hive, err := beehive.New(beehive.Config{})
	if err != nil {
		t.Fatal(err)
	}
	handles := make(chan *beehive.Context, 1)
	received := make(chan beehive.Message, 1024)
	hubMod := &beehive.ModuleFunc{ModuleName: DefaultHubModule, ModuleGroup: beehive.GroupHub, Fn: func(ctx context.Context, c *beehive.Context) error {
		handles <- c
		for {
			m, err := c.Receive(ctx)
			if err != nil {
				return nil
			}
			received <- m
		}
	}}
	for _, m := range []beehive.Module{hubMod, NewModule(ctl, down, 0)} {
		if err := hive.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	hiveDone := make(chan error, 1)
	go func() { hiveDone <- hive.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-hiveDone:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("hive.Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("hive did not stop")
		}
	}()
	c := <-handles

	// Downstream: edge-2's Node arrives as "node/edge-2//node/edge-2" with its version and JSON.
	want := NodeResource("edge-2", hub.NodeName("edge-2").Key())
	deadline := time.After(waitTimeout)
	for found := false; !found; {
		select {
		case m := <-received:
			if m.Router.Resource != want {
				continue
			}
			found = true
			b, ok := m.Content.([]byte)
			var n corev1.Node
			if m.Router.Operation != beehive.OpInsert || m.Header.ResourceVersion == "" || !ok || json.Unmarshal(b, &n) != nil ||
				n.Name != "edge-2" || n.ResourceVersion != m.Header.ResourceVersion || m.Router.Source != ModuleName {
				t.Fatalf("downstream message: %+v %+v (content %T)", m.Header, m.Router, m.Content)
			}
		case <-deadline:
			t.Fatalf("no %s message within %v", want, waitTimeout)
		}
	}

	// Upstream: a sync node status report is applied before the answer.
	st, _ := json.Marshal(corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "EdgeReady"}}})
	eventually(t, "node status through the module", func() error {
		// Until the module's controller has synced, the pod and device bindings are empty, but a node's own
		// status needs none: only the module must be running.
		req := c.NewMessage(ModuleGroup, beehive.OpUpdate, NodeResource("edge-2", hub.NodeName("edge-2").StatusKey()), st)
		_, err := c.SendSync(t.Context(), ModuleName, req)
		return err
	})
	n, err := e.cs.CoreV1().Nodes().Get(t.Context(), "edge-2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Status.Conditions) == 0 || n.Status.Conditions[0].Type != corev1.NodeReady || n.Status.Conditions[0].Status != corev1.ConditionTrue {
		t.Fatalf("edge-2 status after the module applied it: %+v", n.Status.Conditions)
	}
	// A report of another node's object is refused, and the answer says so.
	req := c.NewMessage(ModuleGroup, beehive.OpUpdate, NodeResource("edge-2", hub.NodeName("edge-1").StatusKey()), st)
	if _, err = c.SendSync(t.Context(), ModuleName, req); !errors.Is(err, hub.ErrForbidden) || !Final(err) {
		t.Fatalf("edge-2 writing edge-1's status through the module: %v, want a final ErrForbidden", err)
	}
	req = c.NewMessage(ModuleGroup, beehive.OpUpdate, "edge-2/nodestatus", st)
	if _, err = c.SendSync(t.Context(), ModuleName, req); !errors.Is(err, ErrBadResource) {
		t.Fatalf("malformed resource: %v, want ErrBadResource", err)
	}
}
