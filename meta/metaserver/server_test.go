package metaserver_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/meta"
	"github.com/edgehive/edgehive/meta/metaserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type env struct {
	store *meta.SQLiteStore
	srv   *metaserver.Server
	url   string
}

// start opens a store and a server on a free loopback port; both stop at the end of the test.
func start(t testing.TB) *env { t.Helper(); return startWith(t, meta.Config{}) }

func startWith(t testing.TB, cfg meta.Config) *env {
	t.Helper()
	cfg.Path = filepath.Join(t.TempDir(), "meta.db")
	store, err := meta.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := metaserver.New(metaserver.Config{Store: store, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(context.Background()) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		_ = store.Close()
	})
	return &env{store: store, srv: srv, url: srv.URL()}
}

func (e *env) put(t testing.TB, key, rv, value string) {
	t.Helper()
	k, err := hub.ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Put(context.Background(), k, rv, []byte(value)); err != nil {
		t.Fatal(err)
	}
}

func podJSON(ns, name, node, rv string, labels map[string]string) string {
	lb, _ := json.Marshal(labels)
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"namespace":%q,"resourceVersion":%q,"labels":%s,"creationTimestamp":"2026-01-01T00:00:00Z"},`+
		`"spec":{"nodeName":%q,"containers":[{"name":"c","image":"busybox"}]},"status":{"phase":"Running","podIP":"10.0.0.5",`+
		`"containerStatuses":[{"name":"c","ready":true,"restartCount":2,"image":"busybox","imageID":"","state":{"running":{}}}]}}`, name, ns, rv, lb, node)
}

// seed stores a few objects of every kind.
func (e *env) seed(t testing.TB) {
	e.put(t, "default/pod/web-1", "100", podJSON("default", "web-1", "edge-1", "100", map[string]string{"app": "web"}))
	e.put(t, "default/pod/db-1", "101", podJSON("default", "db-1", "edge-2", "101", map[string]string{"app": "db"}))
	e.put(t, "kube-system/pod/proxy", "102", podJSON("kube-system", "proxy", "edge-1", "102", nil))
	e.put(t, "default/configmap/settings", "103", `{"metadata":{"name":"settings","namespace":"default","creationTimestamp":"2026-01-01T00:00:00Z"},"data":{"a":"1","b":"2"}}`)
	e.put(t, "default/secret/token", "104", `{"metadata":{"name":"token","namespace":"default"},"type":"Opaque","data":{"t":"eA=="}}`)
	e.put(t, "default/service/web", "105", `{"metadata":{"name":"web","namespace":"default"},"spec":{"type":"ClusterIP","clusterIP":"10.96.0.10","ports":[{"port":80,"protocol":"TCP"}]}}`)
	e.put(t, "/node/edge-1", "106", `{"metadata":{"name":"edge-1","labels":{"node-role.kubernetes.io/edge":""}},"status":{"conditions":[{"type":"Ready","status":"True"}],"nodeInfo":{"kubeletVersion":"v1.36.3-edgehive"}}}`)
	e.put(t, "default/device/thermo", "107", `{"apiVersion":"devices.kubeedge.io/v1beta1","kind":"Device","metadata":{"name":"thermo","namespace":"default"},"spec":{"deviceModelRef":{"name":"thermo-model"}}}`)
	e.put(t, "default/devicemodel/thermo-model", "108", `{"metadata":{"name":"thermo-model","namespace":"default"},"spec":{"protocol":"modbus"}}`)
}

func get(t testing.TB, url, accept string) (int, []byte) {
	t.Helper()
	return do(t, http.MethodGet, url, accept)
}

func do(t testing.TB, method, url, accept string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

type list struct {
	Kind     string `json:"kind"`
	Metadata struct {
		ResourceVersion string `json:"resourceVersion"`
	} `json:"metadata"`
	Items []struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
		Metadata   struct {
			Name, Namespace, ResourceVersion string
		} `json:"metadata"`
	} `json:"items"`
}

func names(t testing.TB, body []byte) string {
	t.Helper()
	var l list
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var out []string
	for _, it := range l.Items {
		out = append(out, it.Metadata.Namespace+"/"+it.Metadata.Name)
	}
	return strings.Join(out, " ")
}

func TestListGet(t *testing.T) {
	e := start(t)
	e.seed(t)
	for _, tc := range []struct{ path, want string }{
		{"/api/v1/pods", "default/db-1 default/web-1 kube-system/proxy"},
		{"/api/v1/namespaces/default/pods", "default/db-1 default/web-1"},
		{"/api/v1/pods?labelSelector=app%3Dweb", "default/web-1"},
		{"/api/v1/pods?labelSelector=app", "default/db-1 default/web-1"},
		{"/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1", "default/web-1 kube-system/proxy"},
		{"/api/v1/namespaces/default/pods?fieldSelector=spec.nodeName%3Dedge-1,metadata.name%21%3Dx", "default/web-1"},
		{"/api/v1/configmaps", "default/settings"},
		{"/api/v1/namespaces/default/secrets", "default/token"},
		{"/api/v1/services", "default/web"},
		{"/api/v1/nodes", "/edge-1"},
		{"/apis/devices.kubeedge.io/v1beta1/devices", "default/thermo"},
		{"/apis/devices.kubeedge.io/v1beta1/namespaces/default/devicemodels", "default/thermo-model"},
		{"/api/v1/namespaces/other/pods", ""},
	} {
		code, body := get(t, e.url+tc.path, "")
		if code != http.StatusOK {
			t.Errorf("GET %s: %d %s", tc.path, code, body)
			continue
		}
		if got := names(t, body); got != tc.want {
			t.Errorf("GET %s = %q, want %q", tc.path, got, tc.want)
		}
	}
	code, body := get(t, e.url+"/api/v1/pods", "")
	var l list
	_ = json.Unmarshal(body, &l)
	if code != 200 || l.Kind != "PodList" || l.Metadata.ResourceVersion != fmt.Sprint(e.store.Revision()) || l.Items[0].Kind != "Pod" || l.Items[0].APIVersion != "v1" {
		t.Fatalf("pod list header: %+v", l)
	}
	code, body = get(t, e.url+"/api/v1/namespaces/default/pods/web-1", "")
	var pod struct {
		Kind     string
		Metadata struct{ Name, ResourceVersion string }
		Spec     struct{ NodeName string }
	}
	if err := json.Unmarshal(body, &pod); err != nil || code != 200 || pod.Kind != "Pod" || pod.Metadata.Name != "web-1" || pod.Spec.NodeName != "edge-1" {
		t.Fatalf("get pod: %d %s", code, body)
	}
	if code, body := get(t, e.url+"/api/v1/nodes/edge-1", ""); code != 200 || !strings.Contains(string(body), `"kind":"Node"`) {
		t.Fatalf("get node: %d %s", code, body)
	}
	code, body = get(t, e.url+"/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices/thermo", "")
	if code != 200 || !strings.Contains(string(body), `"apiVersion":"devices.kubeedge.io/v1beta1"`) {
		t.Fatalf("get device: %d %s", code, body)
	}
}

func statusOf(t testing.TB, body []byte) (reason string, code int) {
	t.Helper()
	var st struct {
		Kind   string
		Reason string
		Code   int
	}
	if err := json.Unmarshal(body, &st); err != nil || st.Kind != "Status" {
		t.Fatalf("not a Status: %s", body)
	}
	return st.Reason, st.Code
}

func TestErrors(t *testing.T) {
	e := start(t)
	e.seed(t)
	for _, tc := range []struct {
		method, path string
		code         int
		reason       string
	}{
		{"GET", "/api/v1/namespaces/default/pods/missing", 404, "NotFound"},
		{"GET", "/api/v1/namespaces/default/pods/web-1/status", 404, "NotFound"},
		{"GET", "/api/v1/widgets", 404, "NotFound"},
		{"GET", "/nope", 404, "NotFound"},
		{"GET", "/openapi/v2", 404, "NotFound"},
		{"GET", "/api/v1/namespaces/default/nodes", 404, "NotFound"},
		{"GET", "/api/v1/pods?labelSelector=%3D%3D%3D", 400, "BadRequest"},
		{"GET", "/api/v1/pods?fieldSelector=spec.schedulerName%3Dx", 400, "BadRequest"},
		{"GET", "/api/v1/configmaps?fieldSelector=spec.nodeName%3Dx", 400, "BadRequest"},
		{"GET", "/api/v1/pods?watch=true&resourceVersion=abc", 400, "BadRequest"},
		{"POST", "/api/v1/namespaces/default/pods", 405, "MethodNotAllowed"},
		{"PUT", "/api/v1/namespaces/default/pods/web-1", 405, "MethodNotAllowed"},
		{"PATCH", "/api/v1/namespaces/default/pods/web-1", 405, "MethodNotAllowed"},
		{"DELETE", "/api/v1/namespaces/default/pods/web-1", 405, "MethodNotAllowed"},
	} {
		code, body := do(t, tc.method, e.url+tc.path, "")
		reason, scode := statusOf(t, body)
		if code != tc.code || scode != tc.code || reason != tc.reason {
			t.Errorf("%s %s = %d %s (%d), want %d %s", tc.method, tc.path, code, reason, scode, tc.code, tc.reason)
		}
	}
	if _, err := e.store.Get(context.Background(), hub.Key{Namespace: "default", Kind: hub.KindPod, Name: "web-1"}); err != nil {
		t.Fatalf("a refused DELETE changed the store: %v", err)
	}
}

func TestDiscovery(t *testing.T) {
	e := start(t)
	for _, tc := range []struct{ path, want string }{
		{"/api", `"versions":["v1"]`},
		{"/api/v1", `"name":"pods"`},
		{"/api/v1", `"shortNames":["cm"]`},
		{"/apis", `"name":"devices.kubeedge.io"`},
		{"/apis/devices.kubeedge.io", `"kind":"APIGroup"`},
		{"/apis/devices.kubeedge.io/v1beta1", `"name":"devicemodels"`},
		{"/version", `"gitVersion":"v1.36.3-edgehive"`},
	} {
		code, body := get(t, e.url+tc.path, "")
		if code != 200 || !strings.Contains(string(body), tc.want) {
			t.Errorf("GET %s = %d %s; want it to contain %s", tc.path, code, body, tc.want)
		}
	}
}

func TestTable(t *testing.T) {
	e := start(t)
	e.seed(t)
	const accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
	code, body := get(t, e.url+"/api/v1/pods", accept)
	var tab struct {
		Kind              string
		ColumnDefinitions []struct{ Name string }
		Rows              []struct {
			Cells  []any
			Object struct {
				Kind     string
				Metadata struct{ Namespace string }
			}
		}
	}
	if err := json.Unmarshal(body, &tab); err != nil || code != 200 || tab.Kind != "Table" || len(tab.Rows) != 3 {
		t.Fatalf("pod table: %d %s", code, body)
	}
	if got := fmt.Sprint(tab.Rows[1].Cells[:4]); got != "[web-1 1/1 Running 2]" {
		t.Errorf("pod row cells %s", got)
	}
	if tab.Rows[2].Object.Kind != "PartialObjectMetadata" || tab.Rows[2].Object.Metadata.Namespace != "kube-system" {
		t.Errorf("row object %+v", tab.Rows[2].Object)
	}
	code, body = get(t, e.url+"/api/v1/nodes/edge-1", accept)
	if code != 200 || !strings.Contains(string(body), `"cells":["edge-1","Ready","edge"`) {
		t.Errorf("node table: %d %s", code, body)
	}
}

// watchLines opens a watch and returns a channel of its lines.
func watchLines(t testing.TB, ctx context.Context, url string) (<-chan string, int) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 100)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch, resp.StatusCode
}

func nextLine(t testing.TB, ch <-chan string) (typ, name string) {
	t.Helper()
	select {
	case l, ok := <-ch:
		if !ok {
			t.Fatal("watch ended")
		}
		var ev struct {
			Type   string
			Object struct{ Metadata struct{ Name string } }
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("event %q: %v", l, err)
		}
		return ev.Type, ev.Object.Metadata.Name
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event in 10s")
	}
	return
}

func TestWatch(t *testing.T) {
	e := start(t)
	e.seed(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// From "now" with initial events, filtered by node.
	ch, code := watchLines(t, ctx, e.url+"/api/v1/pods?watch=true&fieldSelector=spec.nodeName%3Dedge-1")
	if code != 200 {
		t.Fatalf("watch: %d", code)
	}
	for _, want := range []string{"web-1", "proxy"} {
		if typ, name := nextLine(t, ch); typ != "ADDED" || name != want {
			t.Fatalf("initial event %s %s, want ADDED %s", typ, name, want)
		}
	}
	rev := e.store.Revision()
	e.put(t, "default/pod/db-1", "200", podJSON("default", "db-1", "edge-2", "200", nil)) // other node
	e.put(t, "default/configmap/settings", "201", `{"metadata":{"name":"settings"}}`)     // other kind
	e.put(t, "default/pod/web-1", "202", podJSON("default", "web-1", "edge-1", "202", nil))
	if _, err := e.store.Delete(context.Background(), hub.Key{Namespace: "kube-system", Kind: hub.KindPod, Name: "proxy"}, ""); err != nil {
		t.Fatal(err)
	}
	if typ, name := nextLine(t, ch); typ != "MODIFIED" || name != "web-1" {
		t.Fatalf("event %s %s, want MODIFIED web-1", typ, name)
	}
	if typ, name := nextLine(t, ch); typ != "DELETED" || name != "proxy" {
		t.Fatalf("event %s %s, want DELETED proxy", typ, name)
	}
	// From a revision: the changes after it are replayed.
	ch2, _ := watchLines(t, ctx, fmt.Sprintf("%s/api/v1/namespaces/default/pods?watch=1&resourceVersion=%d", e.url, rev))
	for _, want := range []string{"MODIFIED db-1", "MODIFIED web-1"} {
		if typ, name := nextLine(t, ch2); typ+" "+name != want {
			t.Fatalf("replayed %s %s, want %s", typ, name, want)
		}
	}
	// timeoutSeconds ends the watch.
	ch3, _ := watchLines(t, ctx, e.url+"/api/v1/nodes?watch=true&timeoutSeconds=1")
	if typ, _ := nextLine(t, ch3); typ != "ADDED" {
		t.Fatalf("node watch: %s", typ)
	}
	select {
	case _, ok := <-ch3:
		if ok {
			t.Fatal("unexpected event")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("timeoutSeconds=1 did not end the watch")
	}
}

func TestWatchExpired(t *testing.T) {
	e := startWith(t, meta.Config{WatchHistory: 2})
	e.seed(t)
	// A revision from before the store's history: 410 Expired.
	code, body := get(t, e.url+"/api/v1/pods?watch=true&resourceVersion=1", "")
	if reason, _ := statusOf(t, body); code != http.StatusGone || reason != "Expired" {
		t.Fatalf("watch from a compacted revision: %d %s", code, body)
	}
}

func TestWatchListBookmark(t *testing.T) {
	e := start(t)
	e.seed(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, _ := watchLines(t, ctx, e.url+"/api/v1/configmaps?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan")
	if typ, name := nextLine(t, ch); typ != "ADDED" || name != "settings" {
		t.Fatalf("initial event %s %s", typ, name)
	}
	select {
	case l := <-ch:
		if !strings.Contains(l, `"type":"BOOKMARK"`) || !strings.Contains(l, `"k8s.io/initial-events-end":"true"`) {
			t.Fatalf("want the initial-events-end bookmark, got %s", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no bookmark")
	}
}

// TestCloseEndsWatches checks that Close ends open watches promptly.
func TestCloseEndsWatches(t *testing.T) {
	e := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, _ := watchLines(t, ctx, e.url+"/api/v1/pods?watch=true")
	time.Sleep(50 * time.Millisecond)
	begin := time.Now()
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	for range ch {
	}
	if d := time.Since(begin); d > 3*time.Second {
		t.Fatalf("Close took %v with a watch open", d)
	}
}

func TestConfig(t *testing.T) {
	store, err := meta.Open(context.Background(), meta.Config{Path: filepath.Join(t.TempDir(), "m.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, c := range []metaserver.Config{
		{},
		{Store: store, Addr: "0.0.0.0:10550"},
		{Store: store, Addr: "10.1.2.3:1"},
		{Store: store, Addr: "nonsense"},
		{Store: store, MaxWatchTimeout: -1},
	} {
		if _, err := metaserver.New(c); !errors.Is(err, metaserver.ErrInvalidConfig) {
			t.Errorf("New(%+v) = %v", c, err)
		}
	}
}
