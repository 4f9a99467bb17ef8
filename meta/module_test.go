package meta_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/meta"
)

// fakeCloud plays the edge hub: it answers the meta module's queries from objects, and gives the test
// a *beehive.Context to send from.
type fakeCloud struct {
	mu      sync.Mutex
	objects map[string][]byte // answered later, as an OpResponse message (the edge hub's way)
	direct  map[string][]byte // answered in the SendSync response itself
	asked   atomic.Int32
}

type moduleHarness struct {
	store *meta.SQLiteStore
	mod   *meta.Module
	hub   *beehive.Context
	cloud *fakeCloud
}

func startModule(t *testing.T, cfg meta.Config) *moduleHarness {
	t.Helper()
	h := &moduleHarness{store: openStore(t, cfg), cloud: &fakeCloud{objects: map[string][]byte{}, direct: map[string][]byte{}}}
	var err error
	h.mod, err = meta.NewModule(meta.ModuleConfig{Store: h.store, CloudTimeout: 2 * time.Second})
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
			for {
				m, err := c.Receive(ctx)
				if err != nil {
					return nil
				}
				if m.Router.Operation != beehive.OpQuery {
					continue
				}
				h.cloud.asked.Add(1)
				h.cloud.mu.Lock()
				v, ok := h.cloud.objects[m.Router.Resource]
				d, direct := h.cloud.direct[m.Router.Resource]
				h.cloud.mu.Unlock()
				if direct {
					_ = c.Respond(m, d)
					continue
				}
				_ = c.Respond(m, nil) // queued for the cloud; the answer follows
				ans := c.NewMessage(beehive.GroupMeta, beehive.OpResponse, m.Router.Resource, v)
				if !ok {
					ans = c.NewMessage(beehive.GroupMeta, beehive.OpError, m.Router.Resource, "cloud: not found")
				}
				ans.Header.ParentID = m.Header.ID
				_ = c.Send(ctx, meta.DefaultModuleName, ans)
			}
		}}
	for _, m := range []beehive.Module{h.mod, edgehub} {
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
	h.hub = <-ready
	return h
}

func (h *moduleHarness) sync(t *testing.T, op beehive.Operation, resource, rv string, content any) (beehive.Message, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := h.hub.NewMessage(beehive.GroupMeta, op, resource, content)
	m.Header.ResourceVersion = rv
	return h.hub.SendSync(ctx, meta.DefaultModuleName, m)
}

func (h *moduleHarness) setConnected(t *testing.T, up bool) {
	t.Helper()
	op := meta.OpCloudDisconnected
	if up {
		op = meta.OpCloudConnected
	}
	if err := h.hub.SendToGroup(context.Background(), beehive.GroupMeta, h.hub.NewMessage(beehive.GroupMeta, op, "", nil)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.mod.Connected() != up {
		if time.Now().After(deadline) {
			t.Fatal("connection state not taken")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestModuleWrites(t *testing.T) {
	h := startModule(t, meta.Config{})
	ctx := context.Background()
	key := podKey("web")
	if _, err := h.sync(t, beehive.OpInsert, key.String(), "5", pod("web", "5")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.sync(t, beehive.OpUpdate, key.String(), "7", pod("web", "7")); err != nil {
		t.Fatal(err)
	}
	// A stale update is acknowledged (the edge holds newer) and ignored.
	if _, err := h.sync(t, beehive.OpUpdate, key.String(), "6", pod("web", "6")); err != nil {
		t.Fatalf("stale update: %v", err)
	}
	// Without a header version, metadata.resourceVersion is used.
	if _, err := h.sync(t, beehive.OpUpdate, key.String(), "", string(pod("web", "4"))); err != nil {
		t.Fatal(err)
	}
	if o, err := h.store.Get(ctx, key); err != nil || o.ResourceVersion != "7" {
		t.Fatalf("after writes: %+v, %v", o, err)
	}
	// A merge patch applies to the held object.
	if _, err := h.sync(t, beehive.OpPatch, key.String(), "8", []byte(`{"metadata":{"labels":{"a":"b"},"resourceVersion":"8"},"status":{"phase":"Running"}}`)); err != nil {
		t.Fatal(err)
	}
	if o, err := h.store.Get(ctx, key); err != nil || o.ResourceVersion != "8" ||
		string(o.Value) != `{"metadata":{"labels":{"a":"b"},"name":"web","namespace":"default","resourceVersion":"8"},"status":{"phase":"Running"}}` {
		t.Fatalf("after patch: %s %+v, %v", o.Value, o, err)
	}
	if _, err := h.sync(t, beehive.OpPatch, "default/pod/absent", "1", []byte(`{}`)); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("patch of an absent object: %v", err)
	}
	if _, err := h.sync(t, beehive.OpDelete, key.String(), "8", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.Get(ctx, key); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if _, err := h.sync(t, beehive.OpDelete, key.String(), "8", nil); err != nil {
		t.Fatalf("repeated delete: %v", err)
	}
	for _, tc := range []struct {
		resource string
		content  any
		want     error
	}{
		{"default/pod/Bad", pod("x", "1"), meta.ErrBadKey},
		{"default/pod/x", []byte("{broken"), meta.ErrBadValue},
		{"default/pod/x", 42, meta.ErrBadValue},
	} {
		if _, err := h.sync(t, beehive.OpInsert, tc.resource, "1", tc.content); !errors.Is(err, tc.want) {
			t.Errorf("insert %s %v: %v, want %v", tc.resource, tc.content, err, tc.want)
		}
	}
	// A plain Send is applied too.
	if err := h.hub.Send(ctx, meta.DefaultModuleName, h.hub.NewMessage(beehive.GroupMeta, beehive.OpInsert, "default/configmap/c", pod("c", "1"))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := h.store.Get(ctx, hub.Key{Namespace: "default", Kind: hub.KindConfigMap, Name: "c"}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("plain insert not applied")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestModuleAcksAfterCommit holds the store's commit and checks that the sync write gets no response
// until the commit is released.
func TestModuleAcksAfterCommit(t *testing.T) {
	var hold atomic.Bool
	release := make(chan struct{})
	h := startModule(t, meta.Config{BeforeCommit: func(int) {
		if hold.Load() {
			<-release
		}
	}})
	hold.Store(true)
	got := make(chan error, 1)
	go func() {
		_, err := h.sync(t, beehive.OpInsert, "default/pod/a", "1", pod("a", "1"))
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("responded before the commit: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := h.store.Get(context.Background(), podKey("a")); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("object visible before the commit: %v", err)
	}
	hold.Store(false)
	close(release)
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no response after the commit")
	}
	if _, err := h.store.Get(context.Background(), podKey("a")); err != nil {
		t.Fatalf("acknowledged but not stored: %v", err)
	}
}

func TestModuleQueries(t *testing.T) {
	h := startModule(t, meta.Config{})
	for _, n := range []string{"a", "b"} {
		if _, err := h.sync(t, beehive.OpInsert, "default/pod/"+n, "1", pod(n, "1")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.sync(t, beehive.OpInsert, "/node/edge-1", "1", []byte(`{"metadata":{"name":"edge-1","labels":{"role":"edge"}}}`)); err != nil {
		t.Fatal(err)
	}
	resp, err := h.sync(t, beehive.OpQuery, "default/pod/a", "", nil)
	if err != nil || string(resp.Content.([]byte)) != string(pod("a", "1")) {
		t.Fatalf("get: %v, %v", resp.Content, err)
	}
	for _, tc := range []struct{ resource, selector, want string }{
		{"default/pod/", "", "[" + string(pod("a", "1")) + "," + string(pod("b", "1")) + "]"},
		{"/pod/", "", "[" + string(pod("a", "1")) + "," + string(pod("b", "1")) + "]"},
		{"other/pod/", "", "[]"},
		{"/node/", "role=edge", `[{"metadata":{"name":"edge-1","labels":{"role":"edge"}}}]`},
		{"/node/", "role=cloud", `[]`},
	} {
		var content any
		if tc.selector != "" {
			content = tc.selector
		}
		resp, err := h.sync(t, beehive.OpQuery, tc.resource, "", content)
		if err != nil || string(resp.Content.([]byte)) != tc.want {
			t.Errorf("list %s %q = %s, %v; want %s", tc.resource, tc.selector, resp.Content, err, tc.want)
		}
	}
	for _, bad := range []string{"default/pod", "default//", "Default/pod/", "x/node/", "default/pod/a/b"} {
		if _, err := h.sync(t, beehive.OpQuery, bad, "", nil); !errors.Is(err, meta.ErrBadQuery) {
			t.Errorf("query %q: %v, want ErrBadQuery", bad, err)
		}
	}

	// Offline: what is missing is a typed not-found, and the cloud is not asked.
	_, err = h.sync(t, beehive.OpQuery, "default/configmap/cfg", "", nil)
	if !errors.Is(err, meta.ErrNotFound) || !errors.Is(err, meta.ErrOffline) {
		t.Fatalf("offline query of a missing object: %v", err)
	}
	if n := h.cloud.asked.Load(); n != 0 {
		t.Fatalf("the cloud was asked %d times while offline", n)
	}

	// Online: the module asks the cloud and caches the answer.
	cfg := []byte(`{"metadata":{"name":"cfg","namespace":"default","resourceVersion":"42"},"data":{"k":"v"}}`)
	h.cloud.mu.Lock()
	h.cloud.objects["default/configmap/cfg"] = cfg
	h.cloud.direct["default/secret/s"] = []byte(`{"metadata":{"name":"s","resourceVersion":"43"}}`)
	h.cloud.mu.Unlock()
	h.setConnected(t, true)
	resp, err = h.sync(t, beehive.OpQuery, "default/configmap/cfg", "", nil)
	if err != nil || string(resp.Content.([]byte)) != string(cfg) {
		t.Fatalf("online query: %v, %v", resp.Content, err)
	}
	if resp, err := h.sync(t, beehive.OpQuery, "default/secret/s", "", nil); err != nil || !strings.Contains(string(resp.Content.([]byte)), `"43"`) {
		t.Fatalf("online query answered directly: %v, %v", resp.Content, err)
	}
	if _, err := h.sync(t, beehive.OpQuery, "default/configmap/nope", "", nil); !errors.Is(err, meta.ErrNotFound) || errors.Is(err, meta.ErrOffline) {
		t.Fatalf("online query of an object the cloud lacks: %v", err)
	}
	o, err := h.store.Get(context.Background(), hub.Key{Namespace: "default", Kind: hub.KindConfigMap, Name: "cfg"})
	if err != nil || o.ResourceVersion != "42" {
		t.Fatalf("cloud answer not cached: %+v, %v", o, err)
	}

	// Offline again: the cached object is served without asking.
	h.setConnected(t, false)
	asked := h.cloud.asked.Load()
	if _, err := h.sync(t, beehive.OpQuery, "default/configmap/cfg", "", nil); err != nil {
		t.Fatal(err)
	}
	if h.cloud.asked.Load() != asked {
		t.Fatal("the cloud was asked for a cached object")
	}
}

func TestModuleConfig(t *testing.T) {
	if _, err := meta.NewModule(meta.ModuleConfig{}); !errors.Is(err, meta.ErrInvalidConfig) {
		t.Fatalf("NewModule without a store: %v", err)
	}
}
