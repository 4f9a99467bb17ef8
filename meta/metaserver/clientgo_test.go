package metaserver_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/meta"
)

// startHive runs a hive with the meta module on e's store and a stand-in edge hub, and returns the
// stand-in's context to send from.
func startHive(t *testing.T, e *env) *beehive.Context {
	t.Helper()
	mod, err := meta.NewModule(meta.ModuleConfig{Store: e.store})
	if err != nil {
		t.Fatal(err)
	}
	hive, err := beehive.New(beehive.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan *beehive.Context, 1)
	edgehub := &beehive.ModuleFunc{ModuleName: meta.DefaultHubModule, ModuleGroup: beehive.GroupHub,
		Fn: func(ctx context.Context, c *beehive.Context) error {
			ready <- c
			<-ctx.Done()
			return nil
		}}
	for _, m := range []beehive.Module{mod, edgehub} {
		if err := hive.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hive.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hive: %v", err)
		}
	})
	return <-ready
}

// sendUpdate sends a pod update to the meta module as the edge hub does, and waits for its commit.
func sendUpdate(t *testing.T, hub *beehive.Context, key, rv string, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := hub.NewMessage(beehive.GroupMeta, beehive.OpUpdate, key, []byte(value))
	m.Header.ResourceVersion = rv
	if _, err := hub.SendSync(ctx, meta.DefaultModuleName, m); err != nil {
		t.Fatal(err)
	}
}

func clientset(t *testing.T, e *env) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: e.url, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestClientGoListWatch(t *testing.T) {
	e := start(t)
	e.seed(t)
	hub := startHive(t, e)
	cs := clientset(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 3 || pods.Items[1].Name != "web-1" || pods.Items[1].Spec.NodeName != "edge-1" || pods.ResourceVersion == "" {
		t.Fatalf("pods: %+v", pods)
	}
	onNode, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=edge-2"})
	if err != nil || len(onNode.Items) != 1 || onNode.Items[0].Name != "db-1" {
		t.Fatalf("pods on edge-2: %v, %v", onNode, err)
	}
	pod, err := cs.CoreV1().Pods("default").Get(ctx, "web-1", metav1.GetOptions{})
	if err != nil || pod.Status.Phase != corev1.PodRunning {
		t.Fatalf("get: %v, %v", pod, err)
	}
	if err := cs.CoreV1().Pods("default").Delete(ctx, "web-1", metav1.DeleteOptions{}); err == nil {
		t.Fatal("delete through the read-only server succeeded")
	}
	node, err := cs.CoreV1().Nodes().Get(ctx, "edge-1", metav1.GetOptions{})
	if err != nil || node.Status.NodeInfo.KubeletVersion != "v1.36.3-edgehive" {
		t.Fatalf("node: %v, %v", node, err)
	}

	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{ResourceVersion: pods.ResourceVersion, LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	sendUpdate(t, hub, "default/pod/web-1", "300", podJSON("default", "web-1", "edge-1", "300", map[string]string{"app": "web", "v": "2"}))
	select {
	case ev := <-w.ResultChan():
		p, ok := ev.Object.(*corev1.Pod)
		if ev.Type != watch.Modified || !ok || p.Name != "web-1" || p.Labels["v"] != "2" {
			t.Fatalf("watch event %s %#v", ev.Type, ev.Object)
		}
	case <-ctx.Done():
		t.Fatal("no watch event")
	}
}

// TestClientGoInformer runs a shared informer (client-go's reflector: list+watch, or the streaming
// watch list) against the server and sees an update applied by the meta module.
func TestClientGoInformer(t *testing.T) {
	e := start(t)
	e.seed(t)
	hub := startHive(t, e)
	cs := clientset(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := informers.NewSharedInformerFactory(cs, 0)
	inf := f.Core().V1().Pods().Informer()
	updated := make(chan string, 10)
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{UpdateFunc: func(_, n any) {
		updated <- n.(*corev1.Pod).Labels["v"]
	}}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer func() { close(stop); f.Shutdown() }()
	f.Start(stop)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("informer did not sync")
	}
	if n := len(inf.GetStore().List()); n != 3 {
		t.Fatalf("informer holds %d pods, want 3", n)
	}
	sendUpdate(t, hub, "default/pod/db-1", "400", podJSON("default", "db-1", "edge-2", "400", map[string]string{"v": "3"}))
	select {
	case v := <-updated:
		if v != "3" {
			t.Fatalf("update with label v=%q", v)
		}
	case <-ctx.Done():
		t.Fatal("informer saw no update")
	}
}
