package metatest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/meta"
)

// RunStoreConformance runs the behaviour every meta.Store must have against stores made by open, one fresh
// (empty) store per subtest, configured with the defaults. The suite closes each store itself.
func RunStoreConformance(t *testing.T, open func(t *testing.T) meta.Store) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, meta.Store)
	}{
		{"PutGet", confPutGet},
		{"Versions", confVersions},
		{"Delete", confDelete},
		{"BadInput", confBadInput},
		{"List", confList},
		{"Watch", confWatch},
		{"WatchSince", confWatchSince},
		{"Digest", confDigest},
		{"Concurrent", confConcurrent},
		{"Close", confClose},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			defer s.Close()
			tc.fn(t, s)
		})
	}
}

func confKey(t *testing.T, s string) hub.Key {
	t.Helper()
	k, err := hub.ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func confObj(name string, lbl map[string]string, rv string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"metadata":{"name":%q,"resourceVersion":%q`, name, rv)
	if len(lbl) > 0 {
		b.WriteString(`,"labels":{`)
		i := 0
		for k, v := range lbl {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q:%q", k, v)
			i++
		}
		b.WriteByte('}')
	}
	b.WriteString(`}}`)
	return []byte(b.String())
}

func mustPut(t *testing.T, s meta.Store, key, rv string, value []byte) int64 {
	t.Helper()
	rev, err := s.Put(context.Background(), confKey(t, key), rv, value)
	if err != nil {
		t.Fatalf("Put %s@%s: %v", key, rv, err)
	}
	return rev
}

func confPutGet(t *testing.T, s meta.Store) {
	ctx := context.Background()
	if _, err := s.Get(ctx, confKey(t, "default/pod/a")); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("Get of a missing key: %v, want meta.ErrNotFound", err)
	}
	r1 := mustPut(t, s, "default/pod/a", "5", confObj("a", nil, "5"))
	r2 := mustPut(t, s, "/node/edge-1", "7", confObj("edge-1", nil, "7"))
	if r1 < 1 || r2 <= r1 {
		t.Fatalf("revisions %d, %d: want 1 ≤ r1 < r2", r1, r2)
	}
	o, err := s.Get(ctx, confKey(t, "default/pod/a"))
	if err != nil || o.ResourceVersion != "5" || o.Revision != r1 || string(o.Value) != string(confObj("a", nil, "5")) {
		t.Fatalf("Get = %+v, %v", o, err)
	}
	if o, err := s.Get(ctx, confKey(t, "/node/edge-1")); err != nil || o.Key.Namespace != "" || o.Revision != r2 {
		t.Fatalf("Get node = %+v, %v", o, err)
	}
}

func confVersions(t *testing.T, s meta.Store) {
	ctx := context.Background()
	k := confKey(t, "default/configmap/c")
	r9 := mustPut(t, s, k.String(), "9", confObj("c", nil, "9"))
	r10 := mustPut(t, s, k.String(), "10", confObj("c", nil, "10")) // numerically newer, lexically older
	if r10 <= r9 {
		t.Fatalf("revision %d after %d", r10, r9)
	}
	if _, err := s.Put(ctx, k, "9", confObj("c", nil, "9")); !errors.Is(err, meta.ErrStale) {
		t.Fatalf("Put of an older version: %v, want meta.ErrStale", err)
	}
	if rev, err := s.Put(ctx, k, "10", confObj("c", nil, "10")); err != nil || rev != r10 {
		t.Fatalf("Put of the same version = %d, %v; want no-op at %d", rev, err, r10)
	}
	if o, _ := s.Get(ctx, k); o.ResourceVersion != "10" || o.Revision != r10 {
		t.Fatalf("after stale and repeated writes: %+v", o)
	}
	// Non-numeric versions: any difference is newer.
	mustPut(t, s, k.String(), "abc", confObj("c", nil, "abc"))
	mustPut(t, s, k.String(), "9", confObj("c", nil, "9"))
	if o, _ := s.Get(ctx, k); o.ResourceVersion != "9" {
		t.Fatalf("after non-numeric versions: %+v", o)
	}
}

func confDelete(t *testing.T, s meta.Store) {
	ctx := context.Background()
	k := confKey(t, "default/secret/s")
	if _, err := s.Delete(ctx, k, ""); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	r := mustPut(t, s, k.String(), "20", confObj("s", nil, "20"))
	if _, err := s.Delete(ctx, k, "19"); !errors.Is(err, meta.ErrStale) {
		t.Fatalf("Delete of an older version: %v, want meta.ErrStale", err)
	}
	rd, err := s.Delete(ctx, k, "20")
	if err != nil || rd <= r {
		t.Fatalf("Delete = %d, %v", rd, err)
	}
	if _, err := s.Get(ctx, k); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
	mustPut(t, s, k.String(), "21", confObj("s", nil, "21"))
	if _, err := s.Delete(ctx, k, ""); err != nil {
		t.Fatalf("unconditional Delete: %v", err)
	}
}

func confBadInput(t *testing.T, s meta.Store) {
	ctx := context.Background()
	mustPut(t, s, "default/pod/keep", "1", confObj("keep", nil, "1"))
	before, err := s.List(ctx, meta.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	good := confKey(t, "default/pod/x")
	huge := make([]byte, meta.DefaultMaxValueBytes+1)
	copy(huge, `{"a":"`)
	for i := 6; i < len(huge)-2; i++ {
		huge[i] = 'x'
	}
	copy(huge[len(huge)-2:], `"}`)
	for _, tc := range []struct {
		name  string
		key   hub.Key
		value []byte
		want  error
	}{
		{"zero key", hub.Key{}, confObj("x", nil, "1"), meta.ErrBadKey},
		{"bad name", hub.Key{Namespace: "default", Kind: hub.KindPod, Name: "Bad_Name"}, confObj("x", nil, "1"), meta.ErrBadKey},
		{"namespaced kind without namespace", hub.Key{Kind: hub.KindPod, Name: "x"}, confObj("x", nil, "1"), meta.ErrBadKey},
		{"unknown kind", hub.Key{Namespace: "default", Kind: "gizmo", Name: "x"}, confObj("x", nil, "1"), meta.ErrBadKey},
		{"broken JSON", good, []byte(`{"metadata":`), meta.ErrBadValue},
		{"not an object", good, []byte(`[1,2]`), meta.ErrBadValue},
		{"empty", good, nil, meta.ErrBadValue},
		{"too large", good, huge, meta.ErrTooLarge},
	} {
		if _, err := s.Put(ctx, tc.key, "1", tc.value); !errors.Is(err, tc.want) {
			t.Errorf("%s: Put = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := s.Delete(ctx, hub.Key{Namespace: "x", Kind: "pod"}, ""); !errors.Is(err, meta.ErrBadKey) {
		t.Errorf("Delete of a bad key: %v", err)
	}
	if _, err := s.Get(ctx, hub.Key{Namespace: "-", Kind: "pod", Name: "x"}); !errors.Is(err, meta.ErrBadKey) {
		t.Errorf("Get of a bad key: %v", err)
	}
	after, err := s.List(ctx, meta.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Items) != len(before.Items) || after.Revision != before.Revision {
		t.Fatalf("bad input changed the store: %d items at %d, then %d at %d", len(before.Items), before.Revision, len(after.Items), after.Revision)
	}
}

func confList(t *testing.T, s meta.Store) {
	ctx := context.Background()
	mustPut(t, s, "default/pod/web-1", "1", confObj("web-1", map[string]string{"app": "web"}, "1"))
	mustPut(t, s, "default/pod/db-1", "2", confObj("db-1", map[string]string{"app": "db"}, "2"))
	mustPut(t, s, "kube-system/pod/web-2", "3", confObj("web-2", map[string]string{"app": "web"}, "3"))
	last := mustPut(t, s, "default/configmap/web", "4", confObj("web", map[string]string{"app": "web"}, "4"))
	names := func(opts meta.ListOptions) string {
		t.Helper()
		res, err := s.List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if res.Revision < last {
			t.Fatalf("List revision %d < last write %d", res.Revision, last)
		}
		var out []string
		for _, o := range res.Items {
			out = append(out, o.Key.String())
		}
		return strings.Join(out, " ")
	}
	sel, err := labels.Parse("app=web")
	if err != nil {
		t.Fatal(err)
	}
	notDB, _ := labels.Parse("app!=db")
	for _, tc := range []struct {
		opts meta.ListOptions
		want string
	}{
		{meta.ListOptions{Kind: hub.KindPod}, "default/pod/db-1 default/pod/web-1 kube-system/pod/web-2"},
		{meta.ListOptions{Kind: hub.KindPod, Namespace: "default"}, "default/pod/db-1 default/pod/web-1"},
		{meta.ListOptions{Namespace: "default"}, "default/pod/db-1 default/configmap/web default/pod/web-1"},
		{meta.ListOptions{Kind: hub.KindPod, Selector: sel}, "default/pod/web-1 kube-system/pod/web-2"},
		{meta.ListOptions{Kind: hub.KindPod, Namespace: "default", Selector: notDB}, "default/pod/web-1"},
		{meta.ListOptions{Kind: hub.KindSecret}, ""},
	} {
		if got := names(tc.opts); got != tc.want {
			t.Errorf("List(%+v) = %q, want %q", tc.opts, got, tc.want)
		}
	}
}

func nextEvent(t *testing.T, w *meta.Watcher) meta.Event {
	t.Helper()
	select {
	case ev, ok := <-w.Events():
		if !ok {
			t.Fatalf("watch ended: %v", w.Err())
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event in 10s")
	}
	return meta.Event{}
}

func confWatch(t *testing.T, s meta.Store) {
	ctx := context.Background()
	w, err := s.Watch(ctx, meta.WatchOptions{Kind: hub.KindPod, Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	mustPut(t, s, "other/pod/p", "1", confObj("p", nil, "1"))         // other namespace
	mustPut(t, s, "default/configmap/p", "1", confObj("p", nil, "1")) // other kind
	r1 := mustPut(t, s, "default/pod/p", "1", confObj("p", nil, "1"))
	r2 := mustPut(t, s, "default/pod/p", "2", confObj("p", nil, "2"))
	if _, err := s.Put(ctx, confKey(t, "default/pod/p"), "1", confObj("p", nil, "1")); !errors.Is(err, meta.ErrStale) {
		t.Fatal(err)
	}
	r3, err := s.Delete(ctx, confKey(t, "default/pod/p"), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		typ meta.EventType
		rv  string
		rev int64
	}{{meta.Added, "1", r1}, {meta.Modified, "2", r2}, {meta.Deleted, "2", r3}} {
		ev := nextEvent(t, w)
		if ev.Type != want.typ || ev.Object.ResourceVersion != want.rv || ev.Object.Revision != want.rev || ev.Object.Key.String() != "default/pod/p" {
			t.Fatalf("event %s %s@%s rev %d, want %s @%s rev %d", ev.Type, ev.Object.Key, ev.Object.ResourceVersion, ev.Object.Revision, want.typ, want.rv, want.rev)
		}
	}
	select {
	case ev := <-w.Events():
		t.Fatalf("unexpected event %+v", ev)
	default:
	}
	w.Stop()
	w.Stop()
	if _, ok := <-w.Events(); ok || w.Err() != nil {
		t.Fatalf("after Stop: channel open or Err %v", w.Err())
	}
	// A watch ends with its context.
	cctx, cancel := context.WithCancel(ctx)
	w2, err := s.Watch(cctx, meta.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	for range w2.Events() {
	}
	if !errors.Is(w2.Err(), context.Canceled) {
		t.Fatalf("Err after cancel: %v", w2.Err())
	}
}

func confWatchSince(t *testing.T, s meta.Store) {
	ctx := context.Background()
	mustPut(t, s, "default/pod/a", "1", confObj("a", nil, "1"))
	res, err := s.List(ctx, meta.ListOptions{Kind: hub.KindPod})
	if err != nil {
		t.Fatal(err)
	}
	rb := mustPut(t, s, "default/pod/b", "1", confObj("b", nil, "1")) // after the list, before the watch
	w, err := s.Watch(ctx, meta.WatchOptions{Kind: hub.KindPod, Since: res.Revision})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	rc := mustPut(t, s, "default/pod/c", "1", confObj("c", nil, "1"))
	if ev := nextEvent(t, w); ev.Object.Key.Name != "b" || ev.Object.Revision != rb || ev.Type != meta.Added {
		t.Fatalf("first event %+v, want b at %d", ev, rb)
	}
	if ev := nextEvent(t, w); ev.Object.Key.Name != "c" || ev.Object.Revision != rc {
		t.Fatalf("second event %+v, want c at %d", ev, rc)
	}
}

func confDigest(t *testing.T, s meta.Store) {
	ctx := context.Background()
	mustPut(t, s, "default/pod/a", "11", confObj("a", nil, "11"))
	mustPut(t, s, "/node/n", "12", confObj("n", nil, "12"))
	mustPut(t, s, "default/device/d", "x1", confObj("d", nil, "x1"))
	if _, err := s.Delete(ctx, confKey(t, "default/device/d"), ""); err != nil {
		t.Fatal(err)
	}
	d, err := s.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := hub.Digest{confKey(t, "default/pod/a"): "11", confKey(t, "/node/n"): "12"}
	if len(d) != len(want) {
		t.Fatalf("Digest = %v, want %v", d, want)
	}
	for k, rv := range want {
		if d[k] != rv {
			t.Fatalf("Digest = %v, want %v", d, want)
		}
	}
}

func confConcurrent(t *testing.T, s meta.Store) {
	ctx := context.Background()
	const writers, each = 16, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				k := hub.Key{Namespace: "default", Kind: hub.KindPod, Name: fmt.Sprintf("p-%d-%d", g, i)}
				if _, err := s.Put(ctx, k, "1", confObj(k.Name, nil, "1")); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	res, err := s.List(ctx, meta.ListOptions{Kind: hub.KindPod})
	if err != nil || len(res.Items) != writers*each {
		t.Fatalf("List: %d items, %v; want %d", len(res.Items), err, writers*each)
	}
	seen := map[int64]bool{}
	for _, o := range res.Items {
		if seen[o.Revision] {
			t.Fatalf("revision %d given twice", o.Revision)
		}
		seen[o.Revision] = true
	}
}

func confClose(t *testing.T, s meta.Store) {
	ctx := context.Background()
	mustPut(t, s, "default/pod/a", "1", confObj("a", nil, "1"))
	w, err := s.Watch(ctx, meta.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for range w.Events() {
	}
	if !errors.Is(w.Err(), meta.ErrClosed) {
		t.Fatalf("watch after Close: %v", w.Err())
	}
	if _, err := s.Put(ctx, confKey(t, "default/pod/b"), "1", confObj("b", nil, "1")); !errors.Is(err, meta.ErrClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
	if _, err := s.Watch(ctx, meta.WatchOptions{}); !errors.Is(err, meta.ErrClosed) {
		t.Fatalf("Watch after Close: %v", err)
	}
	if _, err := s.Get(ctx, confKey(t, "default/pod/a")); err == nil {
		t.Fatal("Get after Close succeeded")
	}
}
